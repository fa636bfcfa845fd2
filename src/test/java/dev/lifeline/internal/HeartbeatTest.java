package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import io.reactivex.rxjava3.observers.TestObserver;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class HeartbeatTest {
  private final Harness h = new Harness();

  private FakeWebSockets.FakeSocket appHeartbeat() {
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    return h.connected();
  }

  @Test
  void aSilentServerIsDetectedExactlyAtIntervalPlusTimeout() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    h.advanceMillis(14_999);
    assertThat(fake.sentTexts()).isEmpty();
    h.advanceMillis(1);
    assertThat(fake.sentTexts()).as("one ping after 15 s of silence").containsExactly("ping");
    h.advanceMillis(9_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(fake.sentTexts()).as("only one ping outstanding").containsExactly("ping");
    h.advanceMillis(1);

    assertThat(h.waiting().cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("no pong or other inbound frame within 10s")
        .hasMessageContaining("silent for 25s");
    assertThat(fake.cancelled).as("a dead link is cancelled, not closed gracefully").isTrue();
    assertThat(fake.closeCode).isNull();
  }

  @Test
  void aPongIsConsumedAndGivesTheRoundTripTime() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    TestObserver<Duration> rtts = h.socket.roundTripTimes().test();
    h.advance(ofSeconds(15));
    h.advanceMillis(250);
    fake.receive("pong");

    rtts.assertValue(ofMillis(250));
    h.messages.assertNoValues();
    h.advanceMillis(14_999); // the next ping follows 15 s of silence after the pong
    assertThat(fake.sentTexts()).containsExactly("ping");
    h.advanceMillis(1);
    assertThat(fake.sentTexts()).containsExactly("ping", "ping");
    h.advance(ofSeconds(10));
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void anyInboundFrameIsLife() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    for (int i = 0; i < 20; i++) {
      h.advance(ofSeconds(14));
      fake.receive("tick " + i);
    }
    assertThat(fake.sentTexts()).as("no ping while traffic flows").isEmpty();
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
  }

  @Test
  void anyFrameAfterThePingAnswersIt() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    h.advance(ofSeconds(15));
    h.advance(ofSeconds(9));
    fake.receive("data, not a pong");
    h.advance(ofSeconds(14));
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(fake.sentTexts()).hasSize(1);
    h.advance(ofSeconds(1)); // 15 s after the data frame: a new ping
    assertThat(fake.sentTexts()).hasSize(2);
  }

  @Test
  void aSlowSubscriberOnTheReaderThreadDoesNotMakeTheLinkLookDead() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    h.socket
        .messages()
        .filter(m -> m.equals(Message.text("slow")))
        .subscribe(m -> h.advance(ofSeconds(60))); // the reader thread is busy for a minute

    fake.receive("slow");

    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(fake.sentTexts()).as("no ping while the subscriber ran").isEmpty();
    // Once the subscriber returns, silence counts again from then.
    h.advance(ofSeconds(15));
    assertThat(fake.sentTexts()).containsExactly("ping");
    h.advance(ofSeconds(10));
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void aPingQueuedBehindALargeMessageStartsItsDeadlineWhenItLeavesTheQueue() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    fake.queueSize = 8 << 20; // 8 MiB still waiting to be written on a slow link
    h.advance(ofSeconds(15));
    assertThat(fake.sentTexts()).containsExactly("ping");
    for (int s = 1; s <= 7; s++) {
      h.advance(ofSeconds(1));
      fake.queueSize -= 1 << 20; // draining at 1 MiB/s: slow, not dead
    }
    h.advance(ofSeconds(1)); // t = 23 s
    fake.queueSize = 0; // the ping has left the queue; its 10 s start at the next look (t = 24 s)
    h.advance(ofSeconds(1));
    h.advanceMillis(9_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void aPingStuckBehindAQueueThatMakesNoProgressStillTimesOut() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    fake.queueSize = 1 << 20; // nothing leaves the queue: the link is black-holed
    h.advance(ofSeconds(15));
    h.advanceMillis(9_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("still queued behind");
  }

  @Test
  void passiveHeartbeatDeclaresSilenceDeadAfterItsTimeout() {
    h.heartbeat = Heartbeat.passive(ofSeconds(30));
    FakeWebSockets.FakeSocket fake = h.connected();
    h.advance(ofSeconds(20));
    fake.receive("news");
    h.advanceMillis(29_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("30s");
    assertThat(fake.sent).as("passive mode never pings").isEmpty();
  }

  @Test
  void protocolHeartbeatWatchesSilenceForIntervalPlusTimeout() {
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    h.connected();
    h.advanceMillis(24_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void okHttpsOwnPingFailureBecomesAHeartbeatTimeout() {
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.fail(
        new SocketTimeoutException(
            "sent ping but didn't receive pong within 15000ms (after 3 successful ping/pongs)"));
    assertThat(h.waiting().cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("15s")
        .hasCauseInstanceOf(SocketTimeoutException.class);
  }

  @Test
  void noHeartbeatNeverDeclaresALinkDead() {
    h.heartbeat = Heartbeat.none();
    h.connected();
    h.advance(Duration.ofDays(1));
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(h.scheduler.pendingTasks()).isZero();
  }

  @Test
  void theHeartbeatStopsWithItsConnection() {
    FakeWebSockets.FakeSocket fake = appHeartbeat();
    fake.drop();
    h.advance(h.waiting().delay());
    FakeWebSockets.FakeSocket next = h.fakes.last().open();
    h.advance(ofSeconds(15));
    assertThat(fake.sentTexts()).as("the old connection's heartbeat is gone").isEmpty();
    assertThat(next.sentTexts()).containsExactly("ping");
  }

  @Test
  void againstAnEchoServerAPingThatIsAlsoItsOwnPongIsConsumedAndTimesTheRoundTrip() {
    // An echo server sends the ping back: with the ping's text as the pong, the echo answers it
    // and never reaches messages() (as docs/heartbeat.md says).
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "ping");
    FakeWebSockets.FakeSocket fake = h.connected();
    io.reactivex.rxjava3.observers.TestObserver<Duration> rtts = h.socket.roundTripTimes().test();
    h.advance(ofSeconds(15));
    assertThat(fake.sentTexts()).containsExactly("ping");
    h.advance(Duration.ofMillis(40));
    fake.receive("ping"); // the echo
    h.messages.assertNoValues();
    rtts.assertValueCount(1);
    h.advance(ofSeconds(20));
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
  }
}
