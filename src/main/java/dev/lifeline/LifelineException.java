package dev.lifeline;

import org.jspecify.annotations.Nullable;

/**
 * Base type of every exception Lifeline creates. Unchecked: they arrive through RxJava's {@code
 * onError} and in {@link ConnectionState} values rather than being thrown at callers.
 */
public class LifelineException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a message and an optional cause. */
  public LifelineException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Creates an exception with a message. */
  public LifelineException(String message) {
    super(message);
  }

  /**
   * Creates the exception, with or without a stack trace: a report raised on the socket's own
   * thread has none worth keeping.
   */
  protected LifelineException(
      String message, @Nullable Throwable cause, boolean writableStackTrace) {
    super(message, cause, true, writableStackTrace);
  }
}
