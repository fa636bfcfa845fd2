package dev.lifeline.internal;

import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import io.reactivex.rxjava3.core.SingleEmitter;
import io.reactivex.rxjava3.disposables.Disposable;
import org.jspecify.annotations.Nullable;

/**
 * A message sent with an acknowledgement, waiting for the reply with its correlation id. Removing
 * it from {@link ReplyTable}'s table is what decides who completes it: the reply, its timeout, a
 * failure to send it, a give-up or close.
 */
final class PendingReply implements SendTracker {
  final String id;
  final Message message;
  final long size;
  final SingleEmitter<Message> emitter;
  private final ReplyTable replies;
  volatile Disposable timeout = Disposable.disposed();

  // Guarded by the send lock: the connection it was last handed to (null while queued), and when.
  @Nullable Link sentOn;
  long sentSeq;

  PendingReply(
      String id, Message message, long size, SingleEmitter<Message> emitter, ReplyTable replies) {
    this.id = id;
    this.message = message;
    this.size = size;
    this.emitter = emitter;
    this.replies = replies;
  }

  @Override
  public void sent(Link link, long seq) {
    sentOn = link;
    sentSeq = seq;
  }

  /** Holding the send lock: back in the outbox, to be sent again. */
  void unsent() {
    sentOn = null;
  }

  @Override
  public boolean waitsForWritten() {
    return false;
  }

  @Override
  public void written() {} // written is not answered: it goes on waiting for its reply

  @Override
  public void notSent(NotDeliveredException reason) {
    replies.fail(this, reason);
  }
}
