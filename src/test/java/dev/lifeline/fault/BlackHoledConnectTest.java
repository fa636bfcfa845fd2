package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.fault.FaultProxy.Event;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 4: the TCP connection is accepted but nothing ever answers (a firewall that drops
 * packets after the handshake, a wedged load balancer). Every attempt must end on its own deadline
 * with an {@link AttemptTimeoutException}, count against the outage's budget, and the socket must
 * end {@code Failed(RetriesExhaustedException)}, never stuck in {@code Connecting}.
 */
@Timeout(30)
class BlackHoledConnectTest {
  private static final Duration ATTEMPT_TIMEOUT = ofMillis(500);
  private static final int MAX_RETRIES = 2;

  @StartStop private final MockWebServer server = new MockWebServer();
  private FaultProxy proxy;
  private ReconnectingSocket socket;

  @BeforeEach
  void start() throws Exception {
    new ServerSide().serveOn(server);
    proxy = FaultProxy.start(server.getSocketAddress());
    socket =
        Fixtures.socketThrough(proxy, "/void")
            .retryPolicy(Backoff.exponential(ofMillis(50), ofMillis(100)).maxRetries(MAX_RETRIES))
            .attemptTimeout(ATTEMPT_TIMEOUT)
            .build();
  }

  @AfterEach
  void closeAll() {
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
  }

  @Test
  void everyAttemptTimesOutCountsAgainstTheBudgetAndTheSocketGivesUp() throws Exception {
    proxy.blackHoleNew();
    StateLog log = StateLog.of(socket);
    TestObserver<Message> messages = socket.messages().test();
    long connectAt = System.nanoTime();
    socket.connect();
    StateLog.Seen failed = log.await(Failed.class, ofSeconds(10));

    assertThat(Fixtures.names(log.states()))
        .containsExactly(
            "Idle",
            "Connecting(0)",
            "Waiting(1)",
            "Connecting(1)",
            "Waiting(2)",
            "Connecting(2)",
            "Failed");
    assertThat(log.all(WaitingToReconnect.class))
        .extracting(WaitingToReconnect::cause)
        .allSatisfy(
            c ->
                assertThat(c)
                    .isInstanceOf(AttemptTimeoutException.class)
                    .hasMessageContaining("500ms")
                    .hasMessageContaining("upgrade"));
    RetriesExhaustedException gaveUp =
        (RetriesExhaustedException) ((Failed) failed.state()).cause();
    assertThat(gaveUp.retries()).isEqualTo(MAX_RETRIES);
    assertThat(gaveUp.getCause()).isInstanceOf(AttemptTimeoutException.class);
    messages.awaitDone(5, SECONDS).assertNoValues().assertError(gaveUp);

    // Each attempt lasted its whole deadline, no less. Each ended by its own deadline (the causes
    // above); and from before connect() to the give-up, every deadline and every retry delay
    // elapsed in turn. (A state is seen a little after the timer it follows is armed, so the time
    // between two states can be shorter than the timer: only connect() is a sound start.)
    List<WaitingToReconnect> waits = log.all(WaitingToReconnect.class);
    long owed = (1 + MAX_RETRIES) * ATTEMPT_TIMEOUT.toMillis();
    for (WaitingToReconnect w : waits) owed += w.delay().toMillis();
    assertThat(waits).hasSize(MAX_RETRIES);
    assertThat(millisBetween(connectAt, failed.nanos())).isGreaterThanOrEqualTo(owed);
    List<StateLog.Seen> seen = log.seen();
    StateLog.Seen firstWait =
        seen.stream()
            .filter(x -> x.state() instanceof WaitingToReconnect)
            .findFirst()
            .orElseThrow();
    assertThat(millisBetween(connectAt, firstWait.nanos()))
        .as("the first attempt, from connect()")
        .isGreaterThanOrEqualTo(ATTEMPT_TIMEOUT.toMillis());
    List<Long> attemptMs = new ArrayList<>(); // for the report: Connecting to the next state seen
    for (int i = 0; i < seen.size() - 1; i++) {
      if (seen.get(i).state() instanceof Connecting) {
        attemptMs.add(millisBetween(seen.get(i).nanos(), seen.get(i + 1).nanos()));
      }
    }

    // 1 + maxRetries TCP connections, all held, none reached the server; nothing after giving up.
    for (int i = 1; i <= 1 + MAX_RETRIES; i++) {
      assertThat(proxy.events().poll(5, SECONDS)).isEqualTo(new Event(Event.Kind.HELD, i));
    }
    assertThat(proxy.events().poll(300, MILLISECONDS)).as("a connection after giving up").isNull();
    assertThat(proxy.connectionsAccepted()).isEqualTo(1 + MAX_RETRIES);
    assertThat(server.getRequestCount()).isZero();
    assertThat(socket.state()).as("still given up, not Connecting").isInstanceOf(Failed.class);

    ScenarioReport.row("4. new connections black-holed (maxRetries 2)")
        .detection(
            "attempts ended after "
                + attemptMs
                + " ms (deadline "
                + ATTEMPT_TIMEOUT.toMillis()
                + ")")
        .reconnect("gave up " + millisBetween(connectAt, failed.nanos()) + " ms after connect()")
        .handshakes(proxy.connectionsAccepted() + " TCP = 1 + maxRetries, 0 HTTP")
        .note("Failed(RetriesExhaustedException, retries %d)", gaveUp.retries())
        .write();
  }
}
