package dev.lifeline;

/**
 * The ready hook (authenticate, resubscribe…) failed or threw; the attempt counts as failed. Its
 * {@linkplain #getCause() cause} is what the hook signalled, and decides whether to retry: by
 * default a hook failure is retried unless its cause is itself terminal.
 */
public final class ReadyHookException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Wraps what the ready hook signalled. */
  public ReadyHookException(Throwable cause) {
    super("ready hook failed: " + cause, cause);
  }
}
