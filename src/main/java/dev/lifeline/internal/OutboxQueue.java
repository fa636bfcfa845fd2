package dev.lifeline.internal;

import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The messages a socket holds until it can send them, oldest first. Not thread-safe by itself:
 * {@link Outbound} calls it holding its send lock. It only stores entries; whatever leaves it is
 * handed back to {@link Outbound}, which resolves it (written, or reported with a reason).
 */
final class OutboxQueue {
  /**
   * A message with its size, the time it expires ({@link Long#MAX_VALUE}: never), who waits on it
   * (an acknowledged send, a written-waiter; null for a plain send), and whether it was handed to a
   * connection before and came back (a retransmission, or a message still in the queue of a
   * connection that died): those are never dropped to make room.
   */
  record Entry(
      Message message, long size, long expiresAt, @Nullable SendTracker tracker, boolean requeued) {
    Entry requeue() {
      return requeued ? this : new Entry(message, size, expiresAt, tracker, true);
    }
  }

  private final Outbox policy;
  private final long ttlMs;
  private final ArrayDeque<Entry> entries = new ArrayDeque<>();
  private long bytes;

  OutboxQueue(Outbox policy) {
    this.policy = policy;
    this.ttlMs = policy.timeToLive().toMillis();
  }

  Outbox policy() {
    return policy;
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  @Nullable Entry peek() {
    return entries.peekFirst();
  }

  @Nullable Entry poll() {
    Entry e = entries.pollFirst();
    if (e != null) bytes -= e.size();
    return e;
  }

  /** What {@link #offer} decided, and the entries it dropped to make room. */
  record Offer(SendResult result, List<Entry> dropped) {}

  private static final Offer QUEUED = new Offer(SendResult.QUEUED, Collections.emptyList());
  private static final Offer TOO_LARGE =
      new Offer(SendResult.REJECTED_TOO_LARGE, Collections.emptyList());
  private static final Offer FULL =
      new Offer(SendResult.REJECTED_OUTBOX_FULL, Collections.emptyList());

  /**
   * Queues {@code message} if it fits; with {@link Outbox#dropOldest()}, first drops the oldest
   * entries that were never handed to a connection until it does. A message larger than the whole
   * outbox is {@code REJECTED_TOO_LARGE}: no amount of draining would make room for it.
   */
  Offer offer(Message message, long size, long now, @Nullable SendTracker tracker) {
    if (size > policy.maxBytes()) return TOO_LARGE;
    if (policy.maxMessages() == 0) return FULL;
    List<Entry> dropped = Collections.emptyList();
    if (!fits(size, 0, 0)) {
      if (!policy.dropsOldest()) return FULL;
      // How many of the oldest droppable entries must go; refuse if even all of them are not
      // enough.
      int count = 0;
      long freed = 0;
      for (Entry e : entries) {
        if (fits(size, count, freed)) break;
        if (e.requeued()) continue;
        count++;
        freed += e.size();
      }
      if (!fits(size, count, freed)) return FULL;
      dropped = new ArrayList<>(count);
      for (Iterator<Entry> it = entries.iterator(); it.hasNext() && dropped.size() < count; ) {
        Entry e = it.next();
        if (e.requeued()) continue;
        it.remove();
        bytes -= e.size();
        dropped.add(e);
      }
    }
    entries.addLast(
        new Entry(message, size, ttlMs == 0 ? Long.MAX_VALUE : now + ttlMs, tracker, false));
    bytes += size;
    return dropped.isEmpty() ? QUEUED : new Offer(SendResult.QUEUED, dropped);
  }

  /** Whether {@code size} more bytes fit once {@code count} entries of {@code freed} bytes go. */
  private boolean fits(long size, int count, long freed) {
    return entries.size() - count < policy.maxMessages()
        && bytes - freed + size <= policy.maxBytes();
  }

  /**
   * Puts entries that were handed to a connection back at the front, in the given order, to be sent
   * again before anything queued later. Limits do not apply: they were accepted already.
   */
  void requeueFirst(List<Entry> inOrder) {
    for (int i = inOrder.size() - 1; i >= 0; i--) {
      Entry e = inOrder.get(i).requeue();
      entries.addFirst(e);
      bytes += e.size();
    }
  }

  /** Removes the entry {@code tracker} waits on, if it is still queued. */
  boolean remove(SendTracker tracker) {
    return entries.removeIf(
        e -> {
          if (e.tracker() != tracker) return false;
          bytes -= e.size();
          return true;
        });
  }

  /** Removes and returns the entries whose time-to-live has passed at {@code now}. */
  List<Entry> removeExpired(long now) {
    if (nextExpiry() > now) return Collections.emptyList();
    List<Entry> expired = new ArrayList<>();
    for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
      Entry e = it.next();
      if (e.expiresAt() > now) continue;
      it.remove();
      bytes -= e.size();
      expired.add(e);
    }
    return expired;
  }

  /** When the next entry expires, or {@link Long#MAX_VALUE}. */
  long nextExpiry() {
    if (ttlMs == 0) return Long.MAX_VALUE;
    long next = Long.MAX_VALUE;
    for (Entry e : entries) next = Math.min(next, e.expiresAt());
    return next;
  }

  /** Empties the outbox and returns what it held, oldest first. */
  List<Entry> removeAll() {
    List<Entry> all = new ArrayList<>(entries);
    entries.clear();
    bytes = 0;
    return all;
  }
}
