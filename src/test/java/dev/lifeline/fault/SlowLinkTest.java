package dev.lifeline.fault;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The heartbeat on real sockets behind the fault proxy: a slow but live link is not declared dead,
 * and a black-holed one is caught within interval + timeout (+10 % for a busy two-core machine).
 */
@Timeout(60)
class SlowLinkTest {

  @StartStop private final MockWebServer server = new MockWebServer();
  private FaultProxy proxy;
  private ReconnectingSocket socket;
  private final List<Timed> states = new CopyOnWriteArrayList<>();

  private record Timed(long nanos, ConnectionState state) {}

  @BeforeEach
  void startProxy() throws Exception {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return new MockResponse.Builder().webSocketUpgrade(new EchoAndPong()).build();
          }
        });
    proxy = FaultProxy.start(server.getSocketAddress());
    socket = Fixtures.socketThrough(proxy, "/feed").retryPolicy(Fixtures.fastBackoff()).build();
    socket.states().subscribe(s -> states.add(new Timed(System.nanoTime(), s)));
  }

  @AfterEach
  void closeAll() {
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
  }

  @Test
  void a256KiBEchoOverA64KiBPerSecondLinkSurvivesAOneSecondHeartbeat() {
    proxy.throttle(FaultProxy.Direction.BOTH, 64 * 1024);
    Single<Message> echo = socket.messages().firstOrError().cache();
    echo.subscribe((m, e) -> {}); // subscribed before connect(): sees the first message
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();
    ByteString big = ByteString.of(new byte[256 * 1024]);
    long sentAt = System.nanoTime();

    assertThat(socket.send(big)).isEqualTo(SendResult.SENT);

    assertThat(echo.timeout(30, SECONDS).blockingGet()).isEqualTo(Message.binary(big));
    long tookMs = (System.nanoTime() - sentAt) / 1_000_000;
    assertThat(tookMs).as("the link really was slow: 2 × 4 s of transfer").isGreaterThan(6_000);
    assertThat(states)
        .extracting(Timed::state)
        .filteredOn(WaitingToReconnect.class::isInstance)
        .isEmpty();
    assertThat(server.getRequestCount()).isEqualTo(1);
    System.out.printf("256 KiB echo over 64 KiB/s, heartbeat 1s/1s: %d ms, no drop%n", tookMs);
  }

  /**
   * The limit of the slow-link rule (docs/heartbeat.md): behind a hop that reads eagerly and
   * forwards slowly, nothing pushes back on the client, the ping leaves OkHttp's queue at once and
   * waits behind the large message in the hop, and a 1 s / 1 s heartbeat declares the live link
   * dead.
   */
  @Test
  void behindABufferingHopAOneSecondHeartbeatDeclaresALiveSlowLinkDead() {
    proxy.throttleBuffered(FaultProxy.Direction.UPSTREAM, 64 * 1024);
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();
    long sentAt = System.nanoTime();
    assertThat(socket.send(ByteString.of(new byte[256 * 1024]))).isEqualTo(SendResult.SENT);

    WaitingToReconnect dropped =
        (WaitingToReconnect)
            socket
                .states()
                .filter(WaitingToReconnect.class::isInstance)
                .timeout(10, SECONDS)
                .blockingFirst();
    long tookMs = (System.nanoTime() - sentAt) / 1_000_000;
    assertThat(dropped.cause()).isInstanceOf(HeartbeatTimeoutException.class);
    assertThat(tookMs).as("dead before the 4 s upload could finish").isLessThan(4_000);
    System.out.printf("buffering hop at 64 KiB/s, heartbeat 1s/1s: dead after %d ms%n", tookMs);
  }

  /**
   * The practical rule that holds there too: a heartbeat timeout of at least the largest message ÷
   * the slowest uplink (256 KiB ÷ 64 KiB/s = 4 s; here 5 s) keeps the link up.
   */
  @Test
  void behindABufferingHopATimeoutOfLargestMessageOverUplinkKeepsTheLinkUp() {
    socket.close();
    socket =
        Fixtures.socketThrough(proxy, "/feed")
            .heartbeat(
                Heartbeat.application(Duration.ofSeconds(1), Duration.ofSeconds(5), "ping", "pong"))
            .retryPolicy(Fixtures.fastBackoff())
            .build();
    socket.states().subscribe(s -> states.add(new Timed(System.nanoTime(), s)));
    proxy.throttleBuffered(FaultProxy.Direction.UPSTREAM, 64 * 1024);
    ByteString big = ByteString.of(new byte[256 * 1024]);
    Single<Message> echo = socket.messages().firstOrError().cache();
    echo.subscribe((m, e) -> {});
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();
    long sentAt = System.nanoTime();
    assertThat(socket.send(big)).isEqualTo(SendResult.SENT);

    assertThat(echo.timeout(30, SECONDS).blockingGet()).isEqualTo(Message.binary(big));
    long tookMs = (System.nanoTime() - sentAt) / 1_000_000;
    assertThat(tookMs).as("the hop really was slow: 4 s of upload").isGreaterThan(3_000);
    assertThat(states)
        .extracting(Timed::state)
        .filteredOn(WaitingToReconnect.class::isInstance)
        .isEmpty();
    System.out.printf(
        "buffering hop at 64 KiB/s, heartbeat 1s/5s: echo in %d ms, no drop%n", tookMs);
  }

  @Test
  void aBlackHoledLinkIsCaughtWithinIntervalPlusTimeoutAndTheSocketComesBack() throws Exception {
    TestObserver<Duration> roundTrips = socket.roundTripTimes().test();
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();
    roundTrips.awaitCount(1); // pings and pongs are flowing

    proxy.blackHole(FaultProxy.Direction.BOTH);
    long holedAt = System.nanoTime();
    WaitingToReconnect waiting =
        socket.states().ofType(WaitingToReconnect.class).timeout(10, SECONDS).blockingFirst();
    long detectedMs = (System.nanoTime() - holedAt) / 1_000_000;

    assertThat(waiting.cause()).isInstanceOf(HeartbeatTimeoutException.class);
    long boundMs = Fixtures.DETECTION_BOUND_MS;
    assertThat(detectedMs)
        .as("detected within interval + timeout + 10%%")
        .isLessThanOrEqualTo(boundMs);

    proxy.heal();
    long healedAt = System.nanoTime();
    socket
        .states()
        .skip(1)
        .filter(Connected.class::isInstance)
        .timeout(10, SECONDS)
        .blockingFirst();
    long backMs = (System.nanoTime() - healedAt) / 1_000_000;
    System.out.printf(
        "black hole both ways, heartbeat 1s/1s: detected after %d ms (bound %d ms); connected again"
            + " %d ms after the path resumed%n",
        detectedMs, boundMs, backMs);
  }

  @Test
  void writtenCompletesWhenALargeMessageHasLeftOkHttpsQueueOnASlowLink() {
    proxy.throttle(FaultProxy.Direction.UPSTREAM, 64 * 1024);
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(10, SECONDS).blockingFirst();

    long start = System.nanoTime();
    socket
        .sendWritten(Message.binary(ByteString.of(new byte[256 * 1024])))
        .blockingAwait(30, SECONDS);
    long largeMs = (System.nanoTime() - start) / 1_000_000;
    start = System.nanoTime();
    socket.sendWritten(Message.text("small")).blockingAwait(30, SECONDS);
    long smallMs = (System.nanoTime() - start) / 1_000_000;

    // 256 KiB at 64 KiB/s is 4 s on the wire; only the bounded kernel buffers and the proxy's may
    // hold the tail, so the message leaves OkHttp's queue after most of that.
    assertThat(largeMs).as("256 KiB written after").isGreaterThan(2_500);
    assertThat(smallMs).as("a small message behind nothing").isLessThan(largeMs / 4);
    System.out.printf(
        "written over 64 KiB/s: 256 KiB after %d ms, then 5 bytes after %d ms%n", largeMs, smallMs);
  }

  /** Echoes data messages and answers the heartbeat's "ping" with "pong". */
  private static final class EchoAndPong extends WebSocketListener {
    @Override
    public void onMessage(WebSocket webSocket, String text) {
      webSocket.send(text.equals("ping") ? "pong" : text);
    }

    @Override
    public void onMessage(WebSocket webSocket, ByteString bytes) {
      webSocket.send(bytes);
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      webSocket.close(1000, null);
    }

    @Override
    public void onOpen(WebSocket webSocket, Response response) {}
  }
}
