package dev.lifeline.wire;

import static java.time.Duration.ofMillis;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Closed;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.Idle;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.HandshakeException;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import dev.lifeline.ServerClosedException;
import dev.lifeline.TerminalFailureException;
import dev.lifeline.testing.CallersSocketFactory;
import io.reactivex.rxjava3.observers.TestObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Wire tier: real sockets on loopback against MockWebServer, real OkHttp, the default computation
 * scheduler. Every wait is on an event (a state, a message, something the server saw) with a bound;
 * the only fixed-length waits are bounded polls that check that something does <em>not</em> happen
 * (no further request after a terminal failure).
 */
@Timeout(30)
class WireTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final List<ReconnectingSocket> sockets = new ArrayList<>();

  @AfterEach
  void closeSockets() {
    for (ReconnectingSocket socket : sockets) socket.close();
  }

  // --- Messages --------------------------------------------------------------------------------

  @Test
  void textAndBinaryMessagesAreEchoedBackThroughMessages() throws Exception {
    ServerListener serverSide = ServerListener.echo();
    server.enqueue(upgrade(serverSide));
    ReconnectingSocket socket = track(builder("/echo").build());
    TestObserver<Message> messages = socket.messages().test();
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    states.await(Connected.class);

    assertThat(socket.send("hello")).isEqualTo(SendResult.SENT);
    messages.awaitCount(1);
    messages.assertValuesOnly(Message.text("hello"));

    ByteString bytes = ByteString.of((byte) 1, (byte) 2, (byte) 0xff);
    assertThat(socket.send(bytes)).isEqualTo(SendResult.SENT);
    messages.awaitCount(2);
    messages.assertValuesOnly(Message.text("hello"), Message.binary(bytes));

    assertThat(serverSide.await("text:", 5)).isEqualTo("text:hello");
    assertThat(serverSide.await("binary:", 5)).isEqualTo("binary:0102ff");
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  // --- Handshake statuses ----------------------------------------------------------------------

  @Test
  void unauthorizedHandshakeGivesUpAfterOneRequest() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    ReconnectingSocket socket = track(builder("/feed").build());
    TestObserver<Message> messages = socket.messages().test();
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    Failed failed = states.await(Failed.class);

    assertThat(failed.cause()).isInstanceOf(TerminalFailureException.class);
    assertThat(failed.cause().retries()).isZero();
    assertThat(failed.cause().getCause())
        .isInstanceOfSatisfying(HandshakeException.class, h -> assertThat(h.code()).isEqualTo(401));
    messages.awaitDone(5, SECONDS);
    messages.assertNoValues().assertError(failed.cause());

    assertThat(server.takeRequest(5, SECONDS)).isNotNull();
    assertThat(server.takeRequest(300, MILLISECONDS)).as("a request after the 401").isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(names(states.states())).containsExactly("Idle", "Connecting(0)", "Failed");
  }

  @Test
  void serverErrorsOnTheUpgradeAreRetriedWithIncreasingAttemptNumbersUntilConnected() {
    for (int i = 0; i < 3; i++) server.enqueue(new MockResponse.Builder().code(500).build());
    server.enqueue(upgrade(ServerListener.echo()));
    ReconnectingSocket socket = track(builder("/feed").build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    states.await(Connected.class);

    assertThat(server.getRequestCount()).isEqualTo(4);
    List<ConnectionState> seen = states.states();
    assertThat(names(seen))
        .containsExactly(
            "Idle",
            "Connecting(0)",
            "Waiting(1)",
            "Connecting(1)",
            "Waiting(2)",
            "Connecting(2)",
            "Waiting(3)",
            "Connecting(3)",
            "Connected");
    assertThat(seen)
        .filteredOn(WaitingToReconnect.class::isInstance)
        .map(s -> ((WaitingToReconnect) s).cause())
        .allSatisfy(
            c ->
                assertThat(c)
                    .isInstanceOfSatisfying(
                        HandshakeException.class, h -> assertThat(h.code()).isEqualTo(500)));
  }

  /**
   * OkHttp's own follow-up logic retries a 503 that carries {@code Retry-After: 0} once, inside the
   * same call. Lifeline sees one failed call, so it must count one attempt, not two.
   */
  @Test
  void serviceUnavailableWithRetryAfterZeroThatOkHttpRetriedCountsAsOneAttempt() {
    MockResponse unavailable =
        new MockResponse.Builder().code(503).addHeader("Retry-After", "0").build();
    server.enqueue(unavailable);
    server.enqueue(unavailable);
    server.enqueue(upgrade(ServerListener.echo()));
    ReconnectingSocket socket = track(builder("/feed").build());
    AtomicInteger requestsAtFirstWait = new AtomicInteger(-1);
    socket
        .states()
        .ofType(WaitingToReconnect.class)
        .firstElement()
        .subscribe(w -> requestsAtFirstWait.set(server.getRequestCount()));
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    states.await(Connected.class);

    List<ConnectionState> seen = states.states();
    assertThat(names(seen))
        .containsExactly("Idle", "Connecting(0)", "Waiting(1)", "Connecting(1)", "Connected");
    WaitingToReconnect waiting = (WaitingToReconnect) seen.get(2);
    assertThat(waiting.cause())
        .isInstanceOfSatisfying(HandshakeException.class, h -> assertThat(h.code()).isEqualTo(503));
    assertThat(requestsAtFirstWait).as("requests the server saw before the first wait").hasValue(2);
    assertThat(server.getRequestCount()).isEqualTo(3);
  }

  @Test
  void serviceUnavailableWithRetryAfterWaitsAtLeastThatLong() {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "1").build());
    server.enqueue(upgrade(ServerListener.echo()));
    ReconnectingSocket socket = track(builder("/feed").build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    StateHistory.Seen waiting = states.awaitSeen(WaitingToReconnect.class::isInstance, 5);
    StateHistory.Seen retry = states.awaitSeen(s -> s instanceof Connecting c && c.retry() == 1, 5);
    states.await(Connected.class);

    // The backoff alone would wait at most 20 ms; the server asked for 1 s.
    assertThat(((WaitingToReconnect) waiting.state()).delay()).isEqualTo(Duration.ofSeconds(1));
    assertThat(Duration.ofNanos(retry.nanos() - waiting.nanos()))
        .isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(server.getRequestCount())
        .as("OkHttp does not retry Retry-After: 1 itself")
        .isEqualTo(2);
  }

  // --- Close frames from the server -------------------------------------------------------------

  @Test
  void serverCloseFrameIsAnsweredAndTheSocketReconnects() throws Exception {
    ServerListener goingAway = ServerListener.closingOnOpen(1001, "going away");
    server.enqueue(upgrade(goingAway));
    ServerListener second = ServerListener.echo();
    server.enqueue(upgrade(second));
    ReconnectingSocket socket = track(builder("/feed").build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();

    // The server closed first; what its onClosing reports is the client's answering close frame.
    assertThat(goingAway.await("closing:", 5)).isEqualTo("closing:1001");
    assertThat(goingAway.await("closed:", 5)).as("closing handshake completed").isNotNull();

    WaitingToReconnect waiting = states.await(WaitingToReconnect.class);
    assertThat(waiting.retry()).isEqualTo(1);
    assertThat(waiting.cause())
        .isInstanceOfSatisfying(
            ServerClosedException.class,
            c -> {
              assertThat(c.code()).isEqualTo(1001);
              assertThat(c.reason()).isEqualTo("going away");
            });

    states.awaitSeen(s -> s instanceof Connecting c && c.retry() == 1, 5);
    socket.states().filter(Connected.class::isInstance).timeout(5, SECONDS).blockingFirst();
    assertThat(second.await("open", 5)).isNotNull();
    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(names(states.states()))
        .containsExactly(
            "Idle", "Connecting(0)", "Connected", "Waiting(1)", "Connecting(1)", "Connected");
  }

  @Test
  void policyViolationCloseFromTheServerGivesUpWithoutAnotherRequest() throws Exception {
    ServerListener serverSide = ServerListener.closingOnOpen(1008, "policy violation");
    server.enqueue(upgrade(serverSide));
    ReconnectingSocket socket = track(builder("/feed").build());
    TestObserver<Message> messages = socket.messages().test();
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    Failed failed = states.await(Failed.class);

    assertThat(failed.cause()).isInstanceOf(TerminalFailureException.class);
    assertThat(failed.cause().getCause())
        .isInstanceOfSatisfying(
            ServerClosedException.class, c -> assertThat(c.code()).isEqualTo(1008));
    messages.awaitDone(5, SECONDS);
    messages.assertError(failed.cause());
    assertThat(serverSide.await("closed:", 5)).isNotNull();
    assertThat(server.takeRequest(5, SECONDS)).isNotNull();
    assertThat(server.takeRequest(300, MILLISECONDS)).as("a request after close 1008").isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(names(states.states()))
        .containsExactly("Idle", "Connecting(0)", "Connected", "Failed");
  }

  /**
   * The Javadoc of {@code messages()}: to go on after a give-up, "call connect(), then subscribe
   * again". A user who does that in reaction to {@code Failed} sees the next episode's messages.
   */
  @Test
  void connectingThenSubscribingWhenFailedIsEmittedSeesTheNextConnectsMessages() {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(upgrade(ServerListener.greeting("welcome")));
    ReconnectingSocket socket = track(builder("/feed").build());
    TestObserver<Message> next = new TestObserver<>();
    socket
        .states()
        .ofType(Failed.class)
        .firstElement()
        .subscribe(
            failed -> {
              socket.connect();
              socket.messages().subscribe(next);
            });

    socket.connect();

    next.awaitCount(1);
    next.assertNoErrors().assertValuesOnly(Message.text("welcome"));
  }

  // --- Heartbeat ---------------------------------------------------------------------------------

  @Test
  void silentServerIsDeclaredDeadByThePassiveHeartbeatNoEarlierThanItsTimeout() {
    server.enqueue(upgrade(ServerListener.silent()));
    ReconnectingSocket socket =
        track(builder("/quiet").heartbeat(Heartbeat.passive(ofMillis(300))).build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    StateHistory.Seen connected = states.awaitSeen(Connected.class::isInstance, 5);
    StateHistory.Seen waiting = states.awaitSeen(WaitingToReconnect.class::isInstance, 10);

    assertThat(((WaitingToReconnect) waiting.state()).cause())
        .isInstanceOf(HeartbeatTimeoutException.class)
        .hasMessageContaining("300ms");
    Duration silence = Duration.ofNanos(waiting.nanos() - connected.nanos());
    // The silence clock starts when the WebSocket opens, a moment before Connected is emitted, and
    // reads the scheduler's millisecond wall clock, so the drop can come up to ~1 ms "early"
    // measured from Connected (seen: 299.99 ms once in 40 runs). Allow that, nothing more.
    assertThat(silence).isGreaterThanOrEqualTo(ofMillis(300 - 5)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void applicationHeartbeatAnsweredByTheServerKeepsTheConnectionAndHidesPongs() throws Exception {
    ServerListener serverSide = ServerListener.answering("ping", "pong");
    server.enqueue(upgrade(serverSide));
    ReconnectingSocket socket =
        track(
            builder("/live")
                .heartbeat(Heartbeat.application(ofMillis(200), ofMillis(200), "ping", "pong"))
                .build());
    TestObserver<Message> messages = socket.messages().test();
    TestObserver<Duration> roundTrips = socket.roundTripTimes().test();
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    StateHistory.Seen connected = states.awaitSeen(Connected.class::isInstance, 5);
    // A ping goes out after 200 ms of silence, so 8 round trips take at least 1.6 s.
    roundTrips.awaitCount(8);
    long upFor = System.nanoTime() - connected.nanos();

    assertThat(roundTrips.values())
        .hasSizeGreaterThanOrEqualTo(8)
        .allSatisfy(rtt -> assertThat(rtt).isGreaterThanOrEqualTo(Duration.ZERO));
    assertThat(Duration.ofNanos(upFor)).isGreaterThanOrEqualTo(ofMillis(1500));
    assertThat(socket.state()).isInstanceOf(Connected.class);
    assertThat(names(states.states())).containsExactly("Idle", "Connecting(0)", "Connected");
    messages.assertNoValues().assertNoErrors();
    assertThat(serverSide.events.stream().filter("text:ping"::equals).count())
        .isGreaterThanOrEqualTo(8);
  }

  /**
   * The default heartbeat mode: OkHttp sends WebSocket ping frames and MockWebServer (like any
   * compliant server) answers with pongs, so a quiet but healthy connection is never declared dead.
   */
  @Test
  void protocolHeartbeatAnsweredByACompliantServerKeepsAQuietConnection() throws Exception {
    assertQuietPongingServerKeepsTheConnection(
        builder("/quiet").heartbeat(Heartbeat.protocol(ofMillis(100), ofMillis(100))));
  }

  @Test
  void protocolHeartbeatSeesPongsOnAClientWithItsOwnSocketFactory() throws Exception {
    assertQuietPongingServerKeepsTheConnection(
        builder("/quiet")
            .client(new OkHttpClient.Builder().socketFactory(new CallersSocketFactory()).build())
            .heartbeat(Heartbeat.protocol(ofMillis(100), ofMillis(100))));
  }

  private void assertQuietPongingServerKeepsTheConnection(ReconnectingSocket.Builder builder)
      throws Exception {
    server.enqueue(upgrade(ServerListener.silent()));
    ReconnectingSocket socket = track(builder.build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    states.await(Connected.class);

    // Many ping intervals (and interval + timeout windows) pass without a drop. This waits for an
    // event that must not happen, so its bound is the length of the check.
    var drop = socket.states().filter(s -> !(s instanceof Connected)).firstElement().test();
    assertThat(drop.await(1500, MILLISECONDS)).as("dropped: %s", drop.values()).isFalse();
    drop.dispose();
    assertThat(names(states.states())).containsExactly("Idle", "Connecting(0)", "Connected");
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  // --- disconnect() and close() ----------------------------------------------------------------

  @Test
  void disconnectSendsCloseCode1000StaysIdleAndCanConnectAgain() throws Exception {
    ServerListener first = ServerListener.echo();
    server.enqueue(upgrade(first));
    ReconnectingSocket socket = track(builder("/feed").build());
    StateHistory states = StateHistory.of(socket);

    socket.connect();
    states.await(Connected.class);
    socket.disconnect();

    assertThat(first.await("closing:", 5)).isEqualTo("closing:1000");
    assertThat(first.await("closed:", 5)).isNotNull();
    socket.states().filter(Idle.class::isInstance).timeout(5, SECONDS).blockingFirst();
    assertThat(server.takeRequest(5, SECONDS)).isNotNull();
    assertThat(server.takeRequest(300, MILLISECONDS)).as("a request after disconnect()").isNull();
    assertThat(socket.state()).isInstanceOf(Idle.class);
    assertThat(socket.send("queued while idle")).isEqualTo(SendResult.QUEUED);

    ServerListener second = ServerListener.echo();
    server.enqueue(upgrade(second));
    TestObserver<Message> messages = socket.messages().test();
    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(5, SECONDS).blockingFirst();
    assertThat(second.await("open", 5)).isNotNull();
    assertThat(socket.send("again").isAccepted()).isTrue();
    messages.awaitCount(2);
    messages.assertValuesOnly(Message.text("queued while idle"), Message.text("again"));
    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(names(states.states()))
        .containsExactly(
            "Idle", "Connecting(0)", "Connected", "Idle", "Connecting(0)", "Connected");
  }

  @Test
  void closeCompletesTheStreamsEndsInClosedAndSendsCloseCode1000() throws Exception {
    ServerListener serverSide = ServerListener.echo();
    server.enqueue(upgrade(serverSide));
    ReconnectingSocket socket = track(builder("/feed").build());
    TestObserver<Message> messages = socket.messages().test();
    TestObserver<ConnectionState> stateObserver = socket.states().test();
    TestObserver<Duration> roundTrips = socket.roundTripTimes().test();

    socket.connect();
    socket.states().filter(Connected.class::isInstance).timeout(5, SECONDS).blockingFirst();
    socket.close();

    stateObserver.awaitDone(5, SECONDS);
    stateObserver.assertComplete().assertNoErrors();
    assertThat(stateObserver.values().get(stateObserver.values().size() - 1))
        .isInstanceOf(Closed.class);
    messages.awaitDone(5, SECONDS);
    messages.assertComplete().assertNoErrors();
    roundTrips.awaitDone(5, SECONDS);
    roundTrips.assertComplete();
    assertThat(serverSide.await("closing:", 5)).isEqualTo("closing:1000");
    assertThat(socket.send("after close")).isEqualTo(SendResult.REJECTED_CLOSED);
  }

  // --- Logging -----------------------------------------------------------------------------------

  @Test
  void logsNeverContainTheUrlsUserInfoOrQuery() throws Exception {
    String url =
        "ws://user:secretpw@"
            + server.getHostName()
            + ":"
            + server.getPort()
            + "/feed?token=SECRET123";
    String log = captureLogWhileFailingThenConnecting(ReconnectingSocket.builder(url));

    assertThat(log).contains("/feed").doesNotContain("SECRET123").doesNotContain("secretpw");
    // The secrets were really in play: the token travelled to the server in the request line.
    assertThat(server.takeRequest(5, SECONDS).getUrl().toString()).contains("SECRET123");
  }

  @Test
  void logsNeverContainRequestHeaderValues() throws Exception {
    Request request =
        new Request.Builder()
            .url("ws://" + server.getHostName() + ":" + server.getPort() + "/feed?token=SECRET123")
            .header("Authorization", "Bearer SECRET456")
            .build();
    String log = captureLogWhileFailingThenConnecting(ReconnectingSocket.builder(request));

    assertThat(log).contains("/feed").doesNotContain("SECRET123").doesNotContain("SECRET456");
    assertThat(server.takeRequest(5, SECONDS).getHeaders().get("Authorization"))
        .isEqualTo("Bearer SECRET456");
  }

  /**
   * Runs a socket through a terminal 401, a second connect() that meets a 500 and retries, a
   * connection that receives and sends a message, and close(), with System.err (where slf4j-simple
   * writes, at TRACE for dev.lifeline) captured. Returns what was logged.
   */
  private String captureLogWhileFailingThenConnecting(ReconnectingSocket.Builder builder)
      throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(500).build());
    ServerListener serverSide = ServerListener.greeting("welcome");
    server.enqueue(upgrade(serverSide));

    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.err;
    System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      ReconnectingSocket socket = track(configure(builder).build());
      StateHistory states = StateHistory.of(socket);
      socket.connect();
      states.await(Failed.class);

      socket.connect();
      states.await(WaitingToReconnect.class);
      // Subscribed once the new episode is under way and before any connection of it opened: sees
      // all its messages.
      TestObserver<Message> messages = socket.messages().test();
      socket.states().filter(Connected.class::isInstance).timeout(5, SECONDS).blockingFirst();
      messages.awaitCount(1);
      messages.assertValuesOnly(Message.text("welcome"));
      assertThat(socket.send("hello")).isEqualTo(SendResult.SENT);
      messages.awaitCount(2);
      socket.close();
      states.awaitComplete();
      assertThat(serverSide.await("closing:", 5)).isEqualTo("closing:1000");
    } finally {
      System.setErr(original);
    }
    String log = buffer.toString(StandardCharsets.UTF_8);
    assertThat(log).as("captured log").isNotBlank().contains("HTTP 401").contains("HTTP 500");
    return log;
  }

  // --- Helpers ---------------------------------------------------------------------------------

  private ReconnectingSocket track(ReconnectingSocket socket) {
    sockets.add(socket);
    return socket;
  }

  /** A builder for the server's {@code path} with short, deterministic test settings. */
  private ReconnectingSocket.Builder builder(String path) {
    String url = server.url(path).toString().replaceFirst("^http", "ws");
    return configure(ReconnectingSocket.builder(url));
  }

  private static ReconnectingSocket.Builder configure(ReconnectingSocket.Builder builder) {
    return builder
        .heartbeat(Heartbeat.none())
        .retryPolicy(Backoff.exponential(ofMillis(20), ofMillis(100)))
        .random(new Random(1));
  }

  private static MockResponse upgrade(ServerListener listener) {
    return new MockResponse.Builder().webSocketUpgrade(listener).build();
  }

  /** Short names of states, e.g. {@code Connecting(2)}, {@code Waiting(1)}, {@code Connected}. */
  static List<String> names(List<ConnectionState> states) {
    return states.stream().map(WireTest::name).collect(Collectors.toList());
  }

  static String name(ConnectionState s) {
    if (s instanceof Connecting c) return "Connecting(" + c.retry() + ")";
    if (s instanceof WaitingToReconnect w) return "Waiting(" + w.retry() + ")";
    return s.getClass().getSimpleName();
  }
}
