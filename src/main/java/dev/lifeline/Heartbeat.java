package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * How a {@link ReconnectingSocket} knows its connection is alive: one of four immutable records,
 * made by the factories below and told apart with {@code instanceof} or a {@code switch}.
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
 *   <li>{@link #application} ({@link Application}) — your ping message and pong matcher. Matched
 *       pongs are consumed (not emitted on {@code messages()}) and give {@link
 *       ReconnectingSocket#roundTripTimes()}. Catches a server whose application has hung even if
 *       its WebSocket layer still answers pings.
 *   <li>{@link #protocol} ({@link Protocol}) — WebSocket ping frames sent by OkHttp, answered by
 *       any compliant server. The default: {@code protocol(15s, 10s)}.
 *   <li>{@link #passive} ({@link Passive}) — no pings; for servers that push traffic on their own.
 *       Dead after {@code timeout} of silence.
 *   <li>{@link #none} ({@link None}) — no liveness check at all.
 * </ul>
 *
 * <p>Every interval and timeout is at least {@link #MIN_DURATION} (100 ms): a shorter one declares
 * healthy connections dead on ordinary networks, where a round trip alone can take that long.
 */
public sealed interface Heartbeat
    permits Heartbeat.None, Heartbeat.Passive, Heartbeat.Protocol, Heartbeat.Application {

  /** The shortest interval or timeout a heartbeat accepts: 100 ms. */
  Duration MIN_DURATION = Duration.ofMillis(100);

  /** Returns the default heartbeat: {@code protocol(15 s, 10 s)}. */
  static Heartbeat defaults() {
    return Protocol.DEFAULT;
  }

  /** Returns a heartbeat that never declares a connection dead. */
  static None none() {
    return None.INSTANCE;
  }

  /**
   * Returns an application-level heartbeat: after {@code interval} of silence, send {@code
   * ping.get()}; a message for which {@code isPong} is true answers it. The connection is dead if
   * nothing at all arrives within {@code timeout} after the ping left OkHttp's send queue.
   *
   * <p>{@code ping} runs on the scheduler's thread; {@code isPong} runs on OkHttp's reader thread
   * for every inbound message, so keep it cheap. If either throws or the supplier returns null, the
   * socket logs it and treats the connection as if that ping had not been answered; it does not
   * wedge.
   *
   * <p>Against a server that echoes every message, the echoed ping arrives too: make {@code isPong}
   * also match the ping (for example {@code m -> m.equals(ping) || m.equals(pong)}) so that echoes
   * count as answers and are not emitted on {@code messages()}.
   *
   * @throws IllegalArgumentException if {@code interval} or {@code timeout} is shorter than {@link
   *     #MIN_DURATION}
   * @throws NullPointerException if an argument is null
   */
  static Application application(
      Duration interval,
      Duration timeout,
      Supplier<? extends Message> ping,
      Predicate<? super Message> isPong) {
    return new Application(interval, timeout, ping, isPong);
  }

  /**
   * Returns an application-level heartbeat whose ping is the text {@code pingText}; a text message
   * equal to {@code pongText} answers it. Two heartbeats made with equal arguments are equal.
   *
   * @throws IllegalArgumentException if {@code interval} or {@code timeout} is shorter than {@link
   *     #MIN_DURATION}
   * @throws NullPointerException if an argument is null
   */
  static Application application(
      Duration interval, Duration timeout, String pingText, String pongText) {
    return new Application(
        interval,
        timeout,
        new HeartbeatTexts.Ping(Message.text(Objects.requireNonNull(pingText, "pingText"))),
        new HeartbeatTexts.Pong(Objects.requireNonNull(pongText, "pongText")));
  }

  /**
   * Returns a protocol-level heartbeat: OkHttp sends a WebSocket ping frame every {@code interval};
   * the connection is dead when nothing (not even a pong) has arrived for {@code interval +
   * timeout}.
   *
   * <p>OkHttp itself also fails a connection whose pong has not arrived by the time of the next
   * ping, so {@code timeout} may not exceed {@code interval}.
   *
   * @throws IllegalArgumentException if a duration is shorter than {@link #MIN_DURATION}, or {@code
   *     timeout > interval}
   * @throws NullPointerException if an argument is null
   */
  static Protocol protocol(Duration interval, Duration timeout) {
    return new Protocol(interval, timeout);
  }

  /**
   * Returns a heartbeat that sends nothing: the connection is dead after {@code timeout} with no
   * inbound frame. For servers that push traffic (or their own pings) on a schedule.
   *
   * @throws IllegalArgumentException if {@code timeout} is shorter than {@link #MIN_DURATION}
   * @throws NullPointerException if {@code timeout} is null
   */
  static Passive passive(Duration timeout) {
    return new Passive(timeout);
  }

  /** No liveness check: {@link Heartbeat#none()}. */
  record None() implements Heartbeat {
    private static final None INSTANCE = new None();

    @Override
    public String toString() {
      return "Heartbeat.none()";
    }
  }

  /**
   * No pings; silence longer than {@code timeout} is death: {@link Heartbeat#passive}.
   *
   * @param timeout how long the link may be silent, at least {@link #MIN_DURATION}
   */
  record Passive(Duration timeout) implements Heartbeat {
    /** Validates the timeout. */
    public Passive {
      requireAtLeastMinimum("timeout", timeout);
    }

    @Override
    public String toString() {
      return "Heartbeat.passive(" + timeout + ")";
    }
  }

  /**
   * WebSocket protocol pings sent by OkHttp: {@link Heartbeat#protocol}.
   *
   * @param interval how often OkHttp pings, at least {@link #MIN_DURATION}
   * @param timeout how long after a ping the link may stay silent, at least {@link #MIN_DURATION}
   *     and at most {@code interval}
   */
  record Protocol(Duration interval, Duration timeout) implements Heartbeat {
    private static final Protocol DEFAULT =
        new Protocol(Duration.ofSeconds(15), Duration.ofSeconds(10));

    /** Validates the durations. */
    public Protocol {
      requireAtLeastMinimum("interval", interval);
      requireAtLeastMinimum("timeout", timeout);
      if (timeout.compareTo(interval) > 0) {
        throw new IllegalArgumentException(
            "protocol heartbeat timeout ("
                + timeout
                + ") must not exceed its interval ("
                + interval
                + "): OkHttp fails a connection whose pong is later than one interval; use"
                + " Heartbeat.application(...) for a longer timeout");
      }
    }

    @Override
    public String toString() {
      return "Heartbeat.protocol(" + interval + ", " + timeout + ")";
    }
  }

  /**
   * Application-level ping messages and a pong matcher: {@link Heartbeat#application}.
   *
   * @param interval how long the link may be silent before a ping, at least {@link #MIN_DURATION}
   * @param timeout how long after a ping left OkHttp's queue the link may stay silent, at least
   *     {@link #MIN_DURATION}
   * @param ping makes each ping message
   * @param isPong tells a pong (or any message that answers a ping) from an ordinary message
   */
  record Application(
      Duration interval,
      Duration timeout,
      Supplier<? extends Message> ping,
      Predicate<? super Message> isPong)
      implements Heartbeat {
    /** Validates the durations and that the ping and matcher are present. */
    public Application {
      requireAtLeastMinimum("interval", interval);
      requireAtLeastMinimum("timeout", timeout);
      Objects.requireNonNull(ping, "ping");
      Objects.requireNonNull(isPong, "isPong");
    }

    @Override
    public String toString() {
      return "Heartbeat.application(" + interval + ", " + timeout + ")";
    }
  }

  private static void requireAtLeastMinimum(String name, Duration d) {
    Objects.requireNonNull(d, name);
    if (d.compareTo(MIN_DURATION) < 0) {
      throw new IllegalArgumentException(
          "heartbeat "
              + name
              + " must be at least "
              + MIN_DURATION.toMillis()
              + " ms (a shorter one declares healthy connections dead) but was "
              + d);
    }
  }
}
