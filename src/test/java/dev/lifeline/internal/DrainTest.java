package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * How the outbox follows OkHttp's queue: OkHttp's writer writes a frame to the socket, and only
 * then takes it out of its queue. These tests step the fake writer through those two moments
 * separately, the way the real one goes through them.
 */
class DrainTest {
  private final Harness h = new Harness();

  /** The writer's bytes for one frame reach the socket; the frame is still counted as queued. */
  private void bytesOut(FakeWebSockets.FakeSocket fake, int bytes) {
    synchronized (fake) {
      h.activity.onWrite(bytes);
    }
  }

  /** Then the writer takes the oldest frame, of {@code size} bytes, out of its queue. */
  private static void countedOut(FakeWebSockets.FakeSocket fake, long size) {
    synchronized (fake) {
      fake.writtenCount++;
      fake.queueSize -= size;
    }
  }

  @Test
  void aDrainThatRunsBeforeOkHttpCountsOutItsLastFrameLooksAgainSoTheOutboxIsNotLeftBehind() {
    h.highWaterMark = 100;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    assertThat(h.socket.send("a".repeat(30))).isEqualTo(SendResult.SENT);
    assertThat(h.socket.send("d".repeat(30))).isEqualTo(SendResult.SENT);
    assertThat(h.socket.send("b".repeat(90))).isEqualTo(SendResult.QUEUED);
    h.advance(Duration.ZERO);
    bytesOut(fake, 36);
    h.advance(Duration.ZERO);
    countedOut(fake, 30);
    bytesOut(fake, 36); // the last frame's bytes leave...
    h.advance(Duration.ZERO); // ...and the drain they wake runs before OkHttp counts it out
    assertThat(fake.sentTexts()).hasSize(2);

    countedOut(fake, 30); // no write follows this
    h.advance(ofMillis(1));
    assertThat(fake.sentTexts()).containsExactly("a".repeat(30), "d".repeat(30), "b".repeat(90));
  }

  @Test
  void aMessageLargerThanTheMarkGoesOnceTheLastFrameAheadOfItIsCountedOut() {
    h.highWaterMark = 100;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("a".repeat(30));
    h.socket.send("d".repeat(30));
    assertThat(h.socket.send("c".repeat(150))).isEqualTo(SendResult.QUEUED);
    h.advance(Duration.ZERO);
    bytesOut(fake, 36);
    h.advance(Duration.ZERO);
    countedOut(fake, 30);
    bytesOut(fake, 36);
    h.advance(Duration.ZERO);
    countedOut(fake, 30);
    h.advance(ofMillis(1));
    assertThat(fake.sentTexts()).containsExactly("a".repeat(30), "d".repeat(30), "c".repeat(150));
  }

  @Test
  void nothingLooksWhileTheWriterIsBlockedOnAPeerThatStoppedReadingAndItsWriteWakesTheDrain() {
    h.highWaterMark = 100;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("a".repeat(60));
    h.socket.send("b".repeat(90));
    h.advance(Duration.ZERO);
    bytesOut(fake, 30); // half the frame; then the peer stops reading
    h.activity.writeStarting(); // and the next write blocks
    h.advance(ofSeconds(1));
    int asked = fake.queueSizeCalls;
    h.advance(ofSeconds(10));
    assertThat(fake.queueSizeCalls).as("no drain while nothing can move").isEqualTo(asked);
    assertThat(fake.sentTexts()).hasSize(1);

    h.activity.writeEnded(); // the peer reads again: the rest of the frame leaves
    bytesOut(fake, 36);
    h.advance(Duration.ZERO);
    countedOut(fake, 60);
    h.advance(ofMillis(1));
    assertThat(fake.sentTexts()).hasSize(2);
  }

