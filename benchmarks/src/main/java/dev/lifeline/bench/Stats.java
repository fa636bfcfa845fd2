package dev.lifeline.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Median and min–max of per-round values: how every number in the report is summarised. */
record Stats(double median, double min, double max, int rounds) {
  static Stats of(List<Double> values) {
    if (values.isEmpty()) throw new IllegalArgumentException("no values");
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    double median =
        n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return new Stats(median, sorted.get(0), sorted.get(n - 1), n);
  }

  /** "median (min–max)" with {@code decimals} digits after the point. */
  String format(int decimals) {
    String f = "%." + decimals + "f";
    return String.format(Locale.ROOT, f + " (" + f + "–" + f + ")", median, min, max);
  }

  /** Like {@link #format} with a sign, for differences. */
  String formatSigned(int decimals) {
    String f = "%+." + decimals + "f";
    return String.format(Locale.ROOT, f + " (" + f + " – " + f + ")", median, min, max);
  }
}
