package dev.lifeline.internal;

import dev.lifeline.ConnectionLostException;
import dev.lifeline.LifelineException;
import io.reactivex.rxjava3.core.CompletableEmitter;
import org.jspecify.annotations.Nullable;

/**
 * Waits until a message has left OkHttp's send queue. OkHttp's queue is first in, first out, and
 * {@code queueSize()} counts the payload bytes not yet written, so the message is out once the
 * queue holds no more than the bytes enqueued after it; the link counts those while anyone waits.
 * Fields are guarded by the socket's send lock.
 */
final class WrittenWaiter implements SendTracker {
  private final CompletableEmitter emitter;
  @Nullable Link link; // null until sent
  long base; // the link's count of watched bytes right after this message

  WrittenWaiter(CompletableEmitter emitter) {
    this.emitter = emitter;
  }

  @Override
  public void sent(Link link) {
    this.link = link;
    link.watchWritten(this);
  }

  /** Holding the send lock: whether the message has left OkHttp's queue. */
  boolean isWritten() {
    Link sentOn = link;
    return sentOn != null && sentOn.queueSize() <= sentOn.bytesEnqueuedSince(base);
  }

  void written() {
    emitter.onComplete();
  }

  void lost(Throwable cause) {
    emitter.tryOnError(new ConnectionLostException(cause));
  }

  @Override
  public void notSent(LifelineException reason) {
    emitter.tryOnError(reason);
  }
}
