package dev.lifeline.internal;

import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.schedulers.TestScheduler;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A {@link TestScheduler} that knows which of its tasks are still pending (scheduled, neither run
 * nor disposed), so that a test can assert a socket leaves no timer behind.
 */
final class TrackingScheduler extends Scheduler {
  final TestScheduler clock = new TestScheduler();
  private final Set<Object> pending = ConcurrentHashMap.newKeySet();

  /**
   * Added to every {@code now()} reading, not to when tasks run: a wall clock stepped back (or
   * forward) by NTP or a user, while delays keep running as scheduled.
   */
  volatile long offsetMillis;

  int pendingTasks() {
    return pending.size();
  }

  void advance(Duration d) {
    clock.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
  }

  void advanceMillis(long ms) {
    clock.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
  }

  /** Steps {@code now()} by {@code d} (negative: back) without running or moving any task. */
  void stepClock(Duration d) {
    offsetMillis += d.toMillis();
  }

  /** The furthest virtual time (ns) a finished {@link #advanceMonotonic} has reached. */
  private long reachedNanos;

  /**
   * Like {@link #advance}, and safe to call from inside a task or callback it runs (a "slow"
   * subscriber that lets time pass): the clock never goes back. A plain {@code TestScheduler}
   * advance called from within another sets the clock to the inner target, and the outer one then
   * sets it back to its own, earlier, target when it returns.
   */
  void advanceMonotonic(Duration d) {
    long target = clock.now(TimeUnit.NANOSECONDS) + d.toNanos();
    clock.advanceTimeTo(target, TimeUnit.NANOSECONDS);
    reachedNanos = Math.max(reachedNanos, target); // after: an outer call's target is not ours
    if (clock.now(TimeUnit.NANOSECONDS) < reachedNanos) {
      clock.advanceTimeTo(reachedNanos, TimeUnit.NANOSECONDS);
    }
  }

  long nowMillis() {
    return now(TimeUnit.MILLISECONDS);
  }

  @Override
  public long now(TimeUnit unit) {
    return clock.now(unit) + unit.convert(offsetMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public Disposable scheduleDirect(Runnable run, long delay, TimeUnit unit) {
    return tracked(run, r -> clock.scheduleDirect(r, delay, unit));
  }

  /** Schedules {@code run} with {@code schedule}, pending until it runs or is disposed. */
  private Disposable tracked(Runnable run, Function<Runnable, Disposable> schedule) {
    Object token = new Object();
    pending.add(token);
    Disposable d =
        schedule.apply(
            () -> {
              pending.remove(token);
              run.run();
            });
    return Disposable.fromRunnable(
        () -> {
          pending.remove(token);
          d.dispose();
        });
  }

  @Override
  public Worker createWorker() {
    Worker delegate = clock.createWorker();
    return new Worker() {
      @Override
      public Disposable schedule(Runnable run, long delay, TimeUnit unit) {
        return tracked(run, r -> delegate.schedule(r, delay, unit));
      }

      @Override
      public long now(TimeUnit unit) {
        return TrackingScheduler.this.now(unit);
      }

      @Override
      public void dispose() {
        delegate.dispose();
      }

      @Override
      public boolean isDisposed() {
        return delegate.isDisposed();
      }
    };
  }
}
