package dev.lifeline.internal;

import static dev.lifeline.internal.Reports.notDelivered;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.GaveUpException;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import dev.lifeline.ServerClosedException;
import dev.lifeline.TerminalFailureException;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.CompletableObserver;
import io.reactivex.rxjava3.core.Observer;
import io.reactivex.rxjava3.core.SingleObserver;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okio.ByteString;
import org.junit.jupiter.api.Test;

/**
 * Regression tests for defects found in the core, each named for the behaviour users rely on.
 * Written against the public API, the harness and the fakes only, so that they hold for any core.
 */
class CoreDefectsTest {
  private static final long OKHTTP_QUEUE_LIMIT = 16L << 20;

  private final Harness h = new Harness();

  // --- Helpers -----------------------------------------------------------------------------------

  /** "req:ID:body" goes out, "ack:ID" or "reply:ID:body" comes back, as in AcknowledgedSendTest. */
  private void correlateById() {
    h.correlation = Reports.requestsById(ofSeconds(60));
  }

  /**
   * A raw observer (not a lambda one, which would swallow the exception) that breaks the Observer
   * contract by throwing from onNext on values of {@code type}.
   */
  private static <T> Observer<T> throwingOn(Class<?> type) {
    return new Observer<T>() {
      @Override
      public void onSubscribe(Disposable d) {}

      @Override
      public void onNext(T value) {
        if (type.isInstance(value)) throw new IllegalStateException("observer bug on " + value);
      }

      @Override
      public void onError(Throwable e) {}

      @Override
      public void onComplete() {}
    };
  }

  /** ASCII, 192 bytes, numbered: a few dozen fill a small high-water mark. */
  private static String numbered(int i) {
    return String.format("m%02d ", i) + "x".repeat(188);
  }

  /** The numbers of {@link #numbered} messages, so that a failure reads "m07", not 192 bytes. */
  private static String labels(List<?> frames) {
    StringBuilder out = new StringBuilder();
    for (Object f : frames) {
      String text = f instanceof String t ? t : f.toString();
      if (out.length() > 0) out.append(' ');
      out.append(text.length() > 3 ? text.substring(0, 3) : text);
    }
    return out.toString();
  }

  /** Fails, naming the cause, if the connection dropped at any point. */
  private void assertNeverDropped(String why) {
    assertThat(h.stateHistory())
        .filteredOn(ConnectionState.WaitingToReconnect.class::isInstance)
        .as(why)
        .isEmpty();
  }

  /** Lets OkHttp's writer empty {@code fake}'s queue and Lifeline drain its outbox into it. */
  private void writeEverything(FakeWebSockets.FakeSocket fake) {
    for (int i = 0; i < 50; i++) {
      fake.writeAll();
      h.advance(ofMillis(10));
    }
  }

  // --- A backlog handed to a connection that dies ------------------------------------------------

  /**
   * Sends a backlog past the high-water mark, lets the drain hand part of it to OkHttp, kills the
   * connection with {@code death} while some of that is still unwritten, reconnects, and checks
   * that every message arrives exactly once, in send order.
   */
  private void backlogSurvives(Consumer<FakeWebSockets.FakeSocket> death) {
    h.highWaterMark = 4 << 10;
    FakeWebSockets.FakeSocket first = h.connected();
    TestObserver<NotDeliveredException> lost = h.socket.undelivered().test();
    first.queueGrows = true;
    List<String> sentInOrder = new ArrayList<>();
    List<SendResult> results = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      String m = numbered(i);
      sentInOrder.add(m);
      results.add(h.socket.send(m));
    }
    int handed = first.sent.size();
    assertThat(handed).as("sent into OkHttp's queue up to the mark").isBetween(1, 59);
    assertThat(results.subList(0, handed)).containsOnly(SendResult.SENT);
    assertThat(results.subList(handed, 60)).containsOnly(SendResult.QUEUED);

