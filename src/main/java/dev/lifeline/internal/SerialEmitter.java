package dev.lifeline.internal;

import io.reactivex.rxjava3.exceptions.Exceptions;
import io.reactivex.rxjava3.subjects.PublishSubject;
import io.reactivex.rxjava3.subjects.Subject;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Emits into a {@link PublishSubject} from several threads without ever overlapping two calls, and
 * without holding a lock while subscribers run: a thread that finds another one emitting leaves its
 * value in a queue for that thread to deliver.
 *
 * <p>Unlike {@link Subject#toSerialized()}, an observer that throws from {@code onNext} (a broken
 * contract, but it happens) does not wedge the stream for everyone else: the exception is logged
 * and delivery goes on.
 *
 * <p>The uncontended path is one compare-and-set and one decrement per value. The queue is made the
 * first time two threads meet (most streams never need one): a socket holds several emitters, and
 * thousands of idle sockets should not pay for empty queues.
 */
final class SerialEmitter<T> {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");
  private static final Object COMPLETE = new Object();

  @SuppressWarnings("rawtypes") // a field updater cannot name SerialEmitter<T>
  private static final AtomicIntegerFieldUpdater<SerialEmitter> WIP =
      AtomicIntegerFieldUpdater.newUpdater(SerialEmitter.class, "wip");

  @SuppressWarnings("rawtypes")
  private static final AtomicReferenceFieldUpdater<SerialEmitter, ConcurrentLinkedQueue> QUEUE =
      AtomicReferenceFieldUpdater.newUpdater(
          SerialEmitter.class, ConcurrentLinkedQueue.class, "queue");

  private final Subject<T> subject = PublishSubject.create();
  private volatile @Nullable ConcurrentLinkedQueue<Object> queue;
  private volatile int wip;

  /** The stream subscribers see. */
  Subject<T> subject() {
    return subject;
  }

  boolean hasObservers() {
    return subject.hasObservers();
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

  void onError(Throwable error) {
    enqueueTerminal(new Failure(error));
  }

  void onComplete() {
    enqueueTerminal(COMPLETE);
  }

  private void enqueueTerminal(Object terminal) {
    queue().offer(terminal);
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
    try {
      if (o == COMPLETE) {
        subject.onComplete();
      } else if (o instanceof Failure f) {
        subject.onError(f.error);
      } else {
        subject.onNext((T) o);
      }
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      log.error(
          "a subscriber threw from onNext/onError/onComplete; it broke the Observer contract", t);
    }
  }

  private record Failure(Throwable error) {}
}
