package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.stream.Collectors;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 5: the server restarts. Its port is closed for 3 s (connections refused), then a new
 * server listens on the same port. The client keeps retrying through the outage and is connected
 * again within one backoff step of the port reopening. What the application sent during the outage
 * reaches the restarted server once each, in the order it was sent.
 */
@Timeout(30)
class ServerRestartTest {
  private static final Duration PORT_CLOSED = ofSeconds(3);
  private static final Backoff BACKOFF = Backoff.exponential(ofMillis(100), ofSeconds(1));
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

  private final ServerSide serverSide = new ServerSide();
  private final MockWebServer before = new MockWebServer();
  private final MockWebServer after = new MockWebServer();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "restart-timer");
            t.setDaemon(true);
            return t;
          });
  private ReconnectingSocket socket;

  @AfterEach
  void closeAll() {
    try {
      if (socket != null) socket.close();
      timer.shutdownNow();
    } finally {
      before.close();
      after.close();
    }
  }

  @Test
  void theClientReconnectsWithinOneBackoffStepOfThePortReopening() throws Exception {
    int port = freePortBelowTheEphemeralRange();
    serverSide.serveOn(before);
    serverSide.serveOn(after);
    before.start(LOOPBACK, port);
    socket =
        ReconnectingSocket.builder("ws://127.0.0.1:" + port + "/feed")
            .heartbeat(Fixtures.heartbeat())
            .retryPolicy(BACKOFF)
            .random(new Random(1))
            .build();
    StateLog log = StateLog.of(socket);
    socket.connect();
    log.await(Connected.class, ofSeconds(10));

    int mark = log.mark();
    long closedAt = System.nanoTime(); // first: the client may see the close before it returns
    before.close(); // closes the port and every connection on it
    CompletableFuture<Long> restartedAt = new CompletableFuture<>();
    timer.schedule(
        () -> {
          try {
            after.start(LOOPBACK, port);
            restartedAt.complete(System.nanoTime());
          } catch (Throwable t) {
            restartedAt.completeExceptionally(t);
          }
        },
        closedAt + PORT_CLOSED.toNanos() - System.nanoTime(),
        NANOSECONDS);
    StateLog.Seen dropped = log.awaitFrom(mark, WaitingToReconnect.class, ofSeconds(10));

    // While the port is closed the application keeps sending, every 100 ms. The sends run on the
    // timer that also restarts the server, so every one of them happens while nothing listens.
    List<String> sentDuringOutage = new ArrayList<>();
    List<SendResult> results = new ArrayList<>();
    ScheduledFuture<?> sending =
        timer.scheduleAtFixedRate(
            () -> {
              if (restartedAt.isDone()) return;
              String text = "out:" + (sentDuringOutage.size() + 1);
              sentDuringOutage.add(text);
              results.add(socket.send(text));
            },
            0,
            100,
            MILLISECONDS);
    StateLog.Seen back = log.awaitFrom(mark, Connected.class, ofSeconds(20));
    long reopenedAt = restartedAt.get(1, SECONDS); // it has happened: the client is back
    sending.cancel(false);
    socket.send("out:end"); // on the new connection: once it arrives, everything before it has
    List<String> receivedAfterRestart = serverSide.awaitFromClient("out:end", 10);
    // The sends ran on the timer thread before it completed restartedAt (and not after): get()
    // above makes every one of them visible here.
    assertThat(results).as("sends while the port was closed").containsOnly(SendResult.QUEUED);
    List<String> expected = new ArrayList<>(sentDuringOutage);
    expected.add("out:end");

    long backMs = millisBetween(reopenedAt, back.nanos());
    long boundMs = BACKOFF.maxDelay().plusSeconds(1).toMillis();
    assertThat(back.nanos()).isGreaterThan(reopenedAt);
    assertThat(backMs)
        .as("connected within maxDelay + 1 s of the port reopening")
        .isLessThanOrEqualTo(boundMs);

    // Through the outage the socket kept trying, each attempt refused, and never gave up.
    List<StateLog.Seen> outage = log.seen().subList(mark, log.seen().indexOf(back));
    List<WaitingToReconnect> waits =
        outage.stream()
            .map(StateLog.Seen::state)
            .filter(WaitingToReconnect.class::isInstance)
            .map(WaitingToReconnect.class::cast)
            .collect(Collectors.toList());
    assertThat(waits.size()).as("retries during a 3 s outage").isGreaterThanOrEqualTo(3);
    assertThat(waits.subList(1, waits.size()))
        .extracting(WaitingToReconnect::cause)
        .allSatisfy(c -> assertThat(c).isInstanceOf(ConnectException.class));
    assertThat(log.all(Failed.class)).isEmpty();
    assertThat(expected.size()).as("messages sent during the outage").isGreaterThanOrEqualTo(11);
    assertThat(receivedAfterRestart)
        .as("what the restarted server received: each outage message once, in order")
        .containsExactlyElementsOf(expected);
    // The wait that was running when the port reopened: reconnecting took at most that long.
    WaitingToReconnect lastWait = waits.get(waits.size() - 1);
    long lastAttemptStarted =
        outage.stream()
            .filter(s -> s.state() instanceof Connecting)
            .mapToLong(StateLog.Seen::nanos)
            .max()
            .orElseThrow();

    ScenarioReport.row("5. server restart, port closed 3 s")
        .detection(millisBetween(closedAt, dropped.nanos()) + " ms (server closed its connections)")
        .reconnect(backMs, boundMs)
        .handshakes(
            after.getRequestCount() + " after restart (" + before.getRequestCount() + " before)")
        .messages("client→server during the outage", expected.size() - 1, expected.size() - 1, 0, 0)
        .note(
            "%d refused attempts; last wait %d ms (attempt %d), last attempt started %+d ms from the"
                + " reopening; outage %d ms",
            waits.size() - 1,
            lastWait.delay().toMillis(),
            lastWait.retry(),
            millisBetween(reopenedAt, lastAttemptStarted),
            millisBetween(closedAt, back.nanos()))
        .write();
  }

  /**
   * A port nothing listens on, below Linux's ephemeral range (32768–60999): while the server is
   * down, a client connecting to a closed port inside that range can be given that very port as its
   * own source port and connect to itself (TCP simultaneous open), which would look like a server.
   */
  private static int freePortBelowTheEphemeralRange() throws IOException {
    Random random = new Random();
    for (int i = 0; i < 100; i++) {
      int port = 20_000 + random.nextInt(12_000);
      try (ServerSocket probe = new ServerSocket()) {
        probe.bind(new InetSocketAddress(LOOPBACK, port));
        return port;
      } catch (BindException taken) {
        // try another
      }
    }
    throw new IOException("no free port found in 20000-31999");
  }
}
