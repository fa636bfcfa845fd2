package dev.lifeline;

import dev.lifeline.internal.Durations;
import java.time.Duration;

/** No reply with the message's correlation id arrived within the correlation timeout. */
public final class AcknowledgementTimeoutException extends LifelineException {
  private static final long serialVersionUID = 1L;

  private final String id;

  /** Creates the exception for the message with correlation id {@code id}. */
  public AcknowledgementTimeoutException(String id, Duration timeout) {
    super("no reply to message " + id + " within " + Durations.format(timeout));
    this.id = id;
  }

  /** The correlation id of the message that got no reply. */
  public String id() {
    return id;
  }
}
