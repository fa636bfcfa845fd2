/*
 * How to test your own reconnect handling without waiting for real backoff delays. The socket's
 * scheduler is an RxJava TestScheduler, so every Lifeline timer (backoff delays, attempt deadlines,
 * stableAfter) runs in virtual time that the test advances by hand; the network stays real (a
 * MockWebServer on loopback). The code under test is a small class of the kind an app has: a
 * "reconnecting..." banner shown while the socket waits to reconnect and hidden once connected.
 *
 * There are no sleeps: real-network steps wait, bounded, for the state they expect
 * (TestObserver.awaitCount, 5 s at most), and virtual time moves only when the test says so.
 *
 *   mvn -B test -Dtest=ReconnectHandlingTest
 */
package dev.lifeline.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Heartbeat;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.observers.TestObserver;
import io.reactivex.rxjava3.schedulers.TestScheduler;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ReconnectHandlingTest {

  /** The code under test: what a user sees while the socket is away. Null text: hidden. */
  static final class ReconnectBanner {
    private volatile String text;

    ReconnectBanner(ReconnectingSocket socket) {
      socket.states().subscribe(this::update);
    }

    private void update(ConnectionState state) {
      if (state instanceof WaitingToReconnect w) {
        text = "Reconnecting in " + w.delay().toSeconds() + " s...";
      } else if (state instanceof Connected) {
        text = null;
      } else if (state instanceof Failed) {
        text = "Offline. Tap to retry.";
      }
    }

    String text() {
      return text;
    }
  }

  private final TestScheduler time = new TestScheduler();
  private final BlockingQueue<WebSocket> serverSides = new LinkedBlockingQueue<>();
  private MockWebServer server;
  private ReconnectingSocket socket;

  @BeforeEach
  void startServer() throws IOException {
    server = new MockWebServer();
    server.start(InetAddress.getLoopbackAddress(), 0);
    socket =
        ReconnectingSocket.builder(server.url("/feed").toString())
            .scheduler(time) // every Lifeline timer runs in virtual time
            .heartbeat(Heartbeat.none()) // this test is about reconnects, not liveness
            .retryPolicy(
                Backoff.exponential(Duration.ofSeconds(2), Duration.ofSeconds(30)).jitter(0))
            .build();
  }

  @AfterEach
  void stop() {
    socket.close();
    server.close();
  }

  @Test
  void bannerShowsWhileWaitingAndHidesOnceReconnected() throws InterruptedException {
    server.enqueue(acceptWebSocket());
    server.enqueue(acceptWebSocket());
    ReconnectBanner banner = new ReconnectBanner(socket);
    TestObserver<ConnectionState> states = socket.states().test();

    socket.connect();
    states.awaitCount(3); // Idle, Connecting(0), Connected: a real upgrade on loopback
    assertThat(states.values().get(2)).isInstanceOf(Connected.class);
    assertThat(banner.text()).isNull();

    WebSocket serverSide = serverSides.poll(5, TimeUnit.SECONDS);
    assertThat(serverSide).isNotNull();
    serverSide.close(1001, "going away"); // the server restarts
    states.awaitCount(4);
    assertThat(states.values().get(3)).isInstanceOf(WaitingToReconnect.class);
    assertThat(banner.text()).isEqualTo("Reconnecting in 2 s...");

    time.advanceTimeBy(1999, TimeUnit.MILLISECONDS); // just short of the backoff delay
    assertThat(states.values()).hasSize(4);
    assertThat(banner.text()).isEqualTo("Reconnecting in 2 s...");

    time.advanceTimeBy(1, TimeUnit.MILLISECONDS); // the delay is over: the next attempt starts
    states.awaitCount(6); // Connecting(1), Connected
    assertThat(states.values().get(4)).isEqualTo(new Connecting(1));
    assertThat(states.values().get(5)).isInstanceOf(Connected.class);
    assertThat(banner.text()).isNull();
  }

  @Test
  void bannerOffersARetryWhenTheSocketGivesUp() {
    server.enqueue(new MockResponse.Builder().code(401).build()); // terminal: no retry
    ReconnectBanner banner = new ReconnectBanner(socket);
    TestObserver<ConnectionState> states = socket.states().test();

    socket.connect();
    states.awaitCount(3); // Idle, Connecting(0), Failed
    assertThat(states.values().get(2)).isInstanceOf(Failed.class);
    assertThat(banner.text()).isEqualTo("Offline. Tap to retry.");
  }

  private MockResponse acceptWebSocket() {
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new WebSocketListener() {
              @Override
              public void onOpen(WebSocket ws, Response response) {
                serverSides.add(ws);
              }

              @Override
              public void onClosing(WebSocket ws, int code, String reason) {
                ws.close(1000, null);
              }
            })
        .build();
  }
}