    first.writeFrames(10); // the writer takes some frames: room for the drain
    h.advance(ofMillis(10));
    assertThat(first.sent.size())
        .as("the drain handed queued messages to OkHttp")
        .isGreaterThan(handed);
    assertThat(first.unwritten()).as("some are still in OkHttp's queue").isNotEmpty();

    death.accept(first);
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket second = h.fakes.last();
    second.queueGrows = true;
    second.open();
    writeEverything(second);

    List<Object> delivered = new ArrayList<>(first.written());
    delivered.addAll(second.written());
    assertThat(labels(delivered))
        .as(
            "what the dead connection wrote, then what the next one wrote: every message once, in"
                + " send order (the dead connection still had %s in OkHttp's queue)",
            labels(first.unwritten()))
        .isEqualTo(labels(sentInOrder));
    assertThat(delivered).containsExactlyElementsOf(sentInOrder);
    lost.assertEmpty();

    assertThat(h.socket.send("new")).isIn(SendResult.SENT, SendResult.QUEUED);
    writeEverything(second);
    assertThat(second.written()).as("newer than everything before it").last().isEqualTo("new");
  }

  @Test
  void queuedMessagesHandedToAConnectionThatDropsArriveOnTheNextOnceInSendOrder() {
    backlogSurvives(FakeWebSockets.FakeSocket::drop);
  }

  @Test
  void queuedMessagesHandedToAConnectionTheHeartbeatKillsArriveOnTheNextOnceInSendOrder() {
    h.heartbeat = Heartbeat.passive(ofSeconds(10));
    backlogSurvives(
        fake -> {
          h.advance(ofSeconds(10));
          assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
        });
  }

  @Test
  void queuedMessagesHandedToAConnectionTheServerClosesArriveOnTheNextOnceInSendOrder() {
    backlogSurvives(
        fake -> {
          fake.serverClose(1001, "going away");
          assertThat(h.waiting().cause()).isInstanceOf(ServerClosedException.class);
        });
  }

  // --- A states() observer that throws -----------------------------------------------------------

  @Test
  void aStatesObserverThatThrowsOnConnectedDoesNotStopTheOutboxFromFlushing() {
    h.build();
    h.socket.states().subscribe(throwingOn(Connected.class));
    assertThat(h.socket.send("queued before connecting")).isEqualTo(SendResult.QUEUED);
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();

    assertThat(fake.sentTexts())
        .as("the outbox is flushed on Connected")
        .containsExactly("queued before connecting");
    assertThat(h.socket.send("later")).isEqualTo(SendResult.SENT);
    assertThat(fake.sentTexts()).containsExactly("queued before connecting", "later");
  }

  @Test
  void aStatesObserverThatThrowsOnFailedDoesNotKeepTheGiveUpFromSubscribersAndRequests() {
    correlateById();
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    FakeWebSockets.FakeSocket fake = h.connected();
    h.socket.states().subscribe(throwingOn(ConnectionState.Failed.class));
    TestObserver<Message> reply = h.replies.request(Message.text("req:1:question")).test();
    fake.drop();

    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Failed.class);
    h.messages.withTag("messages() errors with the give-up").assertError(GaveUpException.class);
    reply
        .withTag("a pending request fails with the give-up")
        .assertError(
            e -> notDelivered(Reason.GAVE_UP).test(e) && e.getCause() instanceof GaveUpException);
  }

  @Test
  void aStatesObserverThatThrowsOnClosedDoesNotKeepTheStreamsFromCompleting() {
    h.connected();
    h.socket.states().subscribe(throwingOn(ConnectionState.Closed.class));
    h.socket.close();

    h.messages.withTag("messages() completes on close").assertComplete();
    h.states.withTag("states() completes on close").assertComplete();
    assertThat(h.stateHistory()).last().isEqualTo(ConnectionState.CLOSED);
  }

  // --- dropOldest and the sends that wait on a message -------------------------------------------

  @Test
  void aWrittenSendDroppedFromAFullOutboxFailsAtOnce() {
    h.outbox = Outbox.bounded(2, 1_000).dropOldest();
    h.build();
    TestObserver<Void> written = h.socket.sendWritten(Message.text("oldest")).test();
    h.socket.send("two");
    h.socket.send("three"); // makes room by dropping "oldest"

    written
        .withTag("sendWritten of a message dropOldest dropped")
        .assertError(notDelivered(Reason.DROPPED_FOR_NEWER));
  }

  @Test
  void anAcknowledgedSendOrRequestDroppedFromAFullOutboxFailsAtOnceNotAtItsTimeout() {
    correlateById();
    h.outbox = Outbox.bounded(2, 1_000).dropOldest();
    h.build();
    TestObserver<Void> acked = h.replies.sendAcknowledged(Message.text("req:1:a")).test();
    TestObserver<Message> reply = h.replies.request(Message.text("req:2:b")).test();
    h.socket.send("three"); // drops req:1
    h.socket.send("four"); // drops req:2

    acked
        .withTag("sendAcknowledged of a message dropOldest dropped, well before its 60 s timeout")
        .assertError(notDelivered(Reason.DROPPED_FOR_NEWER));
    reply
        .withTag("request of a message dropOldest dropped, well before its 60 s timeout")
        .assertError(notDelivered(Reason.DROPPED_FOR_NEWER));
  }

  @Test
  void dropOldestDropsMessagesNotYetSentBeforeARetransmissionOfAnUnacknowledgedOne() {
    correlateById();
    h.outbox = Outbox.bounded(2, 1_000_000).dropOldest();
    h.highWaterMark = 4 << 10;
    String auth = "auth:" + "a".repeat(4091); // exactly the high-water mark
    h.onReady =
        session -> {
          session.send(auth);
          return Completable.complete();
        };
    FakeWebSockets.FakeSocket first = h.connected();
    TestObserver<Void> acked = h.replies.sendAcknowledged(Message.text("req:1:order")).test();
    first.drop(); // no ack: req:1 is resent on the next connection
    TestObserver<NotDeliveredException> lost = h.socket.undelivered().test();
    h.socket.send("x");
    h.socket.send("y");
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket second = h.fakes.last();
    second.queueGrows = true; // the ready hook's message fills OkHttp's queue: the rest waits
    second.open();
    h.socket.send("z"); // the outbox is full: something must be dropped

    assertThat(lost.values())
        .extracting(u -> ((Message.Text) u.message()).text())
        .as("dropOldest drops the oldest message not yet sent, never the retransmission")
        .doesNotContain("req:1:order")
        .isSubsetOf("x", "y")
        .startsWith("x");
    acked.assertNoErrors();
    writeEverything(second);
    assertThat(second.sentTexts()).startsWith(auth, "req:1:order").endsWith("z");
    second.receive("ack:1");
    acked.assertComplete();
  }

  // --- Slow subscribers on the reader thread -----------------------------------------------------

  @Test
  void aSlowReplySubscriberDoesNotMakeAHealthyLinkLookDead() {
    correlateById();
    h.heartbeat = Heartbeat.passive(ofSeconds(10));
    FakeWebSockets.FakeSocket fake = h.connected();
    h.replies
        .request(Message.text("req:1:question"))
        .subscribe(reply -> h.advance(ofSeconds(30)), e -> {}); // busy for 30 s on the reader

    fake.receive("reply:1:answer");

    assertNeverDropped(
        "the reader thread was busy in the reply subscriber: the link was not silent");
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
    assertThat(fake.cancelled).isFalse();
    h.advance(ofSeconds(11)); // silence counts again once the subscriber has returned
    assertThat(h.stateHistory())
        .filteredOn(ConnectionState.WaitingToReconnect.class::isInstance)
        .extracting(s -> ((ConnectionState.WaitingToReconnect) s).cause())
        .singleElement()
        .isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void aSlowRoundTripTimeSubscriberDoesNotMakeAHealthyLinkLookDead() {
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    h.socket.roundTripTimes().subscribe(rtt -> h.advance(ofSeconds(30)));
    h.advance(ofSeconds(15));
    assertThat(fake.sentTexts()).containsExactly("ping");

    fake.receive("pong");

    assertNeverDropped(
        "the reader thread was busy in the round-trip subscriber: the link was not silent");
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
    assertThat(fake.cancelled).isFalse();
  }

  // --- Retransmissions before newer messages -----------------------------------------------------

  @Test
  void unacknowledgedMessagesAreResentBeforeMessagesSentWhenTheReconnectIsAnnounced() {
    correlateById();
    FakeWebSockets.FakeSocket first = h.connected();
    TestObserver<Void> acked = h.replies.sendAcknowledged(Message.text("req:1:order")).test();
    first.drop();
    h.socket
        .states()
        .subscribe(
            s -> {
              if (s instanceof Connected) h.socket.send("newer, sent on Connected");
            });
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket second = h.fakes.last().open();

    assertThat(second.sentTexts())
        .as("the retransmission goes first")
        .containsExactly("req:1:order", "newer, sent on Connected");
    second.receive("ack:1");
    acked.assertComplete();
  }

  // --- Completion observers that throw -----------------------------------------------------------

  @Test
  void aReplyObserverThatThrowsDoesNotEscapeIntoTheReaderOrEndTheConnection() {
    correlateById();
    FakeWebSockets.FakeSocket fake = h.connected();
    h.replies
        .request(Message.text("req:1:question"))
        .subscribe(
            new SingleObserver<Message>() {
              @Override
              public void onSubscribe(Disposable d) {}

              @Override
              public void onSuccess(Message reply) {
                throw new IllegalStateException("reply observer bug");
              }

              @Override
              public void onError(Throwable e) {}
            });

    assertThatCode(() -> fake.receive("reply:1:answer"))
        .as("OkHttp's reader thread must not see the observer's exception")
        .doesNotThrowAnyException();
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
    fake.receive("event");
    h.messages.assertValue(Message.text("event"));
  }

  @Test
  void aWrittenObserverThatThrowsDoesNotKeepOtherWrittenSendsFromCompleting() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket
        .sendWritten(Message.text("first"))
        .subscribe(
            new CompletableObserver() {
              @Override
              public void onSubscribe(Disposable d) {}

              @Override
              public void onComplete() {
                throw new IllegalStateException("written observer bug");
              }

              @Override
              public void onError(Throwable e) {}
            });
    TestObserver<Void> second = h.socket.sendWritten(Message.text("second")).test();
    assertThat(fake.sentTexts()).containsExactly("first", "second");

    assertThatCode(
            () -> {
              fake.writeAll();
              h.advance(ofMillis(10));
            })
        .doesNotThrowAnyException();
    second.withTag("a sendWritten written after one whose observer threw").assertComplete();
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
  }

  // --- The wall clock steps back -----------------------------------------------------------------

  @Test
  void aWallClockSteppedBackDuringStableAfterStillRestoresTheRetryBudget() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(2);
    FakeWebSockets.FakeSocket first = h.connected();
    first.drop();
    h.advance(h.waiting().delay());
    h.fakes.last().drop(); // the first retry fails before opening
    assertThat(h.waiting().retry()).isEqualTo(2);
    h.advance(h.waiting().delay());
    h.fakes.last().open();
    assertThat(h.socket.state()).isInstanceOf(Connected.class);

    h.scheduler.stepClock(Duration.ofHours(-1)); // NTP steps the wall clock back an hour
    h.advance(h.stableAfter.plusSeconds(1));
    h.fakes.last().drop();

    assertThat(h.socket.state())
        .as("the connection was up for stableAfter: a new outage with a new budget, not a give-up")
        .isInstanceOf(ConnectionState.WaitingToReconnect.class);
    assertThat(h.waiting().retry()).as("the retry count starts again").isEqualTo(1);
  }

  // --- Long durations ----------------------------------------------------------------------------

  @Test
  void aStableAfterOfCenturiesStillConnects() {
    h.stableAfter = Duration.ofDays(365_000);
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();

    assertThat(h.socket.state())
        .as("opened with stableAfter = 365 000 days")
        .isInstanceOf(Connected.class);
    assertThat(h.socket.send("hello")).isEqualTo(SendResult.SENT);
    assertThat(fake.sentTexts()).containsExactly("hello");
  }

  @Test
  void aRetryDelayOfLongMaxValueSecondsStillWaitsToReconnect() {
    h.retryPolicy = context -> Optional.of(Duration.ofSeconds(Long.MAX_VALUE));
    h.connected().drop();

    assertThat(h.socket.state())
        .as("a drop leaves Connected whatever the delay")
        .isInstanceOf(ConnectionState.WaitingToReconnect.class);
    h.advance(Duration.ofDays(365));
    assertThat(h.fakes.count()).as("no retry within a year").isEqualTo(1);
  }

  @Test
  void anExponentialBackoffCappedAtCenturiesStillRetries() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), Duration.ofDays(365_000)).jitter(0);
    h.connected().drop();

    assertThat(h.socket.state())
        .as("Backoff.exponential(1 s, 365 000 days): the first retry waits 1 s")
        .isInstanceOf(ConnectionState.WaitingToReconnect.class);
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(1));
  }

  // --- Requests that can never work --------------------------------------------------------------

  @Test
  void aRequestSupplierReturningNullFailsTerminallyAtOnce() {
    h.requests = () -> null;
    h.build();
    h.socket.connect();

    assertThat(h.socket.state())
        .as("a null request is a bug in the supplier: retrying cannot help")
        .isInstanceOf(ConnectionState.Failed.class);
    assertThat(h.failed().cause())
        .isInstanceOf(TerminalFailureException.class)
        .hasMessageContaining("null");
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).isZero();
  }

  @Test
  void aRequestSupplierReturningANonGetRequestFailsTerminallyAtOnce() {
    h.requests =
        () ->
            new Request.Builder()
                .url("http://example.test/feed")
                .post(RequestBody.create("{}", MediaType.get("application/json")))
                .build();
    h.build();
    h.socket.connect();

    assertThat(h.socket.state())
        .as("OkHttp refuses a non-GET WebSocket request at once: nothing to wait or retry for")
        .isInstanceOf(ConnectionState.Failed.class);
    assertThat(h.failed().cause())
        .isInstanceOf(TerminalFailureException.class)
        .hasMessageContaining("GET");
  }

  // --- Backpressure across a reconnect (real threads) --------------------------------------------

  /** Waits (bounded) until {@code t} is parked, blocked or done; returns that state. */
  private static Thread.State awaitParkedOrDone(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Thread.State s = t.getState();
    while (System.nanoTime() < deadline && (s == Thread.State.NEW || s == Thread.State.RUNNABLE)) {
      t.join(1);
      s = t.getState();
    }
    return s;
  }

  @Test
  void aSlowSubscriberPushesBackOnTheNextConnectionsReaderAfterAReconnect() throws Exception {
    FakeWebSockets.FakeSocket a = h.connected();
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger mostAtOnce = new AtomicInteger();
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    h.socket
        .messages()
        .subscribe(
            m -> {
              mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
              try {
                String text = ((Message.Text) m).text();
                seen.add(text);
                if (text.equals("a1")) {
                  inside.countDown();
                  release.await(10, TimeUnit.SECONDS);
                }
              } finally {
                running.decrementAndGet();
              }
            });
    Thread readerA = new Thread(() -> a.receive("a1"), "reader of connection A");
    readerA.start();
    assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();

    a.drop();
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket b = h.fakes.last().open();
    Thread readerB = new Thread(() -> b.receive("b1"), "reader of connection B");
    readerB.start();
    Thread.State stateOfB;
    try {
      stateOfB = awaitParkedOrDone(readerB);
    } finally {
      release.countDown();
      readerA.join(10_000);
      readerB.join(10_000);
    }

    assertThat(stateOfB)
        .as(
            "B's reader must be pushed back while the subscriber is still busy with A's message,"
                + " not return at once")
        .isNotEqualTo(Thread.State.TERMINATED);
    assertThat(readerA.isAlive()).isFalse();
    assertThat(readerB.isAlive()).isFalse();
    assertThat(seen).containsExactly("a1", "b1");
    assertThat(mostAtOnce.get()).as("deliveries never overlap").isEqualTo(1);
  }

  // --- A messages() observer that throws ---------------------------------------------------------

  @Test
  void aMessagesObserverThatThrowsDoesNotKeepTheMessageFromLaterSubscribers() {
    FakeWebSockets.FakeSocket fake = h.connected();
    h.socket.messages().subscribe(throwingOn(Message.class));
    TestObserver<Message> after = h.socket.messages().test();

    fake.receive("one").receive("two");

    after
        .withTag("a subscriber after one that throws")
        .assertValues(Message.text("one"), Message.text("two"));
  }

  // --- Sends that bypass the outbox --------------------------------------------------------------

  @Test
  void aHeartbeatPingNeverTakesOkHttpsQueuePastItsLimit() {
    h.highWaterMark = OKHTTP_QUEUE_LIMIT;
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    ByteString oneMiB = ByteString.of(new byte[1 << 20]);
    for (int i = 0; i < 16; i++) {
      assertThat(h.socket.send(oneMiB)).isIn(SendResult.SENT, SendResult.QUEUED);
    }
    // At the mark (Lifeline keeps a little under OkHttp's limit free for pings), nothing written.
    assertThat(fake.queueSize).isBetween(OKHTTP_QUEUE_LIMIT - (1 << 20), OKHTTP_QUEUE_LIMIT);

    h.advance(ofSeconds(15)); // the heartbeat is due
    fake.writeFrames(1);
    h.advance(ofMillis(10));

    assertThat(fake.maxQueueSize)
        .as("OkHttp closes the connection (1001) when its queue would pass 16 MiB")
        .isLessThanOrEqualTo(OKHTTP_QUEUE_LIMIT);
  }

  @Test
  void readyHookSessionSendsNeverTakeOkHttpsQueuePastItsLimit() {
    h.highWaterMark = OKHTTP_QUEUE_LIMIT;
    ByteString oneMiB = ByteString.of(new byte[1 << 20]);
    AtomicInteger accepted = new AtomicInteger();
    h.onReady =
        session -> {
          for (int i = 0; i < 17; i++) if (session.send(oneMiB)) accepted.incrementAndGet();
          return Completable.complete();
        };
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last();
    fake.queueGrows = true;
    fake.open();

    assertThat(fake.maxQueueSize)
        .as("OkHttp closes the connection (1001) when its queue would pass 16 MiB")
        .isLessThanOrEqualTo(OKHTTP_QUEUE_LIMIT);
    writeEverything(fake);
    assertThat(fake.written()).as("what the session accepted goes out").hasSize(accepted.get());
    assertThat(fake.maxQueueSize).isLessThanOrEqualTo(OKHTTP_QUEUE_LIMIT);
  }

  // --- A send racing a heartbeat kill ------------------------------------------------------------

  @Test
  void aSendRacingAHeartbeatKillIsQueuedForTheNextConnectionNotLost() {
    h.heartbeat = Heartbeat.passive(ofSeconds(10));
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last();
    fake.sendsAfterCancel = true; // OkHttp accepts sends until the cancel's failure is processed
    AtomicReference<SendResult> raced = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean();
    h.socket
        .states()
        .subscribe(
            s -> {
              if (s instanceof Connected && once.compareAndSet(false, true)) {
                // While the socket is busy announcing Connected, the heartbeat times out and
                // kills the link; the end of the link is not processed yet when the send comes.
                h.advance(ofSeconds(10));
                raced.set(h.socket.send("raced"));
              }
            });
    fake.open();
    assertThat(fake.cancelled).as("the heartbeat killed the link").isTrue();

    assertThat(raced.get())
        .as("a send into a link already killed is lost: it must wait for the next one")
        .isEqualTo(SendResult.QUEUED);
    h.advance(h.waiting().delay());
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("raced");
  }

  // --- User code in the heartbeat, and written-waiters on disconnect() ---------------------------

  @Test
  void aPongMatcherThatThrowsDeliversTheMessageAndKeepsTheConnection() {
    h.heartbeat =
        Heartbeat.application(
            ofSeconds(15),
            ofSeconds(10),
            () -> Message.text("ping"),
            m -> {
              throw new IllegalStateException("matcher bug");
            });
    FakeWebSockets.FakeSocket fake = h.connected();
    assertThatCode(() -> fake.receive("hello"))
        .as("OkHttp's reader must not see the matcher's exception")
        .doesNotThrowAnyException();
    h.messages.assertValues(Message.text("hello"));
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
  }

  @Test
  void aPingSupplierThatThrowsDoesNotEscapeIntoTheSchedulerAndSilenceIsStillCaught() {
    h.heartbeat =
        Heartbeat.application(
            ofSeconds(15),
            ofSeconds(10),
            () -> {
              throw new IllegalStateException("ping bug");
            },
            m -> false);
    h.connected();
    assertThatCode(() -> h.advance(ofSeconds(15)))
        .as("the scheduler's thread must not see the supplier's exception")
        .doesNotThrowAnyException();
    assertThat(h.socket.state()).isInstanceOf(Connected.class);
    h.advance(ofSeconds(10)); // no ping could go out, and nothing came in: the link is silent
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void aWrittenSendStillInOkHttpsQueueAtDisconnectCompletesWhenTheGracefulCloseWritesIt() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<Void> written = h.socket.sendWritten(Message.text("bye")).test();
    h.socket.disconnect(); // a graceful close: OkHttp writes its queue before the close frame
    written.assertNotComplete().assertNoErrors();
    fake.writeAll();
    h.advance(ofMillis(10));
    written.assertComplete();
  }

  // --- A terminal signal raised from inside a messages() observer --------------------------------

  @Test
  void closeCalledFromAMessagesObserverEndsTheStreamOnlyAfterEverySubscriberHasTheMessage() {
    h.build();
    AtomicBoolean inside = new AtomicBoolean();
    AtomicBoolean terminalInsideOnNext = new AtomicBoolean();
    List<String> first = new ArrayList<>();
    h.socket
        .messages()
        .subscribe(
            new Observer<Message>() {
              @Override
              public void onSubscribe(Disposable d) {}

              @Override
              public void onNext(Message m) {
                inside.set(true);
                first.add(((Message.Text) m).text());
                if (((Message.Text) m).text().equals("bye")) h.socket.close();
                inside.set(false);
              }

              @Override
              public void onError(Throwable e) {
                if (inside.get()) terminalInsideOnNext.set(true);
              }

              @Override
              public void onComplete() {
                if (inside.get()) terminalInsideOnNext.set(true);
              }
            });
    TestObserver<Message> second = h.socket.messages().test();
    h.socket.connect();
    h.fakes.last().open().receive("hello").receive("bye");
    assertThat(first).containsExactly("hello", "bye");
    // Was: close() inside the first observer's onNext completed every subscriber at once, so the
    // second one never got "bye", and the first was completed while still inside onNext.
    second.assertValueCount(2).assertComplete();
    assertThat(terminalInsideOnNext).as("onComplete re-entered onNext").isFalse();
    assertThat(h.messages.values()).hasSize(2);
    h.messages.assertComplete();
  }
}
