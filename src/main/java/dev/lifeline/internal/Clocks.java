package dev.lifeline.internal;

import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.schedulers.TestScheduler;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The clock Lifeline measures elapsed time with. RxJava's own schedulers read the wall clock in
 * {@code now()}, which steps when the system time is set; elapsed times then come from {@link
 * System#nanoTime()}. A virtual-time scheduler ({@link TestScheduler}, or any scheduler whose clock
 * is nowhere near the wall clock) is its own clock, so tests run in virtual time.
 */
final class Clocks {
  private static final long REAL_CLOCK_SLACK_MS = TimeUnit.DAYS.toMillis(1);

  private Clocks() {}

  static LongSupplier monotonicMillis(Scheduler scheduler) {
    long schedulerNow = scheduler.now(TimeUnit.MILLISECONDS);
    boolean real =
        !(scheduler instanceof TestScheduler)
            && Math.abs(schedulerNow - System.currentTimeMillis()) < REAL_CLOCK_SLACK_MS;
    if (real) return () -> TimeUnit.NANOSECONDS.toMillis(System.nanoTime());
    return () -> scheduler.now(TimeUnit.MILLISECONDS);
  }
}
