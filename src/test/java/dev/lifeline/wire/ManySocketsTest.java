package dev.lifeline.wire;

import static java.time.Duration.ofMillis;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Closed;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Heartbeat;
import dev.lifeline.ReconnectingSocket;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many sockets against one server. OkHttp's {@code Dispatcher} counts every open WebSocket as a
 * running call for the socket's whole life and runs at most {@code maxRequests} (64) calls: with a
 * default dispatcher the 65th socket waits silently. Sockets built without {@code .client(...)}
 * share Lifeline's default client, which must not have that limit.
 */
class ManySocketsTest {
  private final MockWebServer server = new MockWebServer();
  private final ServerListener serverSide = ServerListener.echo();
  private final List<ReconnectingSocket> sockets = new ArrayList<>();

  @BeforeEach
  void startServer() throws IOException {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return new MockResponse.Builder().webSocketUpgrade(serverSide).build();
          }
        });
    server.start();
  }

  @AfterEach
  void closeEverything() {
    try {
      for (ReconnectingSocket socket : sockets) socket.close();
    } finally {
      server.close();
    }
  }

  @Test
  @Timeout(30)
  void twoHundredSocketsOnTheDefaultClientAllConnectAndClose() throws Exception {
    int count = 200;
    CountDownLatch connected = new CountDownLatch(count);
    CountDownLatch closed = new CountDownLatch(count);
    for (int i = 0; i < count; i++) {
      ReconnectingSocket socket = configure(ReconnectingSocket.builder(url())).build();
      sockets.add(socket);
      socket
          .states()
          .filter(Connected.class::isInstance)
          .take(1)
          .subscribe(s -> connected.countDown());
      socket.states().filter(Closed.class::isInstance).subscribe(s -> closed.countDown());
    }

    for (ReconnectingSocket socket : sockets) socket.connect();
    assertThat(connected.await(20, SECONDS))
        .as("all connected; %s still not: %s", connected.getCount(), notConnected())
        .isTrue();
    assertThat(server.getRequestCount()).isEqualTo(count);

    for (ReconnectingSocket socket : sockets) socket.close();
    assertThat(closed.await(5, SECONDS)).as("all closed").isTrue();
    assertThat(serverSide.awaitAll("closing:", count, 5))
        .as("close frames the server received")
        .hasSize(count)
        .containsOnly("closing:1000");
  }

  /**
   * Documents the OkHttp limit that the default client lifts: on a user client with OkHttp's
   * default dispatcher, 64 open sockets occupy every slot and the 65th waits in the dispatcher's
   * queue, still {@code Connecting}, until one of the 64 closes.
   */
  @Test
  @Timeout(30)
  void onAClientWithOkHttpsDefaultDispatcherThe65thSocketWaitsUntilOneOfThe64Closes()
      throws Exception {
    OkHttpClient client = new OkHttpClient();
    try {
      CountDownLatch connected = new CountDownLatch(64);
      for (int i = 0; i < 64; i++) {
        ReconnectingSocket socket =
            configure(ReconnectingSocket.builder(url()).client(client)).build();
        sockets.add(socket);
        socket
            .states()
            .filter(Connected.class::isInstance)
            .take(1)
            .subscribe(s -> connected.countDown());
        socket.connect();
      }
      assertThat(connected.await(15, SECONDS)).as("the first 64 connected").isTrue();

      ReconnectingSocket last = configure(ReconnectingSocket.builder(url()).client(client)).build();
      sockets.add(last);
      last.connect(); // enqueues the call on this thread: nothing asynchronous to wait for

      assertThat(client.dispatcher().runningCallsCount()).isEqualTo(64);
      assertThat(client.dispatcher().queuedCallsCount()).isEqualTo(1);
      assertThat(last.state()).isEqualTo(new Connecting(0));
      assertThat(server.getRequestCount()).isEqualTo(64);

      sockets.get(0).close(); // frees one slot once its closing handshake is over
      last.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();
      assertThat(server.getRequestCount()).isEqualTo(65);
    } finally {
      closeAll(client);
    }
  }

  @Test
  @Timeout(30)
  void anAttemptStuckInTheDispatcherQueueTimesOutOnItsDeadline() throws Exception {
    okhttp3.Dispatcher dispatcher = new okhttp3.Dispatcher();
    dispatcher.setMaxRequests(1);
    OkHttpClient client = new OkHttpClient.Builder().dispatcher(dispatcher).build();
    try {
      ReconnectingSocket first =
          configure(ReconnectingSocket.builder(url()).client(client)).build();
      sockets.add(first);
      first.connect();
      first.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();

      ReconnectingSocket queued =
          configure(ReconnectingSocket.builder(url()).client(client))
              .attemptTimeout(ofMillis(300))
              .build();
      sockets.add(queued);
      queued.connect();
      WaitingToReconnect waiting =
          queued.states().ofType(WaitingToReconnect.class).timeout(10, SECONDS).blockingFirst();

      assertThat(waiting.cause())
          .isInstanceOf(AttemptTimeoutException.class)
          .hasMessageContaining("300ms")
          .hasMessageContaining("dispatcher queue");
      assertThat(server.getRequestCount())
          .as("the queued attempt never reached the server")
          .isEqualTo(1);
    } finally {
      closeAll(client);
    }
  }

  @Test
  @Timeout(30)
  void closingSocketsEndsEveryReaderThreadOkHttpRanForThem() throws Exception {
    for (int i = 0; i < 50; i++) {
      ReconnectingSocket socket =
          ReconnectingSocket.builder(url())
              .heartbeat(Heartbeat.protocol(ofMillis(200), ofMillis(200)))
              .build();
      sockets.add(socket);
      socket.connect();
    }
    for (ReconnectingSocket socket : sockets) {
      socket.states().filter(Connected.class::isInstance).timeout(20, SECONDS).blockingFirst();
    }
    // While a socket is open, OkHttp runs its reader on a dispatcher thread named after the
    // redacted URL: "OkHttp http://localhost:PORT/...". (Its short-lived writer and close tasks run
    // on other threads, named "OkHttp WebSocket ...", which this does not count.)
    String marker = "OkHttp http://" + server.getHostName() + ":" + server.getPort() + "/";
    assertThat(threadsNamedWith(marker)).hasSize(50);

    for (ReconnectingSocket socket : sockets) socket.close();

    // A pool thread going back to idle fires no event; look until none is left, within a bound.
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (!threadsNamedWith(marker).isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(MILLISECONDS.toNanos(5));
    }
    assertThat(threadsNamedWith(marker)).as("reader threads still running after close()").isEmpty();
  }

  private static List<String> threadsNamedWith(String marker) {
    List<String> names = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith(marker)) names.add(t.getName());
    }
    return names;
  }

  /** Closes the sockets, then releases a test-made client's threads and connections. */
  private void closeAll(OkHttpClient client) {
    for (ReconnectingSocket socket : sockets) socket.close();
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  private String url() {
    return server.url("/many").toString().replaceFirst("^http", "ws");
  }

  private static ReconnectingSocket.Builder configure(ReconnectingSocket.Builder builder) {
    return builder
        .heartbeat(Heartbeat.none())
        .retryPolicy(Backoff.exponential(ofMillis(20), ofMillis(100)))
        .random(new Random(1));
  }

  private List<ConnectionState> notConnected() {
    List<ConnectionState> states = new ArrayList<>();
    for (ReconnectingSocket s : sockets) {
      if (!(s.state() instanceof Connected)) states.add(s.state());
    }
    return states;
  }
}
