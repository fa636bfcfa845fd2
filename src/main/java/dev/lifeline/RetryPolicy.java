package dev.lifeline;

import java.time.Duration;
import java.util.Optional;

/**
 * Decides, after a drop or a failed attempt that is retryable, how long to wait before the next
 * attempt, or to stop. A policy is a pure function of its {@link RetryContext}: it keeps no state
 * between calls, so one instance may serve many sockets. Randomness comes from {@link
 * RetryContext#random()} so that tests can make it deterministic.
 *
 * <p>Non-retryable failures (see {@link Failures#isRetryable(Throwable)}) never reach the policy;
 * the socket gives up with a {@link TerminalFailureException}. {@link Backoff} is the built-in
 * policy.
 *
 * <p>Called on the thread that processes the socket's events (never under a lock). A policy that
 * throws makes the socket give up with that exception as the last cause.
 */
@FunctionalInterface
public interface RetryPolicy {

  /**
   * Returns the delay before retry number {@code context.retry()}, or empty to give up with a
   * {@link RetriesExhaustedException}.
   */
  Optional<Duration> nextDelay(RetryContext context);
}
