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
}
