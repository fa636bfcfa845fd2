package dev.lifeline.internal;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.ReadyHookException;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.observers.TestObserver;
import io.reactivex.rxjava3.subjects.CompletableSubject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import okio.ByteString;
import org.junit.jupiter.api.Test;

class LifecycleTest {
  private final Harness h = new Harness();

  @Test
  void aTimerAStateImpliesIsAlreadyScheduledWhenTheStateIsAnnounced() {
    // A test in virtual time reacts to a state by advancing the clock: the retry, attempt and
    // health timers must be there by then, or the advance passes them by and the socket stalls.
    h.stableAfter = ofSeconds(3);
    h.build();
    List<String> seen = new ArrayList<>();
    h.socket
        .states()
        .subscribe(
            s -> {
              seen.add(s.getClass().getSimpleName());
              if (s instanceof ConnectionState.WaitingToReconnect w) h.advance(w.delay());
              if (s instanceof ConnectionState.Connected) h.advance(ofSeconds(3));
            });
    h.socket.connect();
    h.fakes.last().open();
    assertThat(h.scheduler.pendingTasks())
        .as("health checked at stableAfter, not pending")
        .isZero();
    h.fakes.last().drop();
    assertThat(h.fakes.count()).as("the retry fired inside the advance").isEqualTo(2);
    assertThat(seen).endsWith("WaitingToReconnect", "Connecting");
  }

  @Test
  void subscribeThenConnectSeesTheFirstMessage() {
    h.build();
    TestObserver<Message> early = h.socket.messages().test();
    h.socket.connect();
    h.fakes.last().open().receive("first").receive(ByteString.of((byte) 1, (byte) 2));
    early.assertValues(Message.text("first"), Message.binary(ByteString.of((byte) 1, (byte) 2)));
  }

  @Test
  void connectTwiceOpensOneSocket() {
    h.build();
    h.socket.connect();
    h.socket.connect();
    assertThat(h.fakes.count()).isEqualTo(1);
    h.fakes.last().open();
    h.socket.connect();
    assertThat(h.fakes.count()).isEqualTo(1);
    h.fakes.last().drop();
    h.socket.connect(); // waiting to reconnect: still the same episode
    assertThat(h.fakes.count()).isEqualTo(1);
  }

  @Test
  void statesReplayTheCurrentStateToNewSubscribers() {
    h.connected();
    TestObserver<ConnectionState> late = h.socket.states().test();
    assertThat(late.values()).singleElement().isInstanceOf(ConnectionState.Connected.class);
  }

  @Test
  void disconnectClosesGracefullyAndStopsReconnecting() {
    FakeWebSockets.FakeSocket fake = h.connected();
    h.socket.disconnect();
    assertThat(fake.closeCode).isEqualTo(1000);
    assertThat(fake.cancelled).isFalse();
    assertThat(h.socket.state()).isEqualTo(ConnectionState.IDLE);
    fake.fail(new java.io.IOException("late failure of the closed connection"));
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).isEqualTo(1);
    assertThat(h.socket.state()).isEqualTo(ConnectionState.IDLE);
    assertThat(h.scheduler.pendingTasks()).isZero();

