package dev.lifeline.internal;

import dev.lifeline.NotDeliveredException;
import io.reactivex.rxjava3.core.CompletableEmitter;

/** A {@code sendWritten} caller, waiting until its message has left OkHttp's send queue. */
final class WrittenWaiter implements SendTracker {
  private final CompletableEmitter emitter;

  WrittenWaiter(CompletableEmitter emitter) {
    this.emitter = emitter;
  }

  @Override
  public void sent(Link link, long seq) {}

  @Override
  public boolean waitsForWritten() {
    return true;
  }

  @Override
  public void written() {
    emitter.onComplete();
  }

  @Override
  public void notSent(NotDeliveredException reason) {
    emitter.tryOnError(reason);
  }
}
