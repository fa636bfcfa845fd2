package dev.lifeline.fault;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Correlation;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;
import org.jspecify.annotations.Nullable;

/** What the fault scenarios share: the 1 s / 1 s heartbeat, a fast backoff, bounded waits. */
final class Fixtures {
  private Fixtures() {}

  static final Duration INTERVAL = ofSeconds(1);
  static final Duration TIMEOUT = ofSeconds(1);

  /** interval + timeout + 10 %: the longest a dead link may go unnoticed on this noisy machine. */
  static final long DETECTION_BOUND_MS = INTERVAL.plus(TIMEOUT).toMillis() * 11 / 10;

  /**
   * How much earlier than interval + timeout a detection may be stamped: the socket's scheduler
   * clock counts whole milliseconds, the test's {@code System.nanoTime()} does not.
   */
  static final long CLOCK_SLACK_MS = 20;

  /**
   * The application heartbeat: "ping" after 1 s of silence, dead 1 s after it left with no answer.
   */
  static Heartbeat heartbeat() {
    return Heartbeat.application(INTERVAL, TIMEOUT, "ping", "pong");
  }

  /** 100 ms doubling to 500 ms, jitter 0.5, unlimited retries. */
  static Backoff fastBackoff() {
    return Backoff.exponential(ofMillis(100), ofMillis(500)).jitter(0.5);
  }

  /**
   * A socket to {@code path} through {@code proxy} with the scenarios' heartbeat and a seeded
   * {@code Random}; each scenario adds its backoff and anything else it needs.
   */
  static ReconnectingSocket.Builder socketThrough(FaultProxy proxy, String path) {
    return ReconnectingSocket.builder(proxy.url(path)).heartbeat(heartbeat()).random(new Random(1));
  }

  /**
   * Acknowledged sends as {@link ServerSide} answers them: a request {@code "req:ID"} is
   * acknowledged by {@code "ack:ID"}.
   */
  static Correlation acknowledgements() {
    return Correlation.by(m -> idAfter("req:", m), m -> idAfter("ack:", m));
  }

  private static @Nullable String idAfter(String prefix, Message m) {
    String text = m instanceof Message.Text t ? t.text() : "";
    return text.startsWith(prefix) ? text.substring(prefix.length()) : null;
  }

  /** {@code ws://} URL of {@code path} on {@code server}. */
  static String wsUrl(MockWebServer server, String path) {
    return server.url(path).toString().replaceFirst("^http", "ws");
  }

  /** Short names of states, for comparing sequences: "Connecting(1)", "Waiting(2)", "Failed"… */
  static List<String> names(List<ConnectionState> states) {
    return states.stream().map(Fixtures::name).collect(Collectors.toList());
  }

  static String name(ConnectionState s) {
    if (s instanceof Connecting c) return "Connecting(" + c.retry() + ")";
    if (s instanceof WaitingToReconnect w) return "Waiting(" + w.retry() + ")";
    return s.getClass().getSimpleName();
  }

  /** Stops the threads of a client the test built itself. */
  static void shutDown(OkHttpClient client) {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }
}
