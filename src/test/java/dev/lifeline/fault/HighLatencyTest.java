package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.fault.FaultProxy.Direction;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 3: a slow path is not a dead one. With 300 ms of latency each way (a 600 ms round trip,
 * well inside the 1 s heartbeat timeout) the socket stays connected through 5 s of heartbeats and
 * reports the round trips it measured.
 */
@Timeout(30)
class HighLatencyTest {
  private static final Duration ONE_WAY = ofMillis(300);
  private static final Duration OBSERVED = ofSeconds(5);

  /** Whole-millisecond clocks on both ends of a round trip. */
  private static final long RTT_CLOCK_SLACK_MS = 10;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final ServerSide serverSide = new ServerSide();
  private FaultProxy proxy;
  private ReconnectingSocket socket;

  @BeforeEach
  void start() throws Exception {
    serverSide.serveOn(server);
    proxy = FaultProxy.start(server.getSocketAddress());
    socket = Fixtures.socketThrough(proxy, "/far").retryPolicy(Fixtures.fastBackoff()).build();
  }

  @AfterEach
  void closeAll() {
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
  }

  @Test
  void threeHundredMillisecondsEachWayIsNeverDeclaredDeadAndShowsInRoundTripTimes()
      throws Exception {
    proxy.latency(Direction.BOTH, ONE_WAY);
    StateLog log = StateLog.of(socket);
    Recorded<Duration> roundTrips = Recorded.of(socket.roundTripTimes());
    long connectAt = System.nanoTime();
    socket.connect();
    StateLog.Seen connected = log.await(Connected.class, ofSeconds(10));
    long handshakeMs = millisBetween(connectAt, connected.nanos());

    // The assertion is that nothing happens: no state after Connected for 5 s of heartbeats.
    int mark = log.mark();
    TestObserver<StateLog.Seen> changes = log.from(mark).test();
    assertThat(changes.await(OBSERVED.toMillis(), MILLISECONDS))
        .as("the state stream ended during %s of 600 ms round trips", OBSERVED)
        .isFalse();
    assertThat(changes.values())
        .as("states after Connected during %s of 600 ms round trips", OBSERVED)
        .isEmpty();
    assertThat(socket.state()).isInstanceOf(Connected.class);

    List<Long> rttMs =
        roundTrips.all().stream().map(a -> a.value().toMillis()).collect(Collectors.toList());
    long minRttMs = 2 * ONE_WAY.toMillis() - RTT_CLOCK_SLACK_MS;
    assertThat(rttMs).as("heartbeats in %s", OBSERVED).hasSizeGreaterThanOrEqualTo(2);
    assertThat(rttMs)
        .as("round trips include both 300 ms legs")
        .allSatisfy(rtt -> assertThat(rtt).isGreaterThanOrEqualTo(minRttMs));
    assertThat(handshakeMs)
        .as("the upgrade crossed the slow path too")
        .isGreaterThanOrEqualTo(2 * ONE_WAY.toMillis());
    assertThat(server.getRequestCount()).isEqualTo(1);
    socket.close();
    log.awaitComplete(ofSeconds(5));

    ScenarioReport.row("3. latency 300 ms each way")
        .detection("no drop in " + OBSERVED.toSeconds() + " s (correct)")
        .reconnect("–")
        .handshakes(server.getRequestCount())
        .note(
            "RTTs %s ms (≥ %d required, timeout %d ms); upgrade took %d ms",
            rttMs, minRttMs, Fixtures.TIMEOUT.toMillis(), handshakeMs)
        .write();
  }
}
