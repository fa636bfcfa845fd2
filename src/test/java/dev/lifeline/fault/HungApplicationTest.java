package dev.lifeline.fault;

import static dev.lifeline.fault.Fixtures.CLOCK_SLACK_MS;
import static dev.lifeline.fault.Fixtures.DETECTION_BOUND_MS;
import static dev.lifeline.fault.Fixtures.INTERVAL;
import static dev.lifeline.fault.Fixtures.TIMEOUT;
import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.fault.FaultProxy.Direction;
import java.time.Duration;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 2: the server's WebSocket layer is alive (it answers protocol pings) but its application
 * has hung (it answers nothing else). OkHttp's own ping check cannot see this; the application
 * heartbeat must. The client's OkHttp client pings every 200 ms, so protocol pongs keep arriving
 * through the whole hang: they must not count as life for the application heartbeat.
 */
@Timeout(30)
class HungApplicationTest {
  private static final Duration PROTOCOL_PING_INTERVAL = ofMillis(200);

  /**
   * An OkHttp pong frame from the server: opcode byte, length byte, no payload (OkHttp's pings
   * carry none).
   */
  private static final int PONG_FRAME_BYTES = 2;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final ServerSide serverSide = new ServerSide();
  private final OkHttpClient client =
      new OkHttpClient.Builder().pingInterval(PROTOCOL_PING_INTERVAL).build();
  private FaultProxy proxy;
  private ReconnectingSocket socket;

  @BeforeEach
  void start() throws Exception {
    serverSide.serveOn(server);
    // The proxy only counts the bytes coming back, to show that protocol pongs kept flowing.
    proxy = FaultProxy.start(server.getSocketAddress());
    socket =
        Fixtures.socketThrough(proxy, "/app")
            .client(client)
            .retryPolicy(Fixtures.fastBackoff())
            .build();
  }

  @AfterEach
  void closeAll() {
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
    Fixtures.shutDown(client);
  }

  @Test
  void aServerWhoseApplicationHungIsDeclaredDeadThoughItStillAnswersProtocolPings() {
    StateLog log = StateLog.of(socket);
    Recorded<Duration> roundTrips = Recorded.of(socket.roundTripTimes());
    socket.connect();
    log.await(Connected.class, ofSeconds(10));
    roundTrips.await(1, ofSeconds(10));

    int mark = log.mark();
    long bytesBackBefore = proxy.bytesForwarded(Direction.DOWNSTREAM);
    serverSide.hang(true);
    long hungAt = System.nanoTime();
    StateLog.Seen dropped = log.awaitFrom(mark, WaitingToReconnect.class, ofSeconds(10));
    long bytesBackDuringHang = proxy.bytesForwarded(Direction.DOWNSTREAM) - bytesBackBefore;

    long detectedMs = millisBetween(roundTrips.last().nanos(), dropped.nanos());
    assertThat(((WaitingToReconnect) dropped.state()).cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("pong");
    assertThat(detectedMs)
        .as("detected within interval + timeout + 10 percent of the last application pong")
        .isLessThanOrEqualTo(DETECTION_BOUND_MS)
        .isGreaterThanOrEqualTo(INTERVAL.plus(TIMEOUT).toMillis() - CLOCK_SLACK_MS);
    // The hung application sends nothing, so every byte that came back meanwhile was a protocol
    // pong: at least a few of the ~10 that 2 s of 200 ms pings produce.
    long protocolPongs = bytesBackDuringHang / PONG_FRAME_BYTES;
    assertThat(protocolPongs)
        .as("protocol pongs that arrived during the hang")
        .isGreaterThanOrEqualTo(5);

    serverSide.hang(false);
    StateLog.Seen back = log.awaitFrom(mark, Connected.class, ofSeconds(10));
    roundTrips.await(roundTrips.count() + 1, ofSeconds(10)); // the application answers again

    ScenarioReport.row("2. app hung, protocol pongs still flowing")
        .detection(detectedMs, DETECTION_BOUND_MS)
        .reconnect(millisBetween(dropped.nanos(), back.nanos()) + " ms after the drop")
        .handshakes(server.getRequestCount())
        .note(
            "%d protocol pongs (%d bytes) arrived during the hang; %d ms after the hang began",
            protocolPongs, bytesBackDuringHang, millisBetween(hungAt, dropped.nanos()))
        .write();
  }
}
