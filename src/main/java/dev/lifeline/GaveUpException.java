package dev.lifeline;

/**
 * The socket stopped trying to connect. This is the error {@link ReconnectingSocket#messages()}
 * signals, and the cause carried by {@link ConnectionState.Failed}. {@link #getCause()} is the last
 * failure (never null). Call {@link ReconnectingSocket#connect()} to start again with a full
 * budget.
 */
public abstract sealed class GaveUpException extends LifelineException
    permits RetriesExhaustedException, TerminalFailureException {
  private static final long serialVersionUID = 1L;

  private final int retries;

  GaveUpException(String message, Throwable lastCause, int retries) {
    super(message, lastCause);
    this.retries = retries;
  }

  /** {@code SimpleName: message}, shorter than {@link Throwable#toString()} in a message. */
  static String describe(Throwable t) {
    String message = t.getMessage();
    return t.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** How many retries the outage made before giving up (0 when the first failure was terminal). */
  public int retries() {
    return retries;
  }
}
