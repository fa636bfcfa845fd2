package dev.lifeline;

import dev.lifeline.internal.Durations;
import java.time.Duration;

/**
 * A connection attempt did not become ready within its deadline. One deadline covers the whole
 * attempt: waiting in OkHttp's dispatcher queue, TCP, TLS, the HTTP upgrade and the ready hook.
 * Retried by default.
 */
public final class AttemptTimeoutException extends LifelineException {
  private static final long serialVersionUID = 1L;

  private final Duration timeout;

  /**
   * Creates the exception.
   *
   * @param timeout the attempt deadline that passed
   * @param stage what the attempt was still waiting for
   */
  public AttemptTimeoutException(Duration timeout, String stage) {
    super(
        "connection attempt did not become ready within "
            + Durations.format(timeout)
            + ": still waiting for "
            + stage);
    this.timeout = timeout;
  }

  /** The deadline that passed. */
  public Duration timeout() {
    return timeout;
  }
}
