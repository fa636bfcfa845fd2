package dev.lifeline.internal;

import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.disposables.Disposable;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Watches one connection for silence and declares it dead.
 *
 * <p>Threads: {@link #onFrame}, {@link #onPong} and {@link #setDelivering} are called on OkHttp's
 * reader thread and only write volatile fields. Everything else runs as tasks on the scheduler, one
 * at a time: exactly one check task is scheduled at any time, at the next moment something can
 * change, and each task schedules the next, so the fields marked "tasks" need no lock.
 *
 * <p>Life is any inbound frame, inbound bytes of a frame still arriving (from {@link LinkActivity};
 * an application heartbeat ignores reads small enough to be only a control frame), or the reader
 * thread being busy in a subscriber (that silence is ours, not the network's).
 */
final class HeartbeatMonitor {
  private static final long NONE = Long.MIN_VALUE;
  private static final AtomicLongFieldUpdater<HeartbeatMonitor> LAST_FRAME_AT =
      AtomicLongFieldUpdater.newUpdater(HeartbeatMonitor.class, "lastFrameAt");
  private static final AtomicIntegerFieldUpdater<HeartbeatMonitor> DELIVERING =
      AtomicIntegerFieldUpdater.newUpdater(HeartbeatMonitor.class, "delivering");

  /** What the monitor acts on: the connection it watches. */
  interface Link {
    /** OkHttp's {@code queueSize()}: payload bytes enqueued and not yet written. */
    long queueSize();

    /** Enqueues an application ping; false if OkHttp refused it. */
    boolean sendPing(Message ping);

    /** The connection is dead: cancel it and report {@code cause}. */
    void dead(HeartbeatTimeoutException cause);

    /** A pong arrived this long after its ping left the send queue. */
    void roundTrip(Duration rtt);
  }

  private final Heartbeat heartbeat;
  private final Mode mode;
  private final long intervalMs;
  private final long timeoutMs;
  private final long pollMs;
  private final Scheduler scheduler;
  private final LongSupplier clock; // monotonic milliseconds
  private final @Nullable LinkActivity activity; // null when nothing counts bytes (a fake factory)
  private final Supplier<String> name;
  private final Link link;
  private volatile long readsAtStart;

  // Written by the reader thread, on every frame: with ordered stores (lazySet), which need no
  // fence; the tasks that read them run milliseconds later.
  private volatile long lastFrameAt = NONE;
  private volatile boolean anyFrame;
  private volatile int delivering;
  private volatile boolean rttMeasured = true;

  // Written by the tasks, read by the reader thread for round-trip times.
  private volatile long pingLeftQueueAt = NONE;

  // Written once by the first task: whether this connection's bytes are counted.
  // They are not when OkHttp made the socket itself (a SOCKS proxy) instead of asking the factory;
  // the handshake's bytes, read before the WebSocket opened, show which case this is.
  private volatile boolean counted;

  // Tasks.
  private long startedAt;
  private boolean awaitingPong;
  private long pingSentAt;
  private long bytesAheadOfPing; // queue bytes up to and including the ping
  private long writtenAtPing;
  private long lastQueueSize;
  private long lastBytesWritten;
  private long queueProgressAt;
  private volatile Disposable next = Disposable.disposed();
  private volatile boolean stopped;

  /** What a heartbeat does, as the monitor needs to know it. */
  enum Mode {
    NONE,
    PASSIVE,
    PROTOCOL,
    APPLICATION
  }

  static Mode modeOf(Heartbeat heartbeat) {
    if (heartbeat instanceof Heartbeat.Protocol) return Mode.PROTOCOL;
    if (heartbeat instanceof Heartbeat.Application) return Mode.APPLICATION;
    if (heartbeat instanceof Heartbeat.Passive) return Mode.PASSIVE;
    return Mode.NONE;
  }

  /** How long a link may be silent before a ping; zero when nothing is sent. */
  static Duration intervalOf(Heartbeat heartbeat) {
    if (heartbeat instanceof Heartbeat.Protocol p) return p.interval();
    if (heartbeat instanceof Heartbeat.Application a) return a.interval();
    return Duration.ZERO;
  }

  /** How long a link may stay silent (after a ping, when one is sent); zero for none. */
  static Duration timeoutOf(Heartbeat heartbeat) {
    if (heartbeat instanceof Heartbeat.Protocol p) return p.timeout();
    if (heartbeat instanceof Heartbeat.Application a) return a.timeout();
    if (heartbeat instanceof Heartbeat.Passive p) return p.timeout();
    return Duration.ZERO;
  }

  HeartbeatMonitor(
      Heartbeat heartbeat,
      Scheduler scheduler,
      LongSupplier clock,
      @Nullable LinkActivity activity,
      Supplier<String> name,
      Link link) {
    this.clock = clock;
    this.name = name;
    this.heartbeat = heartbeat;
    this.mode = modeOf(heartbeat);
    this.intervalMs = intervalOf(heartbeat).toMillis();
    this.timeoutMs = timeoutOf(heartbeat).toMillis();
    this.pollMs = Math.max(1, timeoutMs / 10);
    this.scheduler = scheduler;
    this.activity = activity;
    this.link = link;
  }

  /** Whether this monitor does anything at all. */
  boolean enabled() {
    return mode != Mode.NONE;
  }

  /** Starts watching; call when the WebSocket opened. */
  void start() {
    if (activity != null) readsAtStart = activity.reads();
    if (!enabled()) return;
    next =
        scheduler.scheduleDirect(
            () -> {
              startedAt = now();
              counted = activity != null && activity.lastReadAt() != NONE;
              if (mode == Mode.PROTOCOL && !counted) {
                // Pongs are invisible without byte counts: leave liveness to OkHttp's own check,
                // which fails the connection when a pong is later than one interval.
                return;
              }
              check();
            });
  }

  /** Stops watching; idempotent, from any thread. */
  void stop() {
    stopped = true;
    // The scheduled task may be replaced concurrently by check(); check() re-tests `stopped` after
    // scheduling, so a task scheduled after this point disposes itself.
    next.dispose();
  }

  /** Reader thread: a frame arrived (data or application pong). */
  void onFrame() {
    if (!anyFrame) anyFrame = true;
    if (enabled()) LAST_FRAME_AT.lazySet(this, now());
  }

  /** Reader thread: an application pong arrived. */
  void onPong() {
    long leftAt = pingLeftQueueAt;
    if (!rttMeasured && leftAt != NONE) {
      rttMeasured = true;
      link.roundTrip(Duration.ofMillis(Math.max(0, lastFrameAt - leftAt)));
    }
  }

  /** Reader thread: a subscriber is (or no longer is) running on the reader thread. */
  void setDelivering(boolean delivering) {
    DELIVERING.lazySet(this, delivering ? 1 : 0);
  }

  /**
   * Whether anything arrived since {@link #start}: a frame or, for a protocol heartbeat whose pongs
   * only show as bytes, any read (counted without clocks, so a clock step cannot hide it).
   */
  boolean sawLife() {
    if (anyFrame) return true;
    if (mode != Mode.PROTOCOL) return false;
    LinkActivity bytes = activity;
    if (!counted || bytes == null) return true; // OkHttp's own pong check vouches for the link
    return bytes.reads() > readsAtStart;
  }

  private long lifeFromBytes() {
    LinkActivity bytes = activity;
    if (!counted || bytes == null) return NONE;
    return mode == Mode.APPLICATION ? bytes.lastBulkReadAt() : bytes.lastReadAt();
  }

  private long now() {
    return clock.getAsLong();
  }

  private void check() {
    if (stopped) return;
    long now = now();
    if (delivering != 0) lastFrameAt = now;
    long life = Math.max(startedAt, Math.max(lastFrameAt, lifeFromBytes()));
    switch (mode) {
      case PASSIVE:
        deadOrWait(
            now,
            life + timeoutMs,
            () -> "no inbound traffic for " + ms(timeoutMs) + " (passive heartbeat)");
        break;
      case PROTOCOL:
        deadOrWait(
            now,
            life + intervalMs + timeoutMs,
            () ->
                "no pong or other inbound traffic for "
                    + ms(intervalMs + timeoutMs)
                    + " (OkHttp pings every "
                    + ms(intervalMs)
                    + ")");
        break;
      case APPLICATION:
        checkApplication(now, life);
        break;
      default:
        break;
    }
  }

  private void checkApplication(long now, long life) {
    if (awaitingPong && life >= pingSentAt)
      awaitingPong = false; // anything since the ping answers it
    if (!awaitingPong) {
      if (now - life < intervalMs) {
        schedule(life + intervalMs - now);
        return;
      }
      sendPing(now);
    }
    if (pingLeftQueueAt == NONE) {
      long queue = link.queueSize();
      long written = activity != null ? activity.bytesWritten() : 0;
      boolean left =
          queue == 0 || (activity != null && written - writtenAtPing >= bytesAheadOfPing);
      if (!left) {
        // Still queued behind earlier messages. Bytes leaving the queue, or being written to the
        // socket, show the link is draining: slow, not dead.
        if (queue < lastQueueSize || written > lastBytesWritten) queueProgressAt = now;
        lastQueueSize = queue;
        lastBytesWritten = written;
        long deadline = Math.max(pingSentAt, queueProgressAt) + timeoutMs;
        if (now >= deadline) {
          dead(
              "the heartbeat ping was still queued behind "
                  + queue
                  + " bytes: nothing was written"
                  + " or received for "
                  + ms(timeoutMs)
                  + " (link silent for "
                  + ms(now - life)
                  + ")");
        } else {
          schedule(Math.min(deadline, now + pollMs) - now);
        }
        return;
      }
      pingLeftQueueAt = now;
    }
    long leftAt = pingLeftQueueAt;
    deadOrWait(
        now,
        leftAt + timeoutMs,
        () ->
            "no pong or other inbound frame within "
                + ms(timeoutMs)
                + " after the heartbeat ping left the send queue (link silent for "
                + ms(now - life)
                + ")");
  }

  private void sendPing(long now) {
    long ahead = link.queueSize();
    Message ping;
    try {
      ping =
          Objects.requireNonNull(
              ((Heartbeat.Application) heartbeat).ping().get(),
              "the heartbeat's ping supplier returned null");
    } catch (RuntimeException e) {
      // No ping to send: the link must prove itself with other traffic within the timeout.
      UserCode.report(name.get(), "the heartbeat's ping supplier (no ping sent)", e);
      awaitingPong = true;
      pingSentAt = now;
      pingLeftQueueAt = now;
      rttMeasured = true;
      return;
    }
    awaitingPong = true;
    pingSentAt = now;
    rttMeasured = false;
    if (ahead == 0) {
      pingLeftQueueAt = now; // nothing ahead of it: the writer takes it at once
    } else {
      pingLeftQueueAt = NONE;
      bytesAheadOfPing = ahead + ping.sizeInBytes();
      writtenAtPing = activity != null ? activity.bytesWritten() : 0;
      lastBytesWritten = writtenAtPing;
      queueProgressAt = now;
    }
    link.sendPing(ping); // false means the connection is closing; its end is reported anyway
    lastQueueSize = link.queueSize();
  }

  private void deadOrWait(long now, long deadline, java.util.function.Supplier<String> why) {
    if (now >= deadline) {
      dead(why.get());
    } else {
      schedule(deadline - now);
    }
  }

  private void dead(String message) {
    stopped = true;
    link.dead(new HeartbeatTimeoutException(message));
  }

  private void schedule(long delayMs) {
    long max = Durations.MAX_TIMER.toMillis(); // a huge interval stands for "never", no overflow
    next = scheduler.scheduleDirect(this::check, Math.min(delayMs, max), TimeUnit.MILLISECONDS);
    if (stopped) next.dispose();
  }

  private static String ms(long ms) {
    return Durations.formatMillis(ms);
  }
}
