package dev.lifeline.internal;

import dev.lifeline.LifelineException;
import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.OutboxExpiredException;
import dev.lifeline.OutboxOverflowException;
import dev.lifeline.SendResult;
import dev.lifeline.Undelivered;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The messages a socket holds until it can send them, oldest first. Not thread-safe by itself:
 * every method must be called holding this object's monitor, which the socket also holds while it
 * hands messages to OkHttp, so that a thread's messages never overtake each other.
 */
final class OutboxQueue {
  /**
   * A queued message with its size, the time it expires ({@link Long#MAX_VALUE}: never), and who
   * waits on it (an acknowledged send, a written-waiter), or null for a plain send.
   */
  record Entry(Message message, long size, long expiresAt, @Nullable SendTracker tracker) {}

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
   * the policy says so ({@code dropped} may be null when it does not).
   */
  SendResult offer(
      Message message,
      long size,
      long now,
      @Nullable SendTracker tracker,
      @Nullable List<Undelivered> dropped) {
    if (size > policy.maxBytes() || policy.maxMessages() == 0)
      return SendResult.REJECTED_OUTBOX_FULL;
    while (entries.size() >= policy.maxMessages() || bytes + size > policy.maxBytes()) {
      if (!policy.dropsOldest() || dropped == null) return SendResult.REJECTED_OUTBOX_FULL;
      dropped.add(new Undelivered(poll().message(), new OutboxOverflowException(policy)));
    }
    entries.addLast(new Entry(message, size, ttlMs == 0 ? Long.MAX_VALUE : now + ttlMs, tracker));
    bytes += size;
    return SendResult.QUEUED;
  }

  /**
   * Puts an unacknowledged message back at the front, to be sent again before anything queued
   * later; limits do not apply, since it was taken already. Call in reverse send order.
   */
  void requeueFirst(PendingReply reply) {
    entries.addFirst(new Entry(reply.message, reply.size, Long.MAX_VALUE, reply));
    bytes += reply.size;
  }

  /** Removes the entry {@code tracker} waits on, if it is still queued. */
  void remove(SendTracker tracker) {
    entries.removeIf(
        e -> {
          if (e.tracker() != tracker) return false;
          bytes -= e.size();
          return true;
        });
  }

  /**
   * Removes messages whose time-to-live has passed: plain ones into {@code expired}, tracked ones
   * into {@code trackers} (their waiters are told, outside the lock).
   */
  void removeExpired(long now, List<Undelivered> expired, List<SendTracker> trackers) {
    if (nextExpiry() > now) return;
    for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
      Entry e = it.next();
      if (e.expiresAt() > now) continue;
      it.remove();
      bytes -= e.size();
      if (e.tracker() == null) {
        expired.add(new Undelivered(e.message(), new OutboxExpiredException(policy.timeToLive())));
      } else {
        trackers.add(e.tracker());
      }
    }
  }

  /** The exception for a message that outlived the time-to-live. */
  OutboxExpiredException expiredException() {
    return new OutboxExpiredException(policy.timeToLive());
  }

  /** When the next message expires, or {@link Long#MAX_VALUE}. */
  long nextExpiry() {
    long next = Long.MAX_VALUE;
    for (Entry e : entries) next = Math.min(next, e.expiresAt());
    return next;
  }

  /**
   * Empties the outbox: plain messages into {@code out} with {@code reason}, tracked ones into
   * {@code trackers} (their own sends fail instead).
   */
  void failAll(LifelineException reason, List<Undelivered> out, List<SendTracker> trackers) {
    Entry e;
    while ((e = poll()) != null) {
      if (e.tracker() == null) {
        out.add(new Undelivered(e.message(), reason));
      } else {
        trackers.add(e.tracker());
      }
    }
  }
}
