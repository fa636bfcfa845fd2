package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Scenario 8: {@code close()} while the socket waits to reconnect. The pending attempt must never
 * start (no handshake over twice the backoff delay), {@code Closed} is the last state, and the
 * state stream completes right after it.
 */
@Timeout(30)
class CloseDuringBackoffTest {
  /** No jitter: the attempt would come exactly this long after the failure. */
  private static final Duration DELAY = ofMillis(500);

  /** How the socket came to wait. */
  enum Failure {
    /** The upgrade was answered 503: the first attempt failed. */
    HANDSHAKE_503,
    /** The connection opened and the server closed it (1001) at once. */
    CONNECTION_DROPPED
  }

  @StartStop private final MockWebServer server = new MockWebServer();
  private ReconnectingSocket socket;

  @AfterEach
  void closeSocket() {
    if (socket != null) socket.close();
  }

  @ParameterizedTest
  @EnumSource(Failure.class)
  void closeDuringTheBackoffWaitStartsNoAttemptAndEndsTheStateStream(Failure failure)
      throws Exception {
    if (failure == Failure.HANDSHAKE_503) {
      server.setDispatcher(
          new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
              // "Connection: close" keeps the 503's connection out of the shared default client's
              // pool, whose cleanup task would otherwise stay scheduled in OkHttp's task runner for
              // 5 minutes (and keep one of its threads awake, named after the last task it ran).
              return new MockResponse.Builder().code(503).addHeader("Connection", "close").build();
            }
          });
    } else {
      new ServerSide().onOpen(ws -> ws.close(1001, "going away")).serveOn(server);
    }
    socket =
        ReconnectingSocket.builder(Fixtures.wsUrl(server, "/feed"))
            .heartbeat(Fixtures.heartbeat())
            .retryPolicy(Backoff.exponential(DELAY, DELAY).jitter(0))
            .random(new Random(1))
            .build();
    StateLog log = StateLog.of(socket);
    TestObserver<ConnectionState> states = socket.states().test();
    TestObserver<Message> messages = socket.messages().test();
    TestObserver<Duration> roundTrips = socket.roundTripTimes().test();
    socket.connect();
    StateLog.Seen waiting = log.await(WaitingToReconnect.class, ofSeconds(10));
    assertThat(((WaitingToReconnect) waiting.state()).delay()).isEqualTo(DELAY);
    assertThat(server.takeRequest(5, SECONDS)).isNotNull();

    long closeAt = System.nanoTime();
    socket.close();
    StateLog.Seen closed = log.await(ConnectionState.Closed.class, ofSeconds(5));
    long closedMs = millisBetween(closeAt, closed.nanos());
    states.awaitDone(1, SECONDS);

    // The assertion is that nothing happens: no handshake for twice the backoff delay.
    Duration window = DELAY.multipliedBy(2);
    assertThat(server.takeRequest(window.toMillis(), MILLISECONDS))
        .as("a handshake after close()")
        .isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);

    states.assertComplete().assertNoErrors();
    List<ConnectionState> values = states.values();
    assertThat(values.get(values.size() - 1))
        .as("the last state")
        .isEqualTo(ConnectionState.CLOSED);
    assertThat(values.get(values.size() - 2)).as("right before Closed").isEqualTo(waiting.state());
    assertThat(log.completed()).isTrue();
    assertThat(log.states()).filteredOn(ConnectionState.Closed.class::isInstance).hasSize(1);
    assertThat(socket.state()).isEqualTo(ConnectionState.CLOSED);
    messages.awaitDone(1, SECONDS).assertComplete().assertNoErrors();
    roundTrips.awaitDone(1, SECONDS).assertComplete();

    ScenarioReport.row("8. close() during backoff (" + failure + ")")
        .detection("–")
        .reconnect("none: Closed " + closedMs + " ms after close(), stream completed")
        .handshakes(
            server.getRequestCount() + " (none in the " + window.toMillis() + " ms after close())")
        .note("states %s", Fixtures.names(values))
        .write();
  }

  /**
   * {@code states()} promises the current state to every new subscriber, and completes after {@code
   * Closed}. A subscriber that arrives after {@code close()} (e.g. another thread racing with it)
   * must therefore see {@code Closed} and then completion; an empty completed stream cannot be told
   * apart from "closed before any state", and {@code states().filter(Closed.class::isInstance)
   * .blockingFirst()} throws instead of returning.
   */
  @Test
  void aSubscriberArrivingAfterCloseSeesClosedThenCompletion() {
    socket = ReconnectingSocket.builder(Fixtures.wsUrl(server, "/feed")).build();
    socket.close();

    assertThat(socket.state()).isEqualTo(ConnectionState.CLOSED);
    socket.states().test().assertResult(ConnectionState.CLOSED);
  }
}
