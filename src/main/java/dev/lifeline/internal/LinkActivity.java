package dev.lifeline.internal;

import java.util.function.LongSupplier;

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

  /** Creates activity stamped with {@code clock} (milliseconds). */
  public LinkActivity(LongSupplier clock) {
    this.clock = clock;
  }

  void onRead(int bytes) {
    long now = clock.getAsLong();
    lastReadAt = now;
    if (bytes >= BULK_READ_BYTES) lastBulkReadAt = now;
  }

  @SuppressWarnings("NonAtomicVolatileUpdate") // one writer thread per socket at a time
  void onWrite(int bytes) {
    bytesWritten += bytes;
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