    h.socket.connect();
    assertThat(h.fakes.count()).as("can connect again").isEqualTo(2);
  }

  @Test
  void disconnectWhileWaitingCancelsTheRetry() {
    h.connected().drop();
    h.socket.disconnect();
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).isEqualTo(1);
    assertThat(h.socket.state()).isEqualTo(ConnectionState.IDLE);
  }

  @Test
  void sendsWhileNotConnectedWaitInTheOutboxAndGoOutInOrderOnceConnected() {
    h.build();
    assertThat(h.socket.send("before connect")).isEqualTo(SendResult.QUEUED);
    h.socket.connect();
    assertThat(h.socket.send("while connecting")).isEqualTo(SendResult.QUEUED);
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(fake.sent).containsExactly("before connect", "while connecting");
    assertThat(h.socket.send("hello")).isEqualTo(SendResult.SENT);
    assertThat(h.socket.send(ByteString.encodeUtf8("bin"))).isEqualTo(SendResult.SENT);
    assertThat(fake.sent).endsWith("hello", ByteString.encodeUtf8("bin"));
    fake.drop();
    assertThat(h.socket.send("while down")).isEqualTo(SendResult.QUEUED);
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket next = h.fakes.last().open();
    assertThat(next.sent).containsExactly("while down");
  }

  @Test
  void closeCompletesBothStreamsAndLeavesNoScheduledTask() {
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Duration> rtts = h.socket.roundTripTimes().test();
    assertThat(h.scheduler.pendingTasks()).as("heartbeat and health timers run").isPositive();

    h.socket.close();

    h.states.assertComplete();
    assertThat(h.stateHistory()).last().isEqualTo(ConnectionState.CLOSED);
    h.messages.assertComplete().assertNoErrors();
    rtts.assertComplete();
    assertThat(fake.closeCode).isEqualTo(1000);
    assertThat(h.scheduler.pendingTasks()).isZero();
    fake.receive("after close");
    h.messages.assertNoValues();
    assertThatThrownBy(h.socket::connect).isInstanceOf(IllegalStateException.class);
    h.socket.close(); // idempotent
    assertThat(h.stateHistory()).filteredOn(s -> s == ConnectionState.CLOSED).hasSize(1);
  }

  @Test
  void closeWhileWaitingOrConnectingLeavesNoScheduledTask() {
    h.build();
    h.socket.connect();
    assertThat(h.scheduler.pendingTasks()).as("attempt deadline").isEqualTo(1);
    h.fakes.last().drop();
    assertThat(h.scheduler.pendingTasks()).as("retry timer").isEqualTo(1);
    h.socket.close();
    assertThat(h.scheduler.pendingTasks()).isZero();
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).isEqualTo(1);
  }

  @Test
  void readyHookRunsBeforeConnectedAndCanSendOnTheSession() {
    CompletableSubject ready = CompletableSubject.create();
    List<String> order = new ArrayList<>();
    h.onReady =
        session -> {
          order.add("hook, state " + h.socket.state());
          session.send("auth");
          return ready;
        };
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(h.socket.state()).isEqualTo(new Connecting(0));
    assertThat(fake.sent).containsExactly("auth");
    assertThat(h.socket.send("app message"))
        .as("held until the hook completes")
        .isEqualTo(SendResult.QUEUED);
    assertThat(fake.sent).containsExactly("auth");

    ready.onComplete();
    assertThat(fake.sent)
        .as("the outbox flushes after the ready hook")
        .containsExactly("auth", "app message");
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(order).containsExactly("hook, state Connecting(retry=0)");
  }

  @Test
  void readyHookSeesInboundMessagesOfItsConnection() {
    h.onReady =
        session ->
            session
                .messages()
                .filter(m -> m.equals(Message.text("auth-ok")))
                .firstOrError()
                .ignoreElement();
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    fake.receive("welcome");
    assertThat(h.socket.state()).isInstanceOf(Connecting.class);
    fake.receive("auth-ok");
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.messages.assertValues(Message.text("welcome"), Message.text("auth-ok"));
  }

  @Test
  void aFailingReadyHookIsAFailedAttempt() {
    h.onReady = session -> Completable.error(new IllegalStateException("subscribe refused"));
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(h.waiting().cause())
        .isInstanceOf(ReadyHookException.class)
        .hasRootCauseMessage("subscribe refused");
    assertThat(fake.cancelled).isTrue();
  }

  @Test
  void aThrowingReadyHookIsAFailedAttempt() {
    h.onReady =
        session -> {
          throw new IllegalArgumentException("bug in hook");
        };
    h.build();
    h.socket.connect();
    h.fakes.last().open();
    assertThat(h.waiting().cause()).isInstanceOf(ReadyHookException.class);
  }

  @Test
  void oneDeadlineCoversTheWholeAttempt() {
    h.build();
    h.socket.connect();
    h.advanceMillis(19_999);
    assertThat(h.socket.state()).isInstanceOf(Connecting.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause())
        .isInstanceOf(AttemptTimeoutException.class)
        .hasMessageContaining("20s")
        .hasMessageContaining("upgrade");
    assertThat(h.fakes.last().cancelled).isTrue();
  }

  @Test
  void theAttemptDeadlineIncludesTheReadyHook() {
    h.onReady = session -> Completable.never();
    h.build();
    h.socket.connect();
    h.advance(ofSeconds(15));
    h.fakes.last().open(); // the upgrade took 15 s; the hook has 5 s left
    h.advanceMillis(4_999);
    assertThat(h.socket.state()).isInstanceOf(Connecting.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause())
        .isInstanceOf(AttemptTimeoutException.class)
        .hasMessageContaining("ready hook");
  }

  @Test
  void callbacksFromAnAbandonedAttemptAreIgnored() {
    h.build();
    h.socket.connect();
    FakeWebSockets.FakeSocket stale = h.fakes.last();
    h.advance(ofSeconds(20)); // times out; the socket moves on
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket fresh = h.fakes.last().open();
    List<ConnectionState> before = new ArrayList<>(h.stateHistory());

    stale.open();
    stale.receive("from the past");
    stale.fail(new java.io.IOException("late"));
    stale.serverClose(1008, "late");

    assertThat(h.stateHistory()).isEqualTo(before);
    h.messages.assertNoValues();
    assertThat(stale.cancelled).isTrue();
    fresh.receive("now");
    h.messages.assertValue(Message.text("now"));
  }

  @Test
  void aSubscriberThatThrowsDoesNotKillTheConnection() {
    FakeWebSockets.FakeSocket fake = h.connected();
    List<Message> seen = new ArrayList<>();
    h.socket
        .messages()
        .subscribe(
            new io.reactivex.rxjava3.core.Observer<Message>() {
              @Override
              public void onSubscribe(io.reactivex.rxjava3.disposables.Disposable d) {}

              @Override
              public void onNext(Message m) {
                seen.add(m);
                throw new IllegalStateException("subscriber bug");
              }

              @Override
              public void onError(Throwable e) {}

              @Override
              public void onComplete() {}
            });
    fake.receive("one").receive("two");
    assertThat(seen).hasSize(2);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
  }
}
