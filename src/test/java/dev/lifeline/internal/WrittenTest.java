package dev.lifeline.internal;

import static dev.lifeline.internal.Reports.notDelivered;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.RetriesExhaustedException;
import io.reactivex.rxjava3.observers.TestObserver;
import okio.ByteString;
import org.junit.jupiter.api.Test;

/** "Written": the message's bytes have left OkHttp's send queue. Not proof of receipt. */
class WrittenTest {
  private final Harness h = new Harness();

  @Test
  void completesOnceTheMessageHasLeftOkHttpsQueue() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    fake.queueSize = 1_000; // a message ahead of ours is still being written
    TestObserver<Void> written =
        h.socket.sendWritten(Message.binary(ByteString.of(new byte[100]))).test();
    assertThat(fake.sent).hasSize(1);

    fake.queueSize = 100; // the message ahead is out; ours is still queued
    h.activity.onWrite(1_000);
    h.advance(ofMillis(10));
    written.assertNotComplete();
    fake.queueSize = 0;
    h.activity.onWrite(100);
    h.advance(ofMillis(10));
    written.assertComplete();
  }

  @Test
  void messagesEnqueuedAfterItDoNotHoldItBack() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<Void> written = h.socket.sendWritten(Message.text("first")).test(); // 5 bytes
    h.socket.send("second, sent later"); // 18 bytes, behind it
    assertThat(fake.queueSize).isEqualTo(23);
    h.advance(ofMillis(10));
    written.assertNotComplete();

    fake.queueSize = 18; // OkHttp wrote "first"; only the later message remains
    h.activity.onWrite(5);
    h.advance(ofMillis(10));
    written.assertComplete();
  }

  @Test
  void aQueuedMessageCompletesOnceSentAndWrittenOnTheNextConnection() {
    h.build();
    TestObserver<Void> written = h.socket.sendWritten(Message.text("early")).test();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(fake.sentTexts()).containsExactly("early");
    h.advance(ofMillis(10));
    written.assertComplete(); // the fake's queue is empty: written at once
  }

  @Test
  void aMessageTheDeadConnectionNeverWroteIsSentAgainAndCompletesWhenWritten() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<Void> written = h.socket.sendWritten(Message.text("stuck")).test();
    fake.drop(); // still in OkHttp's queue: never written
    written.assertNotComplete().assertNoErrors();
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket next = h.fakes.last();
    next.queueGrows = true;
    next.open();
    assertThat(next.sentTexts()).containsExactly("stuck");
    h.advance(ofMillis(10));
    written.assertNotComplete();
    next.writeAll();
    h.advance(ofMillis(10));
    written.assertComplete();
  }

  @Test
  void aMessageTheDeadConnectionWroteIsNotSentAgain() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    TestObserver<Void> written = h.socket.sendWritten(Message.text("out")).test();
    fake.writeAll();
    fake.drop(); // before the drain heard of the write
    h.advance(h.waiting().delay());
    written.assertComplete();
    assertThat(h.fakes.last().open().sent).as("written once: at most once").isEmpty();
  }

  @Test
  void failsWithTheOutboxsReasonsWhenItNeverLeavesTheOutbox() {
    h.outbox = Outbox.defaults().timeToLive(ofSeconds(5));
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    h.build();
    TestObserver<Void> expires = h.socket.sendWritten(Message.text("a")).test();
    h.advance(ofSeconds(5));
    expires.assertError(notDelivered(Reason.EXPIRED));

    h.socket.connect();
    TestObserver<Void> givenUp = h.socket.sendWritten(Message.text("b")).test();
    h.fakes.last().drop();
    givenUp.assertError(
        e ->
            notDelivered(Reason.GAVE_UP).test(e)
                && e.getCause() instanceof RetriesExhaustedException);

    TestObserver<Void> closed = h.socket.sendWritten(Message.text("c")).test();
    h.socket.close();
    closed.assertError(notDelivered(Reason.CLOSED));
    h.socket.sendWritten(Message.text("d")).test().assertError(notDelivered(Reason.CLOSED));
    assertThat(h.scheduler.pendingTasks()).isZero();
  }

  @Test
  void disposingStopsWatching() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.queueGrows = true;
    h.socket.sendWritten(Message.text("x")).test().dispose();
    fake.queueSize = 0;
    h.advance(ofMillis(100));
    assertThat(h.scheduler.pendingTasks())
        .as("no polling for nobody")
        .isLessThanOrEqualTo(1); // health timer
  }
}
