package dev.lifeline.internal;

import static dev.lifeline.internal.Reports.notDelivered;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeline.Backoff;
import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Replies;
import dev.lifeline.RetriesExhaustedException;
import io.reactivex.rxjava3.observers.TestObserver;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Acknowledged sends and request/reply: "req:ID:body" goes out, "ack:ID" or "reply:ID:body" comes
 * back.
 */
class AcknowledgedSendTest {
  private final Harness h = new Harness();

  @BeforeEach
  void correlateById() {
    h.correlation = Reports.requestsById(ofSeconds(10));
  }

  @Test
  void anAcknowledgedSendCompletesWhenItsAckArrivesAndTheAckIsNotEmitted() {
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Void> sent = h.replies.sendAcknowledged(Message.text("req:1:hello")).test();
    assertThat(fake.sentTexts()).containsExactly("req:1:hello");
    sent.assertNotComplete();
    fake.receive("ack:1");
    sent.assertComplete();
    h.messages.assertNoValues();
  }

  @Test
  void aRequestEmitsItsReply() {
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Message> reply = h.replies.request(Message.text("req:7:price?")).test();
    fake.receive("reply:7:42");
    reply.assertValue(Message.text("reply:7:42"));
  }

  @Test
  void anAcknowledgedSendSurvivesAConnectionKilledMidFlightResentOnceAckedOnce() {
    FakeWebSockets.FakeSocket first = h.connected();
    TestObserver<Void> sent = h.replies.sendAcknowledged(Message.text("req:1:order")).test();
    h.socket.send("plain, sent after");
    first.drop(); // the ack never came: maybe the server got it, maybe not
    h.socket.send("queued while down");
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket second = h.fakes.last().open();

    assertThat(second.sentTexts())
        .as("resent first, once, with the same id; then the outbox")
        .containsExactly("req:1:order", "queued while down");
    second.receive("ack:1");
    second.receive("ack:1"); // the server acks the duplicate too
    sent.assertComplete();
    h.messages.assertNoValues();
    h.socket.send("later");
    assertThat(second.sentTexts()).containsExactly("req:1:order", "queued while down", "later");
  }

  @Test
  void anAcknowledgedSendQueuedWhileDownIsSentOnceOnConnect() {
    h.build();
    TestObserver<Void> sent = h.replies.sendAcknowledged(Message.text("req:2:early")).test();
    h.socket.connect();
    FakeWebSockets.FakeSocket fake = h.fakes.last().open();
    assertThat(fake.sentTexts()).containsExactly("req:2:early");
    fake.receive("ack:2");
    sent.assertComplete();
  }

  @Test
  void noReplyInTimeFailsWithATimeout() {
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Message> reply = h.replies.request(Message.text("req:3:slow")).test();
    h.advanceMillis(9_999);
    reply.assertNoErrors();
    h.advanceMillis(1);
    reply.assertError(
        e ->
            e instanceof NotDeliveredException n
                && n.reason() == Reason.NO_REPLY
                && n.message().text().startsWith("req:3:")
                && n.getMessage().startsWith("no reply to message 3 within "));
    fake.receive("reply:3:too late");
    h.messages.assertNoValues(); // a late reply is still a reply: dropped, not emitted
    assertThat(h.scheduler.pendingTasks())
        .as("only the health timer is left")
        .isLessThanOrEqualTo(1);
  }

  @Test
  void pendingSendsFailWithTheGiveUp() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Void> sent = h.replies.sendAcknowledged(Message.text("req:4:x")).test();
    fake.drop();
    sent.assertError(
        e ->
            notDelivered(Reason.GAVE_UP).test(e)
                && e.getCause() instanceof RetriesExhaustedException);
  }

  @Test
  void pendingSendsFailOnClose() {
    h.connected();
    TestObserver<Void> sent = h.replies.sendAcknowledged(Message.text("req:5:x")).test();
    TestObserver<Message> queuedReply = h.replies.request(Message.text("req:6:y")).test();
    h.socket.close();
    sent.assertError(notDelivered(Reason.CLOSED));
    queuedReply.assertError(notDelivered(Reason.CLOSED));
    assertThat(h.scheduler.pendingTasks()).isZero();
  }

  @Test
  void messagesThatAreNotRepliesStillReachSubscribers() {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.receive("event:1:tick");
    h.messages.assertValue(Message.text("event:1:tick"));
  }

  @Test
  void mistakesAreRefusedWhereTheyAreMade() {
    FakeWebSockets.FakeSocket fake = h.connected();
    assertThatThrownBy(() -> h.replies.request(Message.text("no id here")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no id");
    h.replies.request(Message.text("req:8:a")).test();
    h.replies.request(Message.text("req:8:b")).test().assertError(IllegalStateException.class);
    assertThat(fake.sentTexts()).containsExactly("req:8:a");
  }

  @Test
  void disposingStopsWaitingAndFreesTheId() {
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Void> first = h.replies.sendAcknowledged(Message.text("req:10:a")).test();
    first.dispose();
    TestObserver<Void> again = h.replies.sendAcknowledged(Message.text("req:10:b")).test();
    fake.receive("ack:10");
    again.assertComplete();
  }

  @Test
  void twoReplyTablesWithTheirOwnIdSchemesEachGetTheirRepliesAndSurviveAReconnect() {
    FakeWebSockets.FakeSocket first = h.connected();
    // An RPC scheme beside the acks: {"rpc":ID,...} out, {"result":ID,...} back.
    Replies rpc =
        h.socket.replies(
            Correlation.by(
                out -> null, // the caller passes the id: nothing to parse out
                in -> {
                  String t = in.text();
                  return t.startsWith("result:") ? t.substring(7, t.indexOf(';')) : null;
                }));
    TestObserver<Void> ack = h.replies.sendAcknowledged(Message.text("req:1:order")).test();
    TestObserver<Message> call = rpc.request(Message.text("rpc:1;quote?"), "1").test();
    assertThat(first.sentTexts()).containsExactly("req:1:order", "rpc:1;quote?");

    first.drop(); // neither answered: both go again, in their order
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket second = h.fakes.last().open();
    assertThat(second.sentTexts()).containsExactly("req:1:order", "rpc:1;quote?");

    second.receive("result:1;42"); // id 1 in the RPC scheme: not the ack of req:1
    call.assertValue(Message.text("result:1;42"));
    ack.assertNotComplete();
    second.receive("ack:1");
    ack.assertComplete();
    h.messages.assertNoValues();
  }

  @Test
  void anAcknowledgedSendTakesTheIdTheCallerAlreadyHas() {
    FakeWebSockets.FakeSocket fake = h.connected();
    TestObserver<Void> sent =
        h.replies.sendAcknowledged(Message.text("an opaque payload"), "42").test();
    assertThat(fake.sentTexts()).containsExactly("an opaque payload");
    fake.receive("ack:42");
    sent.assertComplete();
  }

  @Test
  void aMessageTheCorrelationFindsNoIdInIsRefusedAtTheCallWithWhatToDo() {
    h.connected();
    assertThatThrownBy(() -> h.replies.request(Message.text("no id here")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("found no id")
        .hasMessageContaining("pass the id instead");
  }
}
