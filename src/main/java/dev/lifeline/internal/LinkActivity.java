package dev.lifeline.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * What a socket's TCP connections are doing, counted below OkHttp by {@link CountingSocketFactory}:
 * when bytes last arrived, and how many have left. The heartbeat reads it to tell a slow but live
 * link (bytes of a large frame still trickling in, a queued ping still being written out) from a
 * dead one.
 *
 * <p>Written by OkHttp's reader and writer threads, read by the heartbeat's timer: every field is
 * volatile with a single writer per field.
 */
public final class LinkActivity {
  /**
   * A read smaller than this may be only a control frame (a pong or ping is at most 125 bytes of
   * payload, plus header and TLS record overhead), so an application heartbeat does not take it as
   * proof that the application is alive.
   */
  static final int BULK_READ_BYTES = 256;

  private final LongSupplier clock;
  private volatile long lastReadAt = Long.MIN_VALUE;
  private volatile long lastBulkReadAt = Long.MIN_VALUE;
  private volatile long bytesWritten;
  private volatile long reads; // read calls that returned bytes: "anything since" without clocks
  private final AtomicInteger writing = new AtomicInteger(); // socket writes under way
  private volatile @Nullable Runnable onWritten;
  private volatile @Nullable Runnable onNextRead;

  /** Creates activity stamped with {@code clock} (milliseconds). */
  public LinkActivity(LongSupplier clock) {
    this.clock = clock;
  }

  /** Runs {@code listener} on the writer thread after bytes were written. */
  void onWritten(Runnable listener) {
    this.onWritten = listener;
  }

  /** Runs {@code listener} once, on the reader thread, after the next read that returns bytes. */
  void onNextRead(Runnable listener) {
    this.onNextRead = listener;
  }

  @SuppressWarnings("NonAtomicVolatileUpdate") // one reader thread per socket at a time
  void onRead(int bytes) {
    reads++;
    long now = clock.getAsLong();
    lastReadAt = now;
    if (bytes >= BULK_READ_BYTES) lastBulkReadAt = now;
    Runnable listener = onNextRead;
    if (listener != null) {
      onNextRead = null;
      listener.run();
    }
  }

  @SuppressWarnings("NonAtomicVolatileUpdate") // one writer thread per socket at a time
  void onWrite(int bytes) {
    bytesWritten += bytes;
    Runnable listener = onWritten;
    if (listener != null) listener.run();
  }

  /** A socket write begins: until it ends, its bytes are on their way (a write may block). */
  void writeStarting() {
    writing.incrementAndGet();
  }

  void writeEnded() {
    writing.decrementAndGet();
  }

  /**
   * Whether a socket write has begun and not returned (blocked, say, on a peer that stopped
   * reading).
   */
  boolean writing() {
    return writing.get() > 0;
  }

  /** How many reads have returned bytes so far; compare two values to learn of life between. */
  long reads() {
    return reads;
  }

  /** When any bytes last arrived, or {@link Long#MIN_VALUE}. */
  public long lastReadAt() {
    return lastReadAt;
  }

  /** When a read of at least {@value #BULK_READ_BYTES} bytes last completed. */
  public long lastBulkReadAt() {
    return lastBulkReadAt;
  }

  /** Total bytes written to the sockets. */
  public long bytesWritten() {
    return bytesWritten;
  }
}
