package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The built-in {@link RetryPolicy}: exponential backoff with jitter and an optional per-outage
 * retry budget. Immutable; every {@code with}-style method returns a new value.
 *
 * <p>The delay before retry {@code n} (1-based) is
 *
 * <pre>
 *   base   = min(maxDelay, initialDelay × multiplier^(n-1))
 *   spread = jitter for n > 1; min(1, 2 × jitter) for the first retry
 *   delay  = base × (1 − spread × u)      u uniform in [0, 1) from the socket's Random
 * </pre>
 *
 * Jitter is applied <em>after</em> the cap, so clients stay spread out once they all reach {@code
 * maxDelay}. The first retry of an outage is spread twice as wide, because that is when a fleet is
 * in step: every client lost the server at the same moment. With the default jitter (0.5) it lands
 * anywhere in {@code [0, initialDelay]}, so a fleet comes back spread over the whole initial delay;
 * later retries, by which time the clients are apart, keep to {@code [base / 2, base]}, so that no
 * client is left behind a wait much longer than the others' after a short outage. Jitter 0 gives
 * exact delays.
 *
 * <p>Defaults ({@link #defaults()}): initial delay 2 s, multiplier 2, max delay 30 s, jitter 0.5,
 * unlimited retries: the first retry after 0–2 s (1 s on average; a fleet of 1 000 dropped at once
 * returns at about 5 % per 100 ms), then 2–4 s, 4–8 s, 8–16 s, 15–30 s.
 *
 * <pre>{@code
 * Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30)).maxRetries(10)
 * }</pre>
 */
