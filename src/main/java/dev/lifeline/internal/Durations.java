package dev.lifeline.internal;

import java.time.Duration;
import java.util.Locale;

/** Formats durations for people, in messages and logs: {@code 250ms}, {@code 1.5s}, {@code 20s}. */
public final class Durations {
  private Durations() {}

  /** Formats {@code d} with millisecond precision. */
  public static String format(Duration d) {
    return formatMillis(d.toMillis());
  }

  /** Formats a number of milliseconds. */
  public static String formatMillis(long ms) {
    if (ms < 1000) return ms + "ms";
    if (ms % 1000 == 0) return (ms / 1000) + "s";
    return String.format(Locale.ROOT, "%.3f", ms / 1000.0).replaceAll("0+$", "") + "s";
  }

  /** The longest delay Lifeline schedules: 100 years stands for "never", and cannot overflow. */
  static final Duration MAX_TIMER = Duration.ofDays(36_500);

  /** {@code d} in nanoseconds for a timer, clamped to [0, {@link #MAX_TIMER}]. */
  static long timerNanos(Duration d) {
    if (d.isNegative()) return 0;
    return d.compareTo(MAX_TIMER) > 0 ? MAX_TIMER.toNanos() : d.toNanos();
  }

  /** {@code d} in nanoseconds, saturated at {@link Long#MAX_VALUE}; d must not be negative. */
  public static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException tooLong) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
