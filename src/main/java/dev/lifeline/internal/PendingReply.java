package dev.lifeline.internal;

import dev.lifeline.LifelineException;
import dev.lifeline.Message;
import io.reactivex.rxjava3.core.SingleEmitter;
import io.reactivex.rxjava3.disposables.Disposable;
import org.jspecify.annotations.Nullable;

/**
 * A message sent with an acknowledgement, waiting for the reply with its correlation id. Removing
 * it from the socket's table of pending replies is what decides who completes it: the reply, its
 * timeout, a give-up or close.
 */
final class PendingReply implements SendTracker {
  final String id;
  final Message message;
  final long size;
  final long sequence; // send order, for retransmission in the same order
  final SingleEmitter<Message> emitter;
  volatile Disposable timeout = Disposable.disposed();

  private final RealReconnectingSocket socket;

  /** The connection it was last handed to, or null while queued. Guarded by the send lock. */
  @Nullable Link sentOn;

  PendingReply(
      String id,
      Message message,
      long size,
      long sequence,
      SingleEmitter<Message> emitter,
      RealReconnectingSocket socket) {
    this.id = id;
    this.message = message;
    this.size = size;
    this.sequence = sequence;
    this.emitter = emitter;
    this.socket = socket;
  }

  @Override
  public void sent(Link link) {
    sentOn = link;
  }

  @Override
  public void notSent(LifelineException reason) {
    socket.failReply(this, reason);
  }
}