public final class Backoff implements RetryPolicy {
  private static final int UNLIMITED = Integer.MAX_VALUE;
  private static final Backoff DEFAULTS =
      new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(30), 2.0, 0.5, UNLIMITED);

  private final Duration initialDelay;
  private final Duration maxDelay;
  private final double multiplier;
  private final double jitter;
  private final int maxRetries;

  private Backoff(
      Duration initialDelay, Duration maxDelay, double multiplier, double jitter, int maxRetries) {
    this.initialDelay = initialDelay;
    this.maxDelay = maxDelay;
    this.multiplier = multiplier;
    this.jitter = jitter;
    this.maxRetries = maxRetries;
  }

  /** Returns the default backoff: 2 s doubling to 30 s, jitter 0.5, unlimited retries. */
  public static Backoff defaults() {
    return DEFAULTS;
  }

  /**
   * Returns exponential backoff from {@code initialDelay} to {@code maxDelay} with the default
   * multiplier (2), jitter (0.5) and unlimited retries.
   *
   * @throws IllegalArgumentException if {@code initialDelay} is not positive or {@code maxDelay} is
   *     less than {@code initialDelay}
   */
  public static Backoff exponential(Duration initialDelay, Duration maxDelay) {
    Objects.requireNonNull(initialDelay, "initialDelay");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (initialDelay.isNegative() || initialDelay.isZero()) {
      throw new IllegalArgumentException("initialDelay must be > 0 but was " + initialDelay);
    }
    if (maxDelay.compareTo(initialDelay) < 0) {
      throw new IllegalArgumentException(
          "maxDelay must be >= initialDelay (" + initialDelay + ") but was " + maxDelay);
    }
    return new Backoff(initialDelay, maxDelay, DEFAULTS.multiplier, DEFAULTS.jitter, UNLIMITED);
  }

  /**
   * Returns a copy with this growth factor per retry.
   *
   * @throws IllegalArgumentException unless {@code 1.0 <= multiplier <= 100} and finite
   */
  public Backoff multiplier(double multiplier) {
    if (!(multiplier >= 1.0 && multiplier <= 100.0)) {
      throw new IllegalArgumentException("multiplier must be in [1, 100] but was " + multiplier);
    }
    return new Backoff(initialDelay, maxDelay, multiplier, jitter, maxRetries);
  }

  /**
   * Returns a copy with this jitter: the fraction of each delay that is randomised (0 = none, 1 =
   * anywhere between 0 and the full delay), doubled (up to 1) for the first retry of an outage.
   *
   * @throws IllegalArgumentException unless {@code 0 <= jitter <= 1}
   */
  public Backoff jitter(double jitter) {
    if (!(jitter >= 0.0 && jitter <= 1.0)) {
      throw new IllegalArgumentException("jitter must be in [0, 1] but was " + jitter);
    }
    return new Backoff(initialDelay, maxDelay, multiplier, jitter, maxRetries);
  }

  /**
   * Returns a copy that gives up after {@code maxRetries} retries within one outage: {@code 1 +
   * maxRetries} attempts in all (2 retries are 3 attempts). The budget is restored only when a
   * connection proves healthy, so a server that accepts and drops at once is tried exactly {@code 1
   * + maxRetries} times before the socket gives up.
   *
   * @throws IllegalArgumentException if {@code maxRetries < 0}
   */
  public Backoff maxRetries(int maxRetries) {
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries must be >= 0 but was " + maxRetries);
    }
    return new Backoff(initialDelay, maxDelay, multiplier, jitter, maxRetries);
  }

  /** Returns a copy that never runs out of retries (the default). */
  public Backoff unlimitedRetries() {
    return new Backoff(initialDelay, maxDelay, multiplier, jitter, UNLIMITED);
  }

  /** The delay before the first retry, before jitter. */
  public Duration initialDelay() {
    return initialDelay;
  }

  /** The cap on the delay, before jitter. */
  public Duration maxDelay() {
    return maxDelay;
  }

  /** The growth factor per retry. */
  public double multiplier() {
    return multiplier;
  }

  /** The randomised fraction of each delay. */
  public double jitter() {
    return jitter;
  }

  /** The retry budget per outage; {@link Integer#MAX_VALUE} means unlimited. */
  public int maxRetries() {
    return maxRetries;
  }

  /**
   * Returns the capped delay before retry {@code retry} (from 1), before jitter: {@code
   * min(maxDelay, initialDelay × multiplier^(retry-1))}.
   *
   * @throws IllegalArgumentException if {@code retry < 1}
   */
  public Duration baseDelay(int retry) {
    if (retry < 1) throw new IllegalArgumentException("retry must be >= 1 but was " + retry);
    // In seconds as doubles: a cap of centuries must not overflow nanoseconds (Long.MAX_VALUE ns is
    // 292 years). Infinity (a long outage with a large multiplier) is capped like any other.
    double seconds = toSeconds(initialDelay) * Math.pow(multiplier, retry - 1);
    double cap = toSeconds(maxDelay);
    return ofSeconds(Math.min(seconds, cap));
  }

  @Override
  public Optional<Duration> nextDelay(RetryContext context) {
    if (context.retry() > maxRetries) return Optional.empty();
    double base = toSeconds(baseDelay(context.retry()));
    double spread = context.retry() == 1 ? Math.min(1.0, 2.0 * jitter) : jitter;
    double u = spread == 0.0 ? 0.0 : context.random().nextDouble();
    return Optional.of(ofSeconds(base * (1.0 - spread * u)));
  }

  private static double toSeconds(Duration d) {
    return d.getSeconds() + d.getNano() / 1e9;
  }

  /** {@code seconds} as a Duration, exact to the nanosecond below 292 years. */
  private static Duration ofSeconds(double seconds) {
    if (seconds < 9.2e9) return Duration.ofNanos((long) (seconds * 1e9));
    long whole = (long) Math.min(seconds, (double) Long.MAX_VALUE / 2);
    return Duration.ofSeconds(whole);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Backoff b
        && initialDelay.equals(b.initialDelay)
        && maxDelay.equals(b.maxDelay)
        && Double.compare(multiplier, b.multiplier) == 0
        && Double.compare(jitter, b.jitter) == 0
        && maxRetries == b.maxRetries;
  }

  @Override
  public int hashCode() {
    return Objects.hash(initialDelay, maxDelay, multiplier, jitter, maxRetries);
  }

  @Override
  public String toString() {
    return "Backoff.exponential("
        + initialDelay
        + ", "
        + maxDelay
        + ").multiplier("
        + multiplier
        + ").jitter("
        + jitter
        + ")"
        + (maxRetries == UNLIMITED ? "" : ".maxRetries(" + maxRetries + ")");
  }
}
