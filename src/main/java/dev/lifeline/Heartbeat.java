package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link ReconnectingSocket} knows its connection is alive. Immutable.
 *
 * <p><b>Liveness is any inbound frame.</b> A link that has been silent for {@code interval} gets
 * one ping (never more than one outstanding); if it is still silent {@code timeout} after the ping
 * left OkHttp's send queue, the connection is dead: it is cancelled (not closed gracefully, which
 * can wait a minute on a dead link) and the socket reconnects with a {@link
 * HeartbeatTimeoutException}. A black-holed link is therefore caught within {@code interval +
 * timeout} of its last sign of life.
 *
 * <p>A slow but live link is not dead: a ping queued behind a large message starts its deadline
 * only once it has left the queue, bytes of a large frame still arriving count as life, and time
 * spent by a slow subscriber on the reader thread is not counted as silence.
 *
 * <ul>
 *   <li>{@link #application} — your ping message and pong matcher. Matched pongs are consumed (not
 *       emitted on {@code messages()}) and give {@link ReconnectingSocket#roundTripTimes()}.
 *       Catches a server whose application has hung even if its WebSocket layer still answers
 *       pings.
 *   <li>{@link #protocol} — WebSocket ping frames sent by OkHttp, answered by any compliant server.
 *       The default: {@code protocol(15s, 10s)}.
 *   <li>{@link #passive} — no pings; for servers that push traffic on their own. Dead after {@code
 *       timeout} of silence.
 *   <li>{@link #none} — no liveness check at all.
 * </ul>
 */
public final class Heartbeat {

  /** The kind of heartbeat. */
  public enum Mode {
    /** No liveness check. */
    NONE,
    /** No pings; silence longer than the timeout is death. */
    PASSIVE,
    /** WebSocket protocol pings sent by OkHttp. */
    PROTOCOL,
    /** Application-level ping messages and a pong matcher. */
    APPLICATION
  }

  private static final Heartbeat NONE =
      new Heartbeat(Mode.NONE, Duration.ZERO, Duration.ZERO, null, null);
  private static final Heartbeat DEFAULT =
      new Heartbeat(Mode.PROTOCOL, Duration.ofSeconds(15), Duration.ofSeconds(10), null, null);

  private final Mode mode;
  private final Duration interval;
  private final Duration timeout;
  private final @Nullable Supplier<? extends Message> ping;
  private final @Nullable Predicate<? super Message> isPong;

  private Heartbeat(
      Mode mode,
      Duration interval,
      Duration timeout,
      @Nullable Supplier<? extends Message> ping,
      @Nullable Predicate<? super Message> isPong) {
    this.mode = mode;
    this.interval = interval;
    this.timeout = timeout;
    this.ping = ping;
    this.isPong = isPong;
  }

  /** Returns the default heartbeat: {@code protocol(15 s, 10 s)}. */
  public static Heartbeat defaults() {
    return DEFAULT;
  }

  /** Returns a heartbeat that never declares a connection dead. */
  public static Heartbeat none() {
    return NONE;
  }

  /**
   * Returns an application-level heartbeat: after {@code interval} of silence, send {@code
   * ping.get()}; a message for which {@code isPong} is true answers it. The connection is dead if
   * nothing at all arrives within {@code timeout} after the ping left OkHttp's send queue.
   *
   * <p>{@code ping} runs on the scheduler's thread; {@code isPong} runs on OkHttp's reader thread
   * for every inbound message, so keep it cheap.
   *
   * @throws IllegalArgumentException if {@code interval} or {@code timeout} is not positive
   */
  public static Heartbeat application(
      Duration interval,
      Duration timeout,
      Supplier<? extends Message> ping,
      Predicate<? super Message> isPong) {
    requirePositive("interval", interval);
    requirePositive("timeout", timeout);
    Objects.requireNonNull(ping, "ping");
    Objects.requireNonNull(isPong, "isPong");
    return new Heartbeat(Mode.APPLICATION, interval, timeout, ping, isPong);
  }

  /**
   * Returns an application-level heartbeat whose ping is the text {@code pingText}; a text message
   * equal to {@code pongText} answers it.
   *
   * @throws IllegalArgumentException if {@code interval} or {@code timeout} is not positive
   */
  public static Heartbeat application(
      Duration interval, Duration timeout, String pingText, String pongText) {
    Objects.requireNonNull(pingText, "pingText");
    Objects.requireNonNull(pongText, "pongText");
    Message pingMessage = Message.text(pingText);
    return application(
        interval,
        timeout,
        () -> pingMessage,
        m -> m instanceof Message.Text t && t.text().equals(pongText));
  }

  /**
   * Returns a protocol-level heartbeat: OkHttp sends a WebSocket ping frame every {@code interval};
   * the connection is dead when nothing (not even a pong) has arrived for {@code interval +
   * timeout}.
   *
   * <p>OkHttp itself also fails a connection whose pong has not arrived by the time of the next
   * ping, so {@code timeout} may not exceed {@code interval}.
   *
   * @throws IllegalArgumentException if a duration is not positive, or {@code timeout > interval}
   */
  public static Heartbeat protocol(Duration interval, Duration timeout) {
    requirePositive("interval", interval);
    requirePositive("timeout", timeout);
    if (timeout.compareTo(interval) > 0) {
      throw new IllegalArgumentException(
          "protocol heartbeat timeout ("
              + timeout
              + ") must not exceed its interval ("
              + interval
              + "): OkHttp fails a connection whose pong is later than one interval; use"
              + " Heartbeat.application(...) for a longer timeout");
    }
    return new Heartbeat(Mode.PROTOCOL, interval, timeout, null, null);
  }

  /**
   * Returns a passive heartbeat: no pings; the connection is dead after {@code timeout} without any
   * inbound traffic. For servers that push data or their own pings regularly.
   *
   * @throws IllegalArgumentException if {@code timeout} is not positive
   */
  public static Heartbeat passive(Duration timeout) {
    requirePositive("timeout", timeout);
    return new Heartbeat(Mode.PASSIVE, Duration.ZERO, timeout, null, null);
  }

  /** The kind of heartbeat. */
  public Mode mode() {
    return mode;
  }

  /** Silence before a ping; zero for {@link Mode#PASSIVE} and {@link Mode#NONE}. */
  public Duration interval() {
    return interval;
  }

  /** How long to wait for life after a ping (or, passive, after the last traffic). */
  public Duration timeout() {
    return timeout;
  }

  /**
   * Returns the next application ping.
   *
   * @throws IllegalStateException if this is not an application heartbeat
   */
  public Message newPing() {
    if (ping == null) throw new IllegalStateException(mode + " heartbeat has no ping message");
    return Objects.requireNonNull(ping.get(), "heartbeat ping supplier returned null");
  }

  /** Returns whether {@code message} is an application pong; always false for other modes. */
  public boolean isPong(Message message) {
    return isPong != null && isPong.test(message);
  }

  @Override
  public String toString() {
    switch (mode) {
      case NONE:
        return "Heartbeat.none()";
      case PASSIVE:
        return "Heartbeat.passive(" + timeout + ")";
      default:
        return "Heartbeat."
            + mode.name().toLowerCase(java.util.Locale.ROOT)
            + "("
            + interval
            + ", "
            + timeout
            + ")";
    }
  }

  private static void requirePositive(String name, Duration d) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be > 0 but was " + d);
    }
  }
}
