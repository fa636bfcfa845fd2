package dev.lifeline;

import java.time.Duration;
import java.util.Optional;
import java.util.Random;

/**
 * Everything a {@link RetryPolicy} may base its decision on. An <em>outage</em> (episode) runs from
 * the first unexpected drop or failed attempt to the next connection that proves healthy.
 *
 * <p>An interface, so that it can grow: the socket makes its own; a test of a policy makes one with
 * {@link #of}.
 */
public interface RetryContext {

  /** The retry about to be scheduled: 1 for the first retry of the outage. */
  int retry();

  /** Time since the outage began, on the socket scheduler's clock. */
  Duration elapsed();

  /** Why the previous connection or attempt ended. */
  Throwable cause();

  /**
   * Whether any attempt in this outage reached an open WebSocket (a server that accepts and then
   * drops at once shows {@code true} here).
   */
  boolean everConnected();

  /**
   * The server's {@code Retry-After} on a 429/503 upgrade, if any; the socket waits at least this
   * long (up to its ceiling) whatever the policy returns.
   */
  Optional<Duration> serverRetryAfter();

  /** The socket's injected source of randomness, for jitter. */
  Random random();

  /**
   * Returns a context with these values: for testing a {@link RetryPolicy}.
   *
   * @throws IllegalArgumentException if {@code retry < 1} or {@code elapsed} is negative
   * @throws NullPointerException if an argument is null
   */
  static RetryContext of(
      int retry,
      Duration elapsed,
      Throwable cause,
      boolean everConnected,
      Optional<Duration> serverRetryAfter,
      Random random) {
    return new RetryContextValue(retry, elapsed, cause, everConnected, serverRetryAfter, random);
  }
}
