package dev.lifeline.internal;

import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Observer;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.exceptions.Exceptions;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A hot stream that hands every value to every subscriber, whatever another subscriber does: each
 * observer is called through {@link UserCode}, so one that throws is reported and the others still
 * get the value (a {@code PublishSubject} stops at the first that throws). Late subscribers get the
 * terminal signal.
 *
 * <p>Two kinds. {@link #create} emits straight to the subscribers on the caller's thread; callers
 * serialize {@code onNext} themselves (the message path: one reader at a time). {@link #replaying}
 * keeps the latest value for new subscribers and may be fed from any thread: each subscriber has
 * its own queue, filled in one global order under a lock that no user code runs under, and drained
 * by whichever thread finds it idle.
 */
final class Broadcast<T> extends Observable<T> {
  private static final Object COMPLETE = new Object();

  @SuppressWarnings("rawtypes")
  private static final Inner[] EMPTY = new Inner[0];

  @SuppressWarnings("rawtypes")
  private static final Inner[] TERMINATED = new Inner[0];

  private final Supplier<String> name;
  private final String what;
  private final boolean replay;

  @SuppressWarnings("unchecked")
  private final AtomicReference<Inner<T>[]> observers = new AtomicReference<>(EMPTY);

  // replaying only; guarded by `this`
  private @Nullable Object latest;
  private @Nullable Object terminal; // COMPLETE or a Failure

  private volatile @Nullable Object done; // the terminal signal, for late subscribers

  private Broadcast(Supplier<String> name, String what, boolean replay, @Nullable T initial) {
    this.name = name;
    this.what = what;
    this.replay = replay;
    this.latest = initial;
  }

  /** A stream whose {@code onNext} callers serialize themselves. */
  static <T> Broadcast<T> create(Supplier<String> socketName, String what) {
    return new Broadcast<>(socketName, what, false, null);
  }

  /** A stream that replays its latest value and may be fed from any thread. */
  static <T> Broadcast<T> replaying(Supplier<String> socketName, String what, T initial) {
    return new Broadcast<>(socketName, what, true, initial);
  }

  private Inner<T>[] subscribers() {
    return java.util.Objects.requireNonNull(observers.get());
  }

  boolean hasObservers() {
    return subscribers().length != 0;
  }

  boolean isTerminated() {
    return done != null;
  }

  @Override
  protected void subscribeActual(Observer<? super T> observer) {
    Inner<T> inner = new Inner<>(observer, this);
    if (!UserCode.run(name.get(), what + " onSubscribe", () -> observer.onSubscribe(inner))) return;
    if (replay) {
      synchronized (this) {
        if (latest != null) inner.enqueue(latest); // after a terminal too: Closed, then complete
        if (terminal != null) inner.enqueue(terminal);
        else add(inner);
      }
      inner.drain();
      return;
    }
    if (add(inner)) {
      if (inner.isDisposed()) remove(inner);
      return;
    }
    Object d = done;
    if (d != null) inner.deliver(d);
  }

  /** Emits {@code value} to every current subscriber. */
  void onNext(T value) {
    if (replay) {
      Inner<T>[] targets;
      synchronized (this) {
        if (terminal != null) return;
        latest = value;
        targets = subscribers();
        for (Inner<T> inner : targets) inner.enqueue(value);
      }
      for (Inner<T> inner : targets) inner.drain();
      return;
    }
    if (done != null) return;
    for (Inner<T> inner : subscribers()) inner.deliver(value);
  }

  void onError(Throwable error) {
    terminate(new Failure(error));
  }

  void onComplete() {
    terminate(COMPLETE);
  }

  @SuppressWarnings("unchecked")
  private void terminate(Object signal) {
    Inner<T>[] targets;
    if (replay) {
      synchronized (this) {
        if (terminal != null) return;
        terminal = signal;
        done = signal;
        targets = java.util.Objects.requireNonNull(observers.getAndSet(TERMINATED));
        for (Inner<T> inner : targets) inner.enqueue(signal);
      }
      for (Inner<T> inner : targets) inner.drain();
      return;
    }
    synchronized (this) {
      if (done != null) return;
      done = signal;
      targets = java.util.Objects.requireNonNull(observers.getAndSet(TERMINATED));
    }
    for (Inner<T> inner : targets) inner.deliver(signal);
  }

  @SuppressWarnings("unchecked")
  private boolean add(Inner<T> inner) {
    for (; ; ) {
      Inner<T>[] current = subscribers();
      if (current == TERMINATED) return false;
      Inner<T>[] next = java.util.Arrays.copyOf(current, current.length + 1);
      next[current.length] = inner;
      if (observers.compareAndSet(current, next)) return true;
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  void remove(Inner<T> inner) {
    for (; ; ) {
      Inner<T>[] current = subscribers();
      int index = -1;
      for (int i = 0; i < current.length; i++) {
        if (current[i] == inner) {
          index = i;
          break;
        }
      }
      if (index < 0) return;
      Inner<T>[] next;
      if (current.length == 1) {
        next = EMPTY;
      } else {
        next = new Inner[current.length - 1];
        System.arraycopy(current, 0, next, 0, index);
        System.arraycopy(current, index + 1, next, index, current.length - index - 1);
      }
      if (observers.compareAndSet(current, next)) return;
    }
  }

  private record Failure(Throwable error) {}

  /** One subscriber. */
  static final class Inner<T> extends AtomicBoolean implements Disposable {
    private final Observer<? super T> downstream;
    private final Broadcast<T> parent;
    private final AtomicInteger wip = new AtomicInteger(); // replaying only
    private @Nullable ArrayDeque<Object> queue; // replaying only; guarded by the parent's lock
    private boolean terminated;

    Inner(Observer<? super T> downstream, Broadcast<T> parent) {
      this.downstream = downstream;
      this.parent = parent;
    }

    /** Holding the parent's lock. */
    void enqueue(Object signal) {
      ArrayDeque<Object> q = queue;
      if (q == null) queue = q = new ArrayDeque<>(2);
      q.add(signal);
    }

    void drain() {
      if (wip.getAndIncrement() != 0) return;
      int missed = 1;
      do {
        for (; ; ) {
          Object next;
          synchronized (parent) {
            ArrayDeque<Object> q = queue;
            next = q == null ? null : q.poll();
          }
          if (next == null) break;
          deliver(next);
        }
        missed = wip.addAndGet(-missed);
      } while (missed != 0);
    }

    @SuppressWarnings("unchecked")
    void deliver(Object signal) {
      if (get() || terminated) return;
      if (signal == COMPLETE) {
        terminated = true;
        UserCode.run(parent.name.get(), parent.what + " onComplete", downstream::onComplete);
      } else if (signal instanceof Failure failure) {
        terminated = true;
        Throwable error = failure.error();
        UserCode.run(parent.name.get(), parent.what + " onError", () -> downstream.onError(error));
      } else {
        try { // inline, not through a lambda: this is the path of every message
          downstream.onNext((T) signal);
        } catch (Throwable t) {
          Exceptions.throwIfFatal(t);
          UserCode.report(parent.name.get(), parent.what + " onNext", t);
        }
      }
    }

    @Override
    public void dispose() {
      if (compareAndSet(false, true)) parent.remove(this);
    }

    @Override
    public boolean isDisposed() {
      return get();
    }
  }
}
