package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * Everything a {@link RetryPolicy} may base its decision on. An <em>outage</em> (episode) runs from
 * the first unexpected drop or failed attempt to the next connection that proves healthy.
 *
 * @param attempt the retry about to be scheduled, 1-based within the outage
 * @param elapsed time since the outage began, on the socket scheduler's clock
 * @param cause why the previous connection or attempt ended
 * @param everConnected whether any attempt in this outage reached an open WebSocket (a server that
 *     accepts and then drops at once shows {@code true} here)
 * @param serverRetryAfter the server's {@code Retry-After} on a 429/503 upgrade, if any; the socket
 *     waits at least this long (up to its ceiling) whatever the policy returns
 * @param random the socket's injected source of randomness, for jitter
 */
public record RetryContext(
    int attempt,
    Duration elapsed,
    Throwable cause,
    boolean everConnected,
    Optional<Duration> serverRetryAfter,
    Random random) {

  /** Validates the values. */
  public RetryContext {
    if (attempt < 1) throw new IllegalArgumentException("attempt < 1: " + attempt);
    Objects.requireNonNull(elapsed, "elapsed");
    Objects.requireNonNull(cause, "cause");
    Objects.requireNonNull(serverRetryAfter, "serverRetryAfter");
    Objects.requireNonNull(random, "random");
  }
}
