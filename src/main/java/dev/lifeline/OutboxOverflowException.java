package dev.lifeline;

/** A queued message was dropped to make room for a newer one ({@link Outbox#dropOldest()}). */
public final class OutboxOverflowException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for an outbox with these limits. */
  public OutboxOverflowException(Outbox outbox) {
    super(
        "message dropped from a full outbox ("
            + outbox.maxMessages()
            + " messages, "
            + outbox.maxBytes()
            + " bytes) to make room for a newer one");
  }
}
