package dev.lifeline.internal;

import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.IntPredicate;
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

  // A plain send costs no allocation: the item is the Message itself when nobody waits on it and it
  // was never handed to a connection, else its Entry; with its size and when it expires.
  private final Ring ring = new Ring();
  private long bytes;

  OutboxQueue(Outbox policy) {
    this.policy = policy;
    this.ttlMs = policy.timeToLive().toMillis();
  }

  Outbox policy() {
    return policy;
  }

  boolean isEmpty() {
    return ring.isEmpty();
  }

  /** The oldest item: a plain {@link Message}, or an {@link Entry}; null if empty. */
  @Nullable Object peekItem() {
    return ring.isEmpty() ? null : ring.item(0);
  }

  /** The size in bytes of the oldest item. */
  long peekSize() {
    return ring.first(0);
  }

  /** When the oldest item expires ({@link Long#MAX_VALUE}: never). */
  long peekExpiry() {
    return ring.second(0);
  }

  /** The message of an item from {@link #peekItem}. */
  static Message messageOf(Object item) {
    return item instanceof Entry e ? e.message() : (Message) item;
  }

  /** Removes the oldest item. */
  void poll() {
    bytes -= ring.first(0);
    ring.pollFirst();
  }

  private Entry entryAt(int k) {
    return ring.item(k) instanceof Entry e
        ? e
        : new Entry(
            (Message) Objects.requireNonNull(ring.item(k)),
            ring.first(k),
            ring.second(k),
            null,
            false);
  }

  private boolean requeuedAt(int k) {
    return ring.item(k) instanceof Entry e && e.requeued();
  }

  /** Removes the items {@code pick} chooses, keeping the others' order; returns the removed. */
  private List<Entry> removeWhere(IntPredicate pick) {
    List<Entry> removed = new ArrayList<>(0);
    ring.removeWhere(
        pick,
        k -> {
          removed.add(entryAt(k));
          bytes -= ring.first(k);
        });
    return removed;
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
      int drop = 0;
      long freed = 0;
      for (int k = 0; k < ring.size(); k++) {
        if (fits(size, drop, freed)) break;
        if (requeuedAt(k)) continue;
        drop++;
        freed += ring.first(k);
      }
      if (!fits(size, drop, freed)) return FULL;
      int[] left = {drop};
      dropped = removeWhere(k -> left[0] > 0 && !requeuedAt(k) && left[0]-- > 0);
    }
    long expiresAt = ttlMs == 0 ? Long.MAX_VALUE : now + ttlMs;
    ring.addLast(
        tracker == null ? message : new Entry(message, size, expiresAt, tracker, false),
        size,
        expiresAt);
    bytes += size;
    return dropped.isEmpty() ? QUEUED : new Offer(SendResult.QUEUED, dropped);
  }

  /** Whether {@code size} more bytes fit once {@code count} entries of {@code freed} bytes go. */
  private boolean fits(long size, int count, long freed) {
    return ring.size() - count < policy.maxMessages() && bytes - freed + size <= policy.maxBytes();
  }

  /**
   * Puts entries that were handed to a connection back at the front, in the given order, to be sent
   * again before anything queued later. Limits do not apply: they were accepted already.
   */
  void requeueFirst(List<Entry> inOrder) {
    for (int i = inOrder.size() - 1; i >= 0; i--) {
      Entry e = inOrder.get(i).requeue();
      ring.addFirst(e, e.size(), e.expiresAt());
      bytes += e.size();
    }
  }

  /** Removes the entry {@code tracker} waits on, if it is still queued. */
  boolean remove(SendTracker tracker) {
    return !removeWhere(k -> ring.item(k) instanceof Entry e && e.tracker() == tracker).isEmpty();
  }

  /** Removes and returns the entries whose time-to-live has passed at {@code now}. */
  List<Entry> removeExpired(long now) {
    if (nextExpiry() > now) return Collections.emptyList();
    return removeWhere(k -> ring.second(k) <= now);
  }

  /** When the next entry expires, or {@link Long#MAX_VALUE}. */
  long nextExpiry() {
    if (ttlMs == 0) return Long.MAX_VALUE;
    long next = Long.MAX_VALUE;
    for (int k = 0; k < ring.size(); k++) next = Math.min(next, ring.second(k));
    return next;
  }

  /** Empties the outbox and returns what it held, oldest first. */
  List<Entry> removeAll() {
    return removeWhere(k -> true);
  }
}
