package dev.lifeline;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Where a {@link ReconnectingSocket} is in its lifecycle. Each state is a small immutable value;
 * {@link ReconnectingSocket#states()} emits one per transition.
 *
 * <pre>
 *   Idle ──connect()──▶ Connecting(0) ──open + ready hook──▶ Connected(since)
 *                          │    ▲                                │
 *                   failed │    │ delay over                     │ dropped
 *                          ▼    │                                ▼
 *                      WaitingToReconnect(retry, delay, cause) ◀┘
 *                          │
 *            budget spent  │  or terminal failure
 *                          ▼
 *                       Failed(cause) ──connect()──▶ Connecting(0)
 *
 *   disconnect() while connecting, connected or waiting ──▶ Idle
 *   close() from any state ──▶ Closed (terminal)
 * </pre>
 *
 * <p><b>Attempt numbers.</b> {@code 0} is the first try made by {@link
 * ReconnectingSocket#connect()}; {@code 1, 2, …} are the retries within the current outage. The
 * number starts again at {@code 1} after a connection that proved healthy, because the retry budget
 * is restored then.
 */
public sealed interface ConnectionState {

  /** Not connected and not trying: before {@code connect()} or after {@code disconnect()}. */
  Idle IDLE = new Idle();

  /** Terminal: {@code close()} was called. No further state follows. */
  Closed CLOSED = new Closed();

  /** Not connected and not trying to connect. */
  record Idle() implements ConnectionState {
    @Override
    public String toString() {
      return "Idle";
    }
  }

  /**
   * A connection attempt is in progress: TCP, TLS, the HTTP upgrade and the ready hook.
   *
   * @param retry 0 for the first try after {@code connect()}, else the retry number within the
   *     current outage (1-based)
   */
  record Connecting(int retry) implements ConnectionState {
    /** Validates the retry number. */
    public Connecting {
      if (retry < 0) throw new IllegalArgumentException("retry < 0: " + retry);
    }

    @Override
    public String toString() {
      return "Connecting(retry=" + retry + ")";
    }
  }

  /**
   * The socket is open and the ready hook has completed; sends go straight to the server.
   *
   * @param since when the connection became ready, on the clock of the socket's scheduler
   */
  record Connected(Instant since) implements ConnectionState {
    /** Validates that {@code since} is present. */
    public Connected {
      Objects.requireNonNull(since, "since");
    }

    @Override
    public String toString() {
      return "Connected(since=" + since + ")";
    }
  }

  /**
   * The connection dropped or an attempt failed; the next attempt starts after {@code delay} unless
   * {@link ReconnectingSocket#reconnectNow()} cuts the wait short.
   *
   * @param retry the retry the socket waits for: 1 for the first retry of the outage
   * @param delay how long the socket waits before that attempt
   * @param cause why the previous connection or attempt ended
   */
  record WaitingToReconnect(int retry, Duration delay, Throwable cause) implements ConnectionState {
    /** Validates the values. */
    public WaitingToReconnect {
      if (retry < 1) throw new IllegalArgumentException("retry < 1: " + retry);
      Objects.requireNonNull(delay, "delay");
      Objects.requireNonNull(cause, "cause");
      if (delay.isNegative()) throw new IllegalArgumentException("delay < 0: " + delay);
    }

    @Override
    public String toString() {
      return "WaitingToReconnect(retry=" + retry + ", delay=" + delay + ", cause=" + cause + ")";
    }
  }

  /**
   * The socket gave up: the retry budget of the outage is spent, or the failure was terminal (an
   * HTTP 401, a TLS certificate failure, a protocol-error close code…). {@link
   * ReconnectingSocket#connect()} starts again with a full budget.
   *
   * @param cause the typed reason; {@link GaveUpException#getCause()} is the last failure
   */
  record Failed(GaveUpException cause) implements ConnectionState {
    /** Validates that the cause is present. */
    public Failed {
      Objects.requireNonNull(cause, "cause");
    }

    @Override
    public String toString() {
      return "Failed(" + cause + ")";
    }
  }

  /** Terminal: {@code close()} was called. */
  record Closed() implements ConnectionState {
    @Override
    public String toString() {
      return "Closed";
    }
  }
}
