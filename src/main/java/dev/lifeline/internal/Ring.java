package dev.lifeline.internal;

import java.util.function.IntConsumer;
import java.util.function.IntPredicate;
import org.jspecify.annotations.Nullable;

/**
 * A double-ended queue of items that each carry two longs, kept in parallel arrays so that adding
 * one allocates nothing (the arrays double when full). Positions count from the oldest, 0. Not
 * thread-safe: its owner guards it.
 */
final class Ring {
  private @Nullable Object[] items = new Object[16];
  private long[] firsts = new long[16];
  private long[] seconds = new long[16];
  private int head;
  private int size;

  boolean isEmpty() {
    return size == 0;
  }

  int size() {
    return size;
  }

  private int at(int k) {
    return (head + k) & (items.length - 1);
  }

  @Nullable Object item(int k) {
    return items[at(k)];
  }

  long first(int k) {
    return firsts[at(k)];
  }

  long second(int k) {
    return seconds[at(k)];
  }

  /** Replaces the item at {@code k}, keeping its place and its longs. */
  void setItem(int k, @Nullable Object item) {
    items[at(k)] = item;
  }

  void addLast(Object item, long first, long second) {
    if (size == items.length) grow();
    put(at(size), item, first, second);
    size++;
  }

  void addFirst(Object item, long first, long second) {
    if (size == items.length) grow();
    head = (head - 1) & (items.length - 1);
    put(head, item, first, second);
    size++;
  }

  private void put(int i, @Nullable Object item, long first, long second) {
    items[i] = item;
    firsts[i] = first;
    seconds[i] = second;
  }

  /** Removes the oldest element and returns its item. */
  @Nullable Object pollFirst() {
    Object item = items[head];
    items[head] = null;
    head = at(1);
    size--;
    return item;
  }

  void clear() {
    while (size > 0) pollFirst();
  }

  /**
   * Removes the elements {@code pick} chooses, by position, keeping the others in order. {@code
   * removed} hears of each before it goes, while {@link #item}, {@link #first} and {@link #second}
   * still read it at that position.
   */
  void removeWhere(IntPredicate pick, IntConsumer removed) {
    int kept = 0;
    int n = size;
    for (int k = 0; k < n; k++) {
      if (pick.test(k)) {
        removed.accept(k);
        continue;
      }
      int i = at(k);
      put(at(kept++), items[i], firsts[i], seconds[i]);
    }
    for (int k = kept; k < n; k++) items[at(k)] = null;
    size = kept;
  }

  private void grow() {
    int n = items.length;
    Object[] newItems = new Object[n * 2];
    long[] newFirsts = new long[n * 2];
    long[] newSeconds = new long[n * 2];
    for (int k = 0; k < size; k++) {
      int i = at(k);
      newItems[k] = items[i];
      newFirsts[k] = firsts[i];
      newSeconds[k] = seconds[i];
    }
    items = newItems;
    firsts = newFirsts;
    seconds = newSeconds;
    head = 0;
  }
}
