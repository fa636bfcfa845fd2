package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How many messages a socket holds while it cannot send them, and for how long. Immutable; each
 * method returns a new value.
 *
 * <p>Messages wait in the outbox while the socket is connecting, waiting to reconnect, idle, or
 * when OkHttp's send queue is above the {@linkplain ReconnectingSocket.Builder#highWaterMark
 * high-water mark}. They are sent in order after the ready hook of the next connection has
 * completed, before any later message.
 *
 * <p>Defaults ({@link #defaults()}): 1 000 messages, 4 MiB, no time-to-live, refuse new messages
 * when full.
 */
public final class Outbox {
  private static final Outbox DEFAULTS = new Outbox(1_000, 4L << 20, Duration.ZERO, false);

  private final int maxMessages;
  private final long maxBytes;
  private final Duration timeToLive;
  private final boolean dropOldest;

  private Outbox(int maxMessages, long maxBytes, Duration timeToLive, boolean dropOldest) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.timeToLive = timeToLive;
    this.dropOldest = dropOldest;
  }

  /** Returns the default outbox: 1 000 messages, 4 MiB, no time-to-live, refuse when full. */
  public static Outbox defaults() {
    return DEFAULTS;
  }

  /**
   * Returns an outbox bounded by {@code maxMessages} and {@code maxBytes} (payload bytes, UTF-8 for
   * text), with the other settings of {@link #defaults()}.
   *
   * @throws IllegalArgumentException if either limit is negative
   */
  public static Outbox bounded(int maxMessages, long maxBytes) {
    if (maxMessages < 0)
      throw new IllegalArgumentException("maxMessages must be >= 0 but was " + maxMessages);
    if (maxBytes < 0)
      throw new IllegalArgumentException("maxBytes must be >= 0 but was " + maxBytes);
    return new Outbox(maxMessages, maxBytes, DEFAULTS.timeToLive, DEFAULTS.dropOldest);
  }

  /**
   * Returns a copy whose messages expire {@code timeToLive} after they were queued: an expired
   * message is never sent late; it is reported on {@link ReconnectingSocket#undelivered()} with an
   * {@link NotDeliveredException} whose reason is {@code EXPIRED}. {@link Duration#ZERO} means no
   * expiry.
   *
   * @throws IllegalArgumentException if negative
   */
  public Outbox timeToLive(Duration timeToLive) {
    Objects.requireNonNull(timeToLive, "timeToLive");
    if (timeToLive.isNegative()) {
      throw new IllegalArgumentException(
          "timeToLive must be >= 0 (0 = none) but was " + timeToLive);
    }
    return new Outbox(maxMessages, maxBytes, timeToLive, dropOldest);
  }

  /**
   * Returns a copy that, when full, makes room for a new message by dropping the oldest ones (each
   * reported on {@link ReconnectingSocket#undelivered()} with the reason {@code DROPPED_FOR_NEWER})
   * instead of refusing the new one. For feeds where only the latest state matters.
   */
  public Outbox dropOldest() {
    return new Outbox(maxMessages, maxBytes, timeToLive, true);
  }

  /** The most messages held. */
  public int maxMessages() {
    return maxMessages;
  }

  /** The most payload bytes held. */
  public long maxBytes() {
    return maxBytes;
  }

  /** How long a message may wait; zero for no limit. */
  public Duration timeToLive() {
    return timeToLive;
  }

  /** Whether a full outbox drops its oldest messages rather than refusing new ones. */
  public boolean dropsOldest() {
    return dropOldest;
  }

  /** Two outboxes are equal when every limit and setting is. */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Outbox b
        && maxMessages == b.maxMessages
        && maxBytes == b.maxBytes
        && timeToLive.equals(b.timeToLive)
        && dropOldest == b.dropOldest;
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxMessages, maxBytes, timeToLive, dropOldest);
  }

  @Override
  public String toString() {
    return "Outbox.bounded("
        + maxMessages
        + ", "
        + maxBytes
        + ")"
        + (timeToLive.isZero() ? "" : ".timeToLive(" + timeToLive + ")")
        + (dropOldest ? ".dropOldest()" : "");
  }
}