  @Test
  void aBacklogMovesInBatchesOnceHalfTheMarkIsFreeNotAtEveryWrite() {
    h.highWaterMark = 1_000;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    for (int i = 0; i < 10; i++) {
      assertThat(h.socket.send(String.format("%03d", i).repeat(33) + "-"))
          .isEqualTo(SendResult.SENT);
    }
    for (int i = 10; i < 15; i++) {
      assertThat(h.socket.send(String.format("%03d", i).repeat(33) + "-"))
          .isEqualTo(SendResult.QUEUED);
    }
    h.advance(Duration.ZERO);
    fake.writeFrames(5); // OkHttp's queue: 1000 bytes, then 600 when the fifth frame is written
    h.advance(Duration.ZERO);
    assertThat(fake.sentTexts()).as("more than half the mark still queued").hasSize(10);

    fake.writeFrames(1); // written at 500 queued: half the mark is free
    h.advance(Duration.ZERO);
    assertThat(fake.sentTexts()).hasSize(15);
  }

  @Test
  void aFrameWrittenJustBeforeTheConnectionFailedIsNotSentAgain() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    assertThat(h.socket.send("once")).isEqualTo(SendResult.SENT);
    bytesOut(fake, 10); // the writer wrote the whole frame, and is about to count it out...
    fake.drop(); // ...when the reader fails
    h.advance(Duration.ZERO);
    assertThat(fake.cancelled).as("cancelled: nothing more is written").isTrue();

