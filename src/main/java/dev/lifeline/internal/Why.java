package dev.lifeline.internal;

import dev.lifeline.GaveUpException;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Why messages leave the outbox unsent: one value for a whole removal (a give-up, a close, an
 * expiry), turned into one {@link NotDeliveredException} per message.
 */
record Why(Reason reason, String detail, @Nullable Throwable cause) {

  static Why expired(Duration timeToLive) {
    return new Why(
        Reason.EXPIRED,
        "expired in the outbox after its time-to-live of "
            + Durations.format(timeToLive)
            + " without a connection to send it on",
        null);
  }

  static Why droppedForNewer(Outbox outbox) {
    return new Why(
        Reason.DROPPED_FOR_NEWER,
        "dropped from a full outbox ("
            + outbox.maxMessages()
            + " messages, "
            + outbox.maxBytes()
            + " bytes) to make room for a newer one",
        null);
  }

  static Why noReply(String id, Duration timeout) {
    return new Why(
        Reason.NO_REPLY,
        "no reply to message " + id + " within " + Durations.format(timeout),
        null);
  }

  static Why gaveUp(GaveUpException reason) {
    return new Why(
        Reason.GAVE_UP, "not sent: the socket gave up (" + reason.getMessage() + ")", reason);
  }

  static Why closed() {
    return new Why(Reason.CLOSED, "not sent: the socket was closed", null);
  }

  static Why refused(SendResult result) {
    String detail;
    switch (result) {
      case REJECTED_OUTBOX_FULL:
        detail = "not taken: the outbox is full";
        break;
      case REJECTED_TOO_LARGE:
        detail = "not taken: larger than OkHttp can send (16 MiB) or the outbox can hold";
        break;
      default:
        detail = "not taken: the socket is closed";
    }
    return new Why(Reason.of(result), detail, null);
  }

  NotDeliveredException of(Message message) {
    return new NotDeliveredException(reason, message, detail, cause);
  }
}
