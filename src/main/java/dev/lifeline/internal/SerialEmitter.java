package dev.lifeline.internal;

import io.reactivex.rxjava3.core.Observable;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Emits into a {@link Broadcast} from several threads without ever overlapping two calls, and
 * without blocking or holding a lock while subscribers run: a thread that finds another one
 * emitting leaves its value in a queue for that thread to deliver. For streams whose values come
 * from anywhere and are rare (undelivered reports, round-trip times), where pushing back on the
 * caller would be wrong.
 *
 * <p>The uncontended path is one compare-and-set and one decrement per value. The queue is made the
 * first time two threads meet (most streams never need one): a socket holds several emitters, and
 * thousands of idle sockets should not pay for empty queues.
 */
final class SerialEmitter<T> {
  private static final Object COMPLETE = new Object();

  @SuppressWarnings("rawtypes") // a field updater cannot name SerialEmitter<T>
  private static final AtomicIntegerFieldUpdater<SerialEmitter> WIP =
      AtomicIntegerFieldUpdater.newUpdater(SerialEmitter.class, "wip");

  @SuppressWarnings("rawtypes")
  private static final AtomicReferenceFieldUpdater<SerialEmitter, ConcurrentLinkedQueue> QUEUE =
      AtomicReferenceFieldUpdater.newUpdater(
          SerialEmitter.class, ConcurrentLinkedQueue.class, "queue");

  private final Broadcast<T> stream;
  private volatile @Nullable ConcurrentLinkedQueue<Object> queue;
  private volatile int wip;

  SerialEmitter(Supplier<String> socketName, String what) {
    this.stream = Broadcast.create(socketName, what);
  }

  /** The stream subscribers see. */
  Observable<T> stream() {
    return stream;
  }

  void onNext(T value) {
    if (wip == 0 && WIP.compareAndSet(this, 0, 1)) {
      dispatch(value);
      if (WIP.decrementAndGet(this) == 0) return;
    } else {
      queue().offer(value);
      if (WIP.getAndIncrement(this) != 0) return;
    }
    drain();
  }

  void onComplete() {
    queue().offer(COMPLETE);
    if (WIP.getAndIncrement(this) != 0) return;
    drain();
  }

  /** The queue, made by whichever thread needs it first. */
  @SuppressWarnings("unchecked")
  private ConcurrentLinkedQueue<Object> queue() {
    ConcurrentLinkedQueue<Object> q = queue;
    if (q != null) return q;
    QUEUE.compareAndSet(this, null, new ConcurrentLinkedQueue<Object>());
    return Objects.requireNonNull(queue);
  }

  private void drain() {
    int missed = 1;
    do {
      // Whoever queued a value made the queue before it incremented wip: it is visible here.
      ConcurrentLinkedQueue<Object> q = queue;
      if (q != null) {
        Object next;
        while ((next = q.poll()) != null) dispatch(next);
      }
      missed = WIP.addAndGet(this, -missed);
    } while (missed != 0);
  }

  @SuppressWarnings("unchecked")
  private void dispatch(Object o) {
    if (o == COMPLETE) {
      stream.onComplete();
    } else {
      stream.onNext((T) o); // each observer guarded by the Broadcast
    }
  }
}
