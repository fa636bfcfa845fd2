package dev.lifeline.internal;

import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.OutboxExpiredException;
import dev.lifeline.OutboxOverflowException;
import dev.lifeline.SendResult;
import dev.lifeline.Undelivered;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The messages a socket holds until it can send them, oldest first. Not thread-safe by itself:
 * every method must be called holding this object's monitor, which the socket also holds while it
 * hands messages to OkHttp, so that a thread's messages never overtake each other.
 */
final class OutboxQueue {
  /** A queued message with its size and the time it expires ({@link Long#MAX_VALUE}: never). */
  record Entry(Message message, long size, long expiresAt) {}

  private final Outbox policy;
  private final long ttlMs;
  private final ArrayDeque<Entry> entries = new ArrayDeque<>();
  private long bytes;

  OutboxQueue(Outbox policy) {
    this.policy = policy;
    this.ttlMs = policy.timeToLive().toMillis();
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  int size() {
    return entries.size();
  }

  Entry peek() {
    return entries.peekFirst();
  }

  Entry poll() {
    Entry e = entries.pollFirst();
    if (e != null) bytes -= e.size();
    return e;
  }

  /**
   * Queues {@code message} if it fits, dropping the oldest messages into {@code dropped} first when
   * the policy says so.
   */
  SendResult offer(Message message, long size, long now, List<Undelivered> dropped) {
    if (size > policy.maxBytes() || policy.maxMessages() == 0) return SendResult.REJECTED_OUTBOX_FULL;
    while (entries.size() >= policy.maxMessages() || bytes + size > policy.maxBytes()) {
      if (!policy.dropsOldest()) return SendResult.REJECTED_OUTBOX_FULL;
      dropped.add(new Undelivered(poll().message(), new OutboxOverflowException(policy)));
    }
    entries.addLast(new Entry(message, size, ttlMs == 0 ? Long.MAX_VALUE : now + ttlMs));
    bytes += size;
    return SendResult.QUEUED;
  }

  /** Moves messages whose time-to-live has passed into {@code expired}. */
  void removeExpired(long now, List<Undelivered> expired) {
    // Every message gets the same time-to-live, so the oldest expires first.
    while (!entries.isEmpty() && entries.peekFirst().expiresAt() <= now) {
      expired.add(new Undelivered(poll().message(), new OutboxExpiredException(policy.timeToLive())));
    }
  }

  /** When the oldest message expires, or {@link Long#MAX_VALUE}. */
  long nextExpiry() {
    Entry first = entries.peekFirst();
    return first == null ? Long.MAX_VALUE : first.expiresAt();
  }

  /** Empties the outbox into {@code out}, each message with {@code reason}. */
  void failAll(dev.lifeline.LifelineException reason, List<Undelivered> out) {
    Entry e;
    while ((e = poll()) != null) out.add(new Undelivered(e.message(), reason));
  }
}
