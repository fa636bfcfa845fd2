package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.testing.CallersSocketFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.SocketFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bytes counted below OkHttp: what makes a slow link look alive, and what must not. */
class LinkActivityTest {
  private final Harness h = new Harness();

  @Test
  void bytesOfALargeFrameStillArrivingCountAsLife() {
    h.heartbeat = Heartbeat.application(ofSeconds(1), ofSeconds(1), "ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    // A 256 KiB frame arriving at 64 KiB/s: 4 s without a complete frame, bytes all along.
    for (int i = 0; i < 40; i++) {
      h.advance(ofMillis(100));
      h.activity.onRead(6_554);
    }
    fake.receive("the large frame, complete");
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.messages.assertValueCount(1);
  }

  @Test
  void aBlackHoledLinkIsStillCaughtWithinIntervalPlusTimeoutOfTheLastBytes() {
    h.heartbeat = Heartbeat.application(ofSeconds(1), ofSeconds(1), "ping", "pong");
    h.connected();
    h.advance(ofMillis(500));
    h.activity.onRead(4_096); // last bytes at t = 0.5 s, then nothing
    h.advanceMillis(1_999);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    h.advanceMillis(1);
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void controlFrameSizedReadsDoNotKeepAnApplicationHeartbeatAlive() {
    // The server still answers protocol pings (a few bytes each), but its application is hung.
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    h.connected();
    for (int i = 0; i < 24; i++) {
      h.advance(ofSeconds(1));
      h.activity.onRead(6);
    }
    h.advance(ofSeconds(1));
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @Test
  void protocolPongsCountAsLifeForTheProtocolHeartbeat() {
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    h.connected();
    for (int i = 0; i < 10; i++) {
      h.advance(ofSeconds(15));
      h.activity.onRead(6); // OkHttp's ping answered
    }
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
  }

  @Test
  void protocolPongBytesProveHealthAndRestoreTheBudget() {
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    h.build();
    h.socket.connect();
    h.fakes.last().open().drop(); // outage starts
    h.advance(ofSeconds(1));
    h.fakes.last().open();
    h.advance(ofSeconds(7));
    h.activity.onRead(6); // a pong: no frame ever reaches the listener, bytes do
    h.advance(ofSeconds(1)); // health is re-checked every second after stableAfter
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).isEqualTo(1);
  }

  @Test
  void withoutByteCountsTheProtocolHeartbeatLeavesLivenessToOkHttp() {
    // OkHttp made the socket itself (a SOCKS proxy): pongs can't be seen, so a silence watchdog
    // would kill every quiet, healthy link. OkHttp's own pong check still guards it.
    h.countBytes = false;
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    h.connected();
    h.advance(ofSeconds(120));
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
    assertThat(h.scheduler.pendingTasks()).as("no watchdog, no health re-checks").isZero();
  }

  @Test
  void withoutByteCountsAProtocolHeartbeatConnectionIsHealthyAfterStableAfter() {
    h.countBytes = false;
    h.heartbeat = Heartbeat.protocol(ofSeconds(15), ofSeconds(10));
    h.build();
    h.socket.connect();
    h.fakes.last().open().drop();
    h.advance(ofSeconds(1));
    h.fakes.last().open();
    h.advance(ofSeconds(5));
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).isEqualTo(1);
  }

  @Test
  void withoutByteCountsAnApplicationHeartbeatStillWorksOnFrames() {
    h.countBytes = false;
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    FakeWebSockets.FakeSocket fake = h.connected();
    h.advance(ofSeconds(15));
    fake.receive("pong");
    h.advance(ofSeconds(25));
    assertThat(h.waiting().cause()).isInstanceOf(HeartbeatTimeoutException.class);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"the JDK's default factory", "a caller's own factory"})
  @Timeout(10)
  void countingSocketsCountBytesBothWays(String which) throws Exception {
    SocketFactory base =
        which.startsWith("the JDK") ? SocketFactory.getDefault() : new CallersSocketFactory();
    AtomicLong clock = new AtomicLong(1_000);
    LinkActivity activity = new LinkActivity(clock::get);
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Socket client = new CountingSocketFactory(base, activity, 4_096).createSocket();
      client.connect(
          new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), 5_000);
      try (Socket accepted = server.accept()) {
        OutputStream out = client.getOutputStream();
        out.write(new byte[300]);
        out.flush();
        assertThat(activity.bytesWritten()).isEqualTo(300);

        accepted.getOutputStream().write(new byte[1_000]);
        accepted.getOutputStream().flush();
        clock.set(2_000);
        InputStream in = client.getInputStream();
        byte[] buf = new byte[1_000];
        int total = 0;
        while (total < 1_000) total += in.read(buf, total, 1_000 - total);
        assertThat(activity.lastReadAt()).isEqualTo(2_000);
        assertThat(client.getInputStream()).as("one wrapper per socket").isSameAs(in);
        assertThat(client.isConnected()).isTrue();
        assertThat(client.getSendBufferSize())
            .as("the bounded send buffer was asked for (Linux doubles it)")
            .isBetween(4_096, 2 * 4_096);
      } finally {
        client.close();
      }
      assertThat(client.isClosed()).isTrue();
    }
  }
}
