package dev.lifeline;

import java.util.Objects;

/**
 * A message the socket accepted ({@link SendResult#QUEUED}, or {@link SendResult#SENT} and back in
 * the outbox because its connection died before writing it) and will not send, with the reason:
 * {@link OutboxExpiredException}, {@link OutboxOverflowException}, the {@link GaveUpException} of a
 * give-up, or {@link SocketClosedException}.
 *
 * @param message the message, as it was sent
 * @param reason why it will not be sent
 */
public record Undelivered(Message message, LifelineException reason) {
  /** Validates the values. */
  public Undelivered {
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(reason, "reason");
  }
}
