package dev.lifeline;

/**
 * The failure was one that retrying cannot fix (HTTP 401 on the upgrade, a TLS certificate failure,
 * a close code such as 1008 policy violation…), so the socket gave up without spending its budget.
 * {@link #getCause()} is that failure.
 */
public final class TerminalFailureException extends GaveUpException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for a non-retryable {@code cause} met after {@code retries} retries. */
  public TerminalFailureException(int retries, Throwable cause) {
    super("gave up: not retryable: " + describe(cause), cause, retries);
  }
}