    countedOut(fake, 4);
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket next = h.fakes.last().open();
    assertThat(next.sentTexts()).as("written once: at most once").isEmpty();
  }

  @Test
  void aFrameTheFailedConnectionNeverCountedOutIsSentAgainFirst() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("old");
    fake.drop(); // its writer never got to it
    h.advance(Duration.ZERO);
    assertThat(h.socket.send("new")).isEqualTo(SendResult.QUEUED);
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket next = h.fakes.last().open();
    assertThat(next.sentTexts()).containsExactly("old", "new");
  }

  @Test
  void closeRightAfterAFailureReportsWhatTheConnectionNeverWrote() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<NotDeliveredException> undelivered = h.socket.undelivered().test();
    h.socket.send("stuck");
    fake.drop();
    h.advance(Duration.ZERO);
    h.socket.close(); // before the outbox settled what the connection wrote
    undelivered.assertValueCount(1);
    assertThat(undelivered.values().get(0).message().text()).isEqualTo("stuck");
    assertThat(undelivered.values().get(0).reason()).isEqualTo(Reason.CLOSED);
    h.advance(ofSeconds(1));
    assertThat(h.scheduler.pendingTasks()).isZero();
  }

  @Test
  void aWriterThatEmptiesItsQueueWhileADrainLooksIsNotMissed() {
    h.highWaterMark = 100;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("a".repeat(30));
    h.socket.send("d".repeat(30));
    assertThat(h.socket.send("b".repeat(90))).isEqualTo(SendResult.QUEUED);
    // The drain asks OkHttp's queue twice (to settle what was written, then for room); just after
    // the second answer, OkHttp's writer writes everything, before the drain has said what size of
    // queue should wake the next one.
    fake.afterQueueSizeCall = fake.queueSizeCalls + 2;
    fake.afterQueueSize = fake::writeAll;
    h.advance(Duration.ZERO);
    h.advance(ofSeconds(1));
    assertThat(fake.sentTexts()).containsExactly("a".repeat(30), "d".repeat(30), "b".repeat(90));
  }

  @Test
  void aHeartbeatPingQueuedLastStillWakesTheDrainItsWriteEnds() {
    h.highWaterMark = 100;
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping-ping-ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("12345678");
    assertThat(h.socket.send("c".repeat(150))).isEqualTo(SendResult.QUEUED); // larger than the mark
    h.advance(ofSeconds(15)); // the ping goes behind the 8 bytes
    assertThat(fake.sentTexts()).containsExactly("12345678", "ping-ping-ping");
    fake.writeAll();
    h.advance(Duration.ZERO);
    assertThat(fake.sentTexts()).containsExactly("12345678", "ping-ping-ping", "c".repeat(150));
  }

  @Test
  void aWriterHeldOffTheCpuBeforeItCountsOutItsLastFrameIsWaitedFor() {
    h.highWaterMark = 100;
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("a".repeat(30));
    h.socket.send("d".repeat(30));
    h.socket.send("b".repeat(90));
    h.advance(Duration.ZERO);
    bytesOut(fake, 36);
    countedOut(fake, 30);
    bytesOut(fake, 36);
    h.advance(ofSeconds(5)); // the writer is held off the CPU before it counts the frame out
    countedOut(fake, 30);
    h.advance(ofMillis(64));
    assertThat(fake.sentTexts()).endsWith("b".repeat(90));
  }

  @Test
  void aWrittenWaiterWhoseFrameIsCountedOutDuringTheDrainItWokeCompletes() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<Void> written = h.socket.sendWritten(Message.text("m")).test();
    fake.afterQueueSizeCall = fake.queueSizeCalls + 1; // the drain's first look...
    fake.afterQueueSize = () -> countedOut(fake, 1); // ...sees it queued; then it is counted out
    bytesOut(fake, 7);
    h.advance(Duration.ZERO);
    written.assertComplete();
  }

  @Test
  void aServerCloseWithEverythingWrittenIsAnsweredNotCancelled() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("x");
    fake.writeAll();
    fake.serverClose(1000, "bye");
    h.advance(Duration.ZERO);
    assertThat(fake.cancelled).isFalse();
    assertThat(fake.closeCode).as("the close frame answered").isEqualTo(1000);
  }

  @Test
  void aQueuedMessageSentAgainAfterADropKeepsItsTimeToLive() {
    h.highWaterMark = 100;
    h.outbox = Outbox.defaults().timeToLive(ofSeconds(5));
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<NotDeliveredException> undelivered = h.socket.undelivered().test();
    h.socket.send("a".repeat(90));
    assertThat(h.socket.send("b".repeat(50))).isEqualTo(SendResult.QUEUED);
    fake.writeFrames(1);
    h.advance(Duration.ZERO);
    assertThat(fake.sentTexts()).as("handed from the outbox").hasSize(2);
    fake.drop(); // before OkHttp wrote it
    h.advance(ofSeconds(10));
    FakeWebSockets.FakeSocket next = h.fakes.last().open();
    h.advance(ofSeconds(1));
    assertThat(next.sentTexts()).as("expired while the socket was down").isEmpty();
    undelivered.assertValueCount(1);
    assertThat(undelivered.values().get(0).reason()).isEqualTo(Reason.EXPIRED);
  }

  @Test
  void anUnansweredMessageOfAClosingConnectionIsSentOnceOnTheNextEvenWhenTheOldOneFails() {
    h.correlation = Reports.requestsById(ofSeconds(10));
    FakeWebSockets.FakeSocket first = h.connected();
    first.queueGrows = true;
    h.replies.sendAcknowledged(Message.text("req:1:x")).test();
    h.socket.disconnect(); // closes gracefully; the message is still in OkHttp's queue
    h.socket.connect();
    FakeWebSockets.FakeSocket second = h.fakes.last().open();
    first.drop(); // the old connection fails before it wrote it
    h.advance(ofSeconds(1));
    assertThat(second.sentTexts()).containsExactly("req:1:x");
  }

  @Test
  void aConnectionReadyBeforeTheLastOneSettledWaitsForIt() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.send("once");
    bytesOut(fake, 10); // written, not yet counted out...
    fake.drop(); // ...when the reader fails
    h.socket.reconnectNow();
    FakeWebSockets.FakeSocket next = h.fakes.last().open(); // ready at once
    assertThat(h.socket.send("after")).isEqualTo(SendResult.QUEUED);
    assertThat(next.sentTexts()).isEmpty();
    h.advance(ofMillis(5));
    countedOut(fake, 4); // the old writer gets the CPU back
    h.advance(ofMillis(20));
    assertThat(next.sentTexts()).containsExactly("after");
  }
}
