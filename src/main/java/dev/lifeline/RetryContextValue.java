package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/** The values of a {@link RetryContext}. */
record RetryContextValue(
    int retry,
    Duration elapsed,
    Throwable cause,
    boolean everConnected,
    Optional<Duration> serverRetryAfter,
    Random random)
    implements RetryContext {

  RetryContextValue {
    if (retry < 1) throw new IllegalArgumentException("retry must be >= 1 but was " + retry);
    Objects.requireNonNull(elapsed, "elapsed");
    if (elapsed.isNegative()) {
      throw new IllegalArgumentException("elapsed must be >= 0 but was " + elapsed);
    }
    Objects.requireNonNull(cause, "cause");
    Objects.requireNonNull(serverRetryAfter, "serverRetryAfter");
    Objects.requireNonNull(random, "random");
  }
}
