package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.observers.TestObserver;
import java.util.ArrayList;
import java.util.List;
import okio.ByteString;
import org.junit.jupiter.api.Test;

/** Sends while the link is down or busy: held, bounded, in order, and never lost silently. */
class OutboxTest {
  private final Harness h = new Harness();

  private TestObserver<NotDeliveredException> undelivered() {
    return h.socket.undelivered().test();
  }

  @Test
  void queuedMessagesGoOutInSendOrderAcrossSeveralReconnects() {
    h.build();
    h.socket.connect();
    List<String> expected = new ArrayList<>();
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 5; i++) {
        String m = "round " + round + " message " + i;
        expected.add(m);
        assertThat(h.socket.send(m)).isEqualTo(SendResult.QUEUED);
      }
      h.fakes.last().fail(new java.io.IOException("never opened"));
      h.advance(h.waiting().delay());
    }
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(fake.sentTexts()).isEqualTo(expected);
    assertThat(h.socket.send("after")).isEqualTo(SendResult.SENT);
  }

  @Test
  void aFullOutboxRefusesNewMessagesAndSaysSo() {
    h.outbox = Outbox.bounded(2, 1_000);
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    assertThat(h.socket.send("one")).isEqualTo(SendResult.QUEUED);
    assertThat(h.socket.send("two")).isEqualTo(SendResult.QUEUED);
    assertThat(h.socket.send("three")).isEqualTo(SendResult.REJECTED_OUTBOX_FULL);
    assertThat(h.socket.send(ByteString.of(new byte[1_001])))
        .as("larger than the whole outbox: no wait could make room")
        .isEqualTo(SendResult.REJECTED_TOO_LARGE);
    lost.assertEmpty(); // a refused message is told to the sender, not reported again

    h.socket.connect();
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("one", "two");
  }

  @Test
  void theByteLimitCountsUtf8Bytes() {
    h.outbox = Outbox.bounded(100, 6);
    h.build();
    assertThat(h.socket.send("€€")).isEqualTo(SendResult.QUEUED); // 6 bytes
    assertThat(h.socket.send("x")).isEqualTo(SendResult.REJECTED_OUTBOX_FULL);
  }

  @Test
  void dropOldestMakesRoomAndReportsWhatItDropped() {
    h.outbox = Outbox.bounded(2, 1_000).dropOldest();
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.send("one");
    h.socket.send("two");
    assertThat(h.socket.send("three")).isEqualTo(SendResult.QUEUED);

    lost.assertValueCount(1);
    assertThat(lost.values().get(0).message()).isEqualTo(Message.text("one"));
    assertThat(lost.values().get(0).reason()).isEqualTo(Reason.DROPPED_FOR_NEWER);
    h.socket.connect();
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("two", "three");
  }

  @Test
  void expiredMessagesAreReportedAtExpiryAndNeverSentLate() {
    h.outbox = Outbox.defaults().timeToLive(ofSeconds(5));
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.send("stale");
    h.advance(ofSeconds(3));
    h.socket.send("fresh");
    h.advanceMillis(1_999);
    lost.assertEmpty();
    h.advanceMillis(1);

    lost.assertValueCount(1);
    assertThat(lost.values().get(0).message()).isEqualTo(Message.text("stale"));
    assertThat(lost.values().get(0).reason()).isEqualTo(Reason.EXPIRED);
    assertThat(lost.values().get(0))
        .hasMessage(
            "expired in the outbox after its time-to-live of 5s without a connection to send it on");
    h.socket.connect();
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("fresh");
  }

  @Test
  void givingUpReportsEveryQueuedMessageWithTheGiveUp() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.connect();
    h.socket.send("a");
    h.socket.send("b");
    h.fakes.last().drop();

    assertThat(lost.values())
        .extracting(NotDeliveredException::message)
        .containsExactly(Message.text("a"), Message.text("b"));
    assertThat(lost.values())
        .allSatisfy(
            u -> {
              assertThat(u.reason()).isEqualTo(Reason.GAVE_UP);
              assertThat(u).hasCauseInstanceOf(RetriesExhaustedException.class);
            });
    h.socket.connect();
    assertThat(h.fakes.last().open().sent).as("nothing resent after the give-up").isEmpty();
  }

  @Test
  void aSendWhileFailedIsQueuedUntilTheNextConnect() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.connect();
    h.fakes.last().drop();
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Failed.class);

    assertThat(h.socket.send("after the give-up")).isEqualTo(SendResult.QUEUED);
    h.advance(ofSeconds(60));
    lost.assertEmpty(); // it waits: nothing sends it, nothing reports it

    h.socket.connect();
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("after the give-up");
  }

  @Test
  void aSendWhileFailedIsReportedByClose() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.connect();
    h.fakes.last().drop();
    assertThat(h.socket.send("after the give-up")).isEqualTo(SendResult.QUEUED);

    h.socket.close();

    assertThat(lost.values())
        .extracting(NotDeliveredException::message)
        .containsExactly(Message.text("after the give-up"));
    assertThat(lost.values().get(0).reason()).isEqualTo(Reason.CLOSED);
  }

  @Test
  void closeReportsQueuedMessagesThenRefusesSends() {
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    h.socket.send("waiting");
    h.socket.close();

    lost.assertValueCount(1).assertComplete();
    assertThat(lost.values().get(0).reason()).isEqualTo(Reason.CLOSED);
    assertThat(h.socket.send("later")).isEqualTo(SendResult.REJECTED_CLOSED);
    assertThat(h.scheduler.pendingTasks()).isZero();
  }

  @Test
  void disconnectKeepsQueuedMessagesForTheNextConnect() {
    h.build();
    h.socket.connect();
    h.socket.send("kept");
    h.socket.disconnect();
    h.socket.connect();
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("kept");
  }

  @Test
  void theHighWaterMarkKeepsOkHttpsQueueBoundedDuringASlowDrain() {
    h.highWaterMark = 2L << 20;
    h.outbox = Outbox.bounded(1_000, 128L << 20);
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    ByteString oneMiB = ByteString.of(new byte[1 << 20]);
    List<SendResult> results = new ArrayList<>();
    for (int i = 0; i < 64; i++) results.add(h.socket.send(oneMiB)); // 64 MiB at once

    assertThat(results.subList(0, 2)).containsOnly(SendResult.SENT);
    assertThat(results.subList(2, 64)).containsOnly(SendResult.QUEUED);
    for (int tick = 0; tick < 2_000 && fake.sent.size() < 64; tick++) {
      long before = fake.queueSize;
      fake.queueSize = Math.max(0, before - (256 << 10)); // the link drains 256 KiB per 10 ms
      h.activity.onWrite((int) (before - fake.queueSize));
      h.advance(ofMillis(10));
    }
    assertThat(fake.sent).hasSize(64);
    assertThat(fake.maxQueueSize)
        .as("never near OkHttp's 16 MiB limit")
        .isLessThanOrEqualTo(2L << 20);
  }

  @Test
  void sendsWellUnderTheHighWaterMarkDoNotAskOkHttpForItsQueueEachTime() {
    h.highWaterMark = 1L << 20;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true; // nothing is written: every send stays in OkHttp's queue
    ByteString oneKiB = ByteString.of(new byte[1024]);
    int before = fake.queueSizeCalls;
    for (int i = 0; i < 1024; i++) assertThat(h.socket.send(oneKiB)).isEqualTo(SendResult.SENT);

    assertThat(fake.queueSizeCalls - before)
        .as("looks at OkHttp's queue only when the room it knew of is used up")
        .isLessThanOrEqualTo(2);
    assertThat(h.socket.send(oneKiB))
        .as("the mark is reached: OkHttp's queue is asked and the message waits")
        .isEqualTo(SendResult.QUEUED);
    assertThat(fake.maxQueueSize).isEqualTo(1L << 20);
  }

  @Test
  void aMessageLargerThanOkHttpCanSendIsRefusedOnceAndNeverResent() {
    h.build();
    TestObserver<NotDeliveredException> lost = undelivered();
    ByteString tooLarge = ByteString.of(new byte[(16 << 20) + 1]);
    assertThat(h.socket.send(tooLarge)).isEqualTo(SendResult.REJECTED_TOO_LARGE);
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    fake.drop();
    h.advance(h.waiting().delay());
    h.fakes.last().open();
    assertThat(fake.sent).isEmpty();
    assertThat(h.fakes.last().sent).isEmpty();
    lost.assertEmpty();
  }

  @Test
  void aSubscriberMaySendFromInsideOnNextOnTheReaderThread() {
    FakeWebSockets.FakeSocket fake = h.connected();
    h.socket.messages().subscribe(m -> h.socket.send("reply to " + ((Message.Text) m).text()));
    fake.receive("question");
    assertThat(fake.sentTexts()).containsExactly("reply to question");
  }

  @Test
  void aMessageOkHttpRefusesAsItClosesWaitsForTheNextConnection() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.accepting = false; // OkHttp is closing this connection: send() returns false
    assertThat(h.socket.send("not lost")).isEqualTo(SendResult.QUEUED);
    fake.drop();
    h.advance(h.waiting().delay());
    assertThat(h.fakes.last().open().sentTexts()).containsExactly("not lost");
  }

  @Test
  void aRefusedSendLeavesATraceInTheLogSayingWhy() throws Exception {
    // Was: REJECTED_TOO_LARGE and REJECTED_OUTBOX_FULL logged nothing, even at DEBUG.
    h.outbox = Outbox.bounded(1, 1_000);
    h.build();
    java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.err;
    System.setErr(new java.io.PrintStream(buffer, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      assertThat(h.socket.send("one")).isEqualTo(SendResult.QUEUED);
      assertThat(h.socket.send("two")).isEqualTo(SendResult.REJECTED_OUTBOX_FULL);
      assertThat(h.socket.send(ByteString.of(new byte[1_001])))
          .isEqualTo(SendResult.REJECTED_TOO_LARGE);
    } finally {
      System.setErr(original);
    }
    String log = buffer.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(log)
        .contains("DEBUG")
        .contains("REJECTED_OUTBOX_FULL")
        .contains("REJECTED_TOO_LARGE");
  }
}
