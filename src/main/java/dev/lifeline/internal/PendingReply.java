package dev.lifeline.internal;

import dev.lifeline.Message;
import io.reactivex.rxjava3.core.SingleEmitter;
import io.reactivex.rxjava3.disposables.Disposable;

/**
 * A message sent with an acknowledgement, waiting for the reply with its correlation id. Removing
 * it from the socket's table of pending replies is what decides who completes it: the reply, its
 * timeout, a give-up or close.
 */
final class PendingReply {
  final String id;
  final Message message;
  final long size;
  final long sequence; // send order, for retransmission in the same order
  final SingleEmitter<Message> emitter;
  volatile Disposable timeout = Disposable.disposed();

  /** The connection it was last handed to, or null while queued. Guarded by the outbox. */
  Link sentOn;

  /** Set when it expired in the outbox before it could be sent. Guarded by the outbox. */
  dev.lifeline.OutboxExpiredException expired;

  PendingReply(String id, Message message, long size, long sequence, SingleEmitter<Message> emitter) {
    this.id = id;
    this.message = message;
    this.size = size;
    this.sequence = sequence;
    this.emitter = emitter;
  }
}
