package dev.lifeline;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A message the socket will not deliver, with the {@link #reason() reason} and the {@link
 * #message() message} itself: the one failure of every way a send can end without its message going
 * out (or, for an acknowledged send, without its reply). {@link ReconnectingSocket#undelivered()}
 * emits these for plain sends; {@link ReconnectingSocket#sendWritten} and {@link Replies} fail with
 * them.
 *
 * <p>The message text says what happened in words; {@link #getCause()} is the socket's {@link
 * GaveUpException} for {@link Reason#GAVE_UP}, and null otherwise. Made without a stack trace: it
 * is a report, raised on the socket's own thread, not a call site's error.
 */
public final class NotDeliveredException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Why a message was not delivered. */
  public enum Reason {
    /** Its time-to-live ({@link Outbox#timeToLive()}) passed while it waited in the outbox. */
    EXPIRED,
    /** A full outbox with {@link Outbox#dropOldest()} dropped it to make room for a newer one. */
    DROPPED_FOR_NEWER,
    /** No reply with its id came within the correlation's timeout. */
    NO_REPLY,
    /** The socket gave up; {@link #getCause()} is the {@link GaveUpException}. */
    GAVE_UP,
    /** The socket was closed before the message went out, or before the send was made. */
    CLOSED,
    /** Not taken: the outbox was full ({@link SendResult#REJECTED_OUTBOX_FULL}). */
    OUTBOX_FULL,
    /**
     * Not taken: larger than OkHttp can send or the outbox can hold ({@link
     * SendResult#REJECTED_TOO_LARGE}).
     */
    TOO_LARGE;

    /** The reason for a send that returned {@code result}; throws if that send was accepted. */
    public static Reason of(SendResult result) {
      switch (result) {
        case REJECTED_OUTBOX_FULL:
          return OUTBOX_FULL;
        case REJECTED_TOO_LARGE:
          return TOO_LARGE;
        case REJECTED_CLOSED:
          return CLOSED;
        default:
          throw new IllegalArgumentException(result + " is not a refusal");
      }
    }
  }

  private final Reason reason;
  private final transient Message undelivered;

  /**
   * Creates the report.
   *
   * @param reason why
   * @param message the message that was not delivered
   * @param detail what happened, in words
   * @param cause the socket's {@link GaveUpException} for {@link Reason#GAVE_UP}; else null
   */
  public NotDeliveredException(
      Reason reason, Message message, String detail, @Nullable Throwable cause) {
    super(Objects.requireNonNull(detail, "detail"), cause, false);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.undelivered = Objects.requireNonNull(message, "message");
  }

  /** Why the message was not delivered. */
  public Reason reason() {
    return reason;
  }

  /** The message that was not delivered. */
  public Message message() {
    return undelivered;
  }
}
