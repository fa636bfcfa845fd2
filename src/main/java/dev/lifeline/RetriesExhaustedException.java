package dev.lifeline;

/**
 * The retry policy said stop: the outage used its whole budget (for {@link Backoff}, {@code
 * maxRetries} retries) without a connection that proved healthy. {@link #getCause()} is the last
 * failure.
 */
public final class RetriesExhaustedException extends GaveUpException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception after {@code retries} retries, the last of which failed with {@code
   * lastCause}.
   */
  public RetriesExhaustedException(int retries, Throwable lastCause) {
    super(
        "gave up after "
            + retries
            + (retries == 1 ? " retry" : " retries")
            + " without a healthy connection; last failure: "
            + describe(lastCause),
        lastCause,
        retries);
  }
}
