package dev.lifeline;

import dev.lifeline.internal.Durations;
import java.time.Duration;

/** A queued message waited longer than the outbox's time-to-live and was not sent. */
public final class OutboxExpiredException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for a message that waited past {@code timeToLive}. */
  public OutboxExpiredException(Duration timeToLive) {
    super(
        "message expired in the outbox after its time-to-live of "
            + Durations.format(timeToLive)
            + " without a connection to send it on");
  }
}
