package dev.lifeline.fault;

import static dev.lifeline.fault.Fixtures.CLOCK_SLACK_MS;
import static dev.lifeline.fault.Fixtures.DETECTION_BOUND_MS;
import static dev.lifeline.fault.Fixtures.INTERVAL;
import static dev.lifeline.fault.Fixtures.TIMEOUT;
import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.fault.FaultProxy.Direction;
import java.time.Duration;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Scenario 1, one-way variants (both ways: {@link SlowLinkTest}). Only one direction of the path is
 * black-holed; TCP stays up, nothing is closed. A reliable client notices within interval + timeout
 * of the last sign of life, whichever direction is lost, keeps trying without hanging while the
 * path stays cut (each attempt ends on its own deadline), and is connected again once it resumes.
 */
@Timeout(30)
class OneWayBlackHoleTest {
  private static final Duration ATTEMPT_TIMEOUT = ofMillis(500);
  private static final Backoff BACKOFF = Fixtures.fastBackoff();

  @StartStop private final MockWebServer server = new MockWebServer();
  private final ServerSide serverSide = new ServerSide();
  private FaultProxy proxy;
  private ReconnectingSocket socket;

  @BeforeEach
  void start() throws Exception {
    serverSide.serveOn(server);
    proxy = FaultProxy.start(server.getSocketAddress());
    socket =
        Fixtures.socketThrough(proxy, "/feed")
            .retryPolicy(BACKOFF)
            .attemptTimeout(ATTEMPT_TIMEOUT)
            .build();
  }

  @AfterEach
  void closeAll() {
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
  }

  @ParameterizedTest(name = "{0} black-holed")
  @EnumSource(
      value = Direction.class,
      names = {"UPSTREAM", "DOWNSTREAM"})
  void aOneWayBlackHoleIsCaughtWithinIntervalPlusTimeoutAndTheSocketReturnsWhenThePathResumes(
      Direction lost) {
    StateLog log = StateLog.of(socket);
    Recorded<Duration> roundTrips = Recorded.of(socket.roundTripTimes());
    socket.connect();
    log.await(Connected.class, ofSeconds(10));
    roundTrips.await(1, ofSeconds(10)); // the heartbeat is answered: the link is live

    int mark = log.mark();
    proxy.blackHole(lost);
    long holedAt = System.nanoTime();
    StateLog.Seen dropped = log.awaitFrom(mark, WaitingToReconnect.class, ofSeconds(10));

    // No pong can arrive after the black hole (the proxy holds what it already read), so the last
    // recorded round trip is the last sign of life.
    long lastLife = roundTrips.last().nanos();
    long detectedMs = millisBetween(lastLife, dropped.nanos());
    assertThat(((WaitingToReconnect) dropped.state()).cause())
        .isInstanceOf(HeartbeatTimeoutException.class);
    assertThat(detectedMs)
        .as("detected within interval + timeout + 10 percent of the last pong")
        .isLessThanOrEqualTo(DETECTION_BOUND_MS)
        .as("not declared dead before interval + timeout of silence")
        .isGreaterThanOrEqualTo(INTERVAL.plus(TIMEOUT).toMillis() - CLOCK_SLACK_MS);

    // While the path stays cut an attempt cannot finish its upgrade; it must end on its deadline
    // instead of hanging in Connecting.
    StateLog.Seen attemptTimedOut =
        log.awaitFrom(
            mark,
            s -> s instanceof WaitingToReconnect w && w.cause() instanceof AttemptTimeoutException,
            ofSeconds(10));
    int requestsDuringOutage = server.getRequestCount();

    int healMark = log.mark();
    proxy.heal();
    long healedAt = System.nanoTime();
    // The scenario states no bound for coming back, so none is asserted beyond the wait itself;
    // the report shows the time against one attempt deadline plus one backoff step, the most it
    // should take (an attempt is in flight at the heal, its held bytes now flow, or a wait runs).
    StateLog.Seen back = log.awaitFrom(healMark, Connected.class, ofSeconds(10));
    long backMs = millisBetween(healedAt, back.nanos());
    long expectedMs = ATTEMPT_TIMEOUT.plus(BACKOFF.maxDelay()).toMillis();
    int pongsBefore = roundTrips.count();
    roundTrips.await(pongsBefore + 1, ofSeconds(10)); // and the new connection answers heartbeats

    assertThat(log.all(Failed.class)).isEmpty();
    int attemptsTimedOut =
        (int)
            log.all(WaitingToReconnect.class).stream()
                .filter(w -> w.cause() instanceof AttemptTimeoutException)
                .count();
    ScenarioReport.row(
            "1. black hole "
                + (lost == Direction.UPSTREAM ? "client→server" : "server→client")
                + " only")
        .detection(detectedMs, DETECTION_BOUND_MS)
        .reconnect(
            backMs + " ms after the heal (expected ≤ " + expectedMs + ": deadline + max backoff)")
        .handshakes(
            server.getRequestCount()
                + " HTTP ("
                + requestsDuringOutage
                + " before heal), "
                + proxy.connectionsAccepted()
                + " TCP")
        .note(
            "%d ms after the fault itself; %d attempt(s) timed out (%d ms deadline) while cut;"
                + " first such at +%d ms",
            millisBetween(holedAt, dropped.nanos()),
            attemptsTimedOut,
            ATTEMPT_TIMEOUT.toMillis(),
            millisBetween(holedAt, attemptTimedOut.nanos()))
        .write();
  }
}
