package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionLostException;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.ServerClosedException;
import io.reactivex.rxjava3.observers.TestObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.WebSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Scenario 7: a server that accepts the upgrade and drops the connection at once. An open is not
 * proof of health ({@code stableAfter} is 5 s, the default), so the outage's budget is never
 * restored: exactly {@code 1 + maxRetries} handshakes reach the server, then the socket gives up
 * with {@link RetriesExhaustedException}. Also when the server sends a message before it drops.
 */
@Timeout(30)
class AcceptThenCloseTest {
  private static final int MAX_RETRIES = 3;

  /** How the server ends each connection right after the upgrade. */
  enum Drop {
    CLOSE_1001(ws -> ws.close(1001, "going away")),
    GREET_THEN_CLOSE_1011(
        ws -> {
          ws.send("hello");
          ws.close(1011, "internal error");
        }),
    CANCEL(WebSocket::cancel);

    final Consumer<WebSocket> action;

    Drop(Consumer<WebSocket> action) {
      this.action = action;
    }
  }

  @StartStop private final MockWebServer server = new MockWebServer();
  private ReconnectingSocket socket;

  @AfterEach
  void closeSocket() {
    if (socket != null) socket.close();
  }

  @ParameterizedTest
  @EnumSource(Drop.class)
  void exactlyOnePlusMaxAttemptsHandshakesThenTheSocketGivesUp(Drop drop) throws Exception {
    ServerSide serverSide = new ServerSide().onOpen(drop.action).serveOn(server);
    socket =
        ReconnectingSocket.builder(Fixtures.wsUrl(server, "/flaky"))
            .heartbeat(Fixtures.heartbeat())
            .retryPolicy(Backoff.exponential(ofMillis(20), ofMillis(50)).maxRetries(MAX_RETRIES))
            .random(new Random(1))
            .build();
    StateLog log = StateLog.of(socket);
    TestObserver<Message> messages = socket.messages().test();
    long connectAt = System.nanoTime();
    socket.connect();
    StateLog.Seen failed = log.await(Failed.class, ofSeconds(10));

    assertThat(((Failed) failed.state()).cause())
        .isInstanceOfSatisfying(
            RetriesExhaustedException.class, e -> assertThat(e.retries()).isEqualTo(MAX_RETRIES));
    // Every handshake the server will ever see has been recorded by now; none may follow.
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < 1 + MAX_RETRIES; i++) {
      paths.add(server.takeRequest(5, SECONDS).getTarget());
    }
    assertThat(server.takeRequest(300, MILLISECONDS)).as("a handshake after giving up").isNull();
    assertThat(server.getRequestCount()).isEqualTo(1 + MAX_RETRIES);
    assertThat(paths).containsOnly("/flaky");
    assertThat(serverSide.opened).hasValue(1 + MAX_RETRIES); // each one was upgraded, then dropped

    assertThat(Fixtures.names(log.states()))
        .containsExactly(
            "Idle",
            "Connecting(0)",
            "Connected",
            "Waiting(1)",
            "Connecting(1)",
            "Connected",
            "Waiting(2)",
            "Connecting(2)",
            "Connected",
            "Waiting(3)",
            "Connecting(3)",
            "Connected",
            "Failed");
    for (WaitingToReconnect w : log.all(WaitingToReconnect.class)) {
      if (drop == Drop.CANCEL) {
        assertThat(w.cause())
            .isInstanceOf(ConnectionLostException.class)
            .hasCauseInstanceOf(IOException.class);
      } else {
        assertThat(w.cause()).isInstanceOf(ServerClosedException.class);
      }
    }
    messages.awaitDone(5, SECONDS).assertError(((Failed) failed.state()).cause());
    List<Message> expected =
        drop == Drop.GREET_THEN_CLOSE_1011
            ? Collections.nCopies(1 + MAX_RETRIES, Message.text("hello"))
            : List.of();
    assertThat(messages.values()).isEqualTo(expected);

    ScenarioReport.row("7. accept-then-close: " + drop)
        .detection("–")
        .reconnect("gave up " + millisBetween(connectAt, failed.nanos()) + " ms after connect()")
        .handshakes(server.getRequestCount() + " = 1 + maxRetries(" + MAX_RETRIES + ")")
        .note(
            "Failed(RetriesExhaustedException); no handshake in 300 ms after; cause %s",
            log.all(WaitingToReconnect.class).get(0).cause().getClass().getSimpleName())
        .write();
  }
}
