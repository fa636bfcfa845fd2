package dev.lifeline.internal;

import io.reactivex.rxjava3.exceptions.Exceptions;
import io.reactivex.rxjava3.subjects.PublishSubject;
import io.reactivex.rxjava3.subjects.Subject;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
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
 * <p>The uncontended path is one compare-and-set and one decrement per value.
 */
final class SerialEmitter<T> {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");
  private static final Object COMPLETE = new Object();

  private final Subject<T> subject = PublishSubject.create();
  private final ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger wip = new AtomicInteger();

  /** The stream subscribers see. */
  Subject<T> subject() {
    return subject;
  }

  boolean hasObservers() {
    return subject.hasObservers();
  }

  void onNext(T value) {
    if (wip.get() == 0 && wip.compareAndSet(0, 1)) {
      dispatch(value);
      if (wip.decrementAndGet() == 0) return;
    } else {
      queue.offer(value);
      if (wip.getAndIncrement() != 0) return;
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
    queue.offer(terminal);
    if (wip.getAndIncrement() != 0) return;
    drain();
  }

  private void drain() {
    int missed = 1;
    do {
      Object next;
      while ((next = queue.poll()) != null) dispatch(next);
      missed = wip.addAndGet(-missed);
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
