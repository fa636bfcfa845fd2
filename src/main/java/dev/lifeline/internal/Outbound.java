package dev.lifeline.internal;

import dev.lifeline.LifelineException;
import dev.lifeline.Message;
import dev.lifeline.OutboxExpiredException;
import dev.lifeline.OutboxOverflowException;
import dev.lifeline.SendResult;
import dev.lifeline.Undelivered;
import dev.lifeline.internal.OutboxQueue.Entry;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.disposables.Disposable;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything outbound: the send lock, the outbox, room in OkHttp's queue, and what was handed to a
 * connection but is not known to be written yet.
 *
 * <p><b>Every message that leaves the outbox is resolved exactly once</b>, through {@link
 * #resolve}: written to a connection (its tracker completes), or reported with a reason (its
 * tracker fails, or a plain message goes to {@link #undelivered()}). A message the outbox hands to
 * a connection stays in that connection's {@link Lane} until OkHttp's queue has moved past it; if
 * the connection dies first, it goes back to the front of the outbox and is sent again on the next
 * one: OkHttp never wrote it, so this cannot duplicate it. Messages sent straight to a ready
 * connection with nobody waiting on them ({@link SendResult#SENT}) are not followed: handed to
 * OkHttp is their promise.
 *
 * <p><b>Flow control is event-driven.</b> OkHttp's queue has no callback, but every byte it writes
 * passes through the socket Lifeline counts ({@link LinkActivity}); while anything waits for room
 * or for its bytes to leave, a write schedules one drain on the scheduler. OkHttp updates its queue
 * size just after the write returns, so a drain that saw bytes written but the queue unchanged
 * looks once more a millisecond later. Where no bytes are counted (OkHttp made the socket itself,
 * for a SOCKS proxy) the drain falls back to looking every {@value #UNCOUNTED_POLL_MS} ms while
 * anything waits.
 *
 * <p>Threads: {@link #send} from any thread; the methods taking a {@code signals} list from the
 * socket's loop, which runs the signals after the event's bookkeeping; {@link #onBytesWritten} on
 * OkHttp's writer thread. Fields are guarded by {@code this} unless marked otherwise. No user code
 * runs under the lock.
 */
final class Outbound {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  /** OkHttp closes a socket (1001) whose send queue would pass this. */
  static final long OKHTTP_QUEUE_LIMIT = 16L << 20;

  /** Kept free under OkHttp's limit for heartbeat pings, whatever the high-water mark. */
  static final long PING_RESERVE = 64L << 10;

  private static final long UNCOUNTED_POLL_MS = 10;
  private static final long WRITE_SETTLE_MS = 1;

  /** What the outbound part needs from the socket. */
  interface Host {
    String name();

    /** Monotonic milliseconds. */
    long now();

    /** Runs {@code event} on the socket's loop, after {@code delay}. */
    Disposable after(Duration delay, Runnable event);

    /** Runs {@code event} on the socket's loop now (or when the loop is free). */
    void submit(Runnable event);
  }

  /** What was handed to a connection and is not known to have left its queue. */
  private record Handed(Entry entry, long base, long seq, boolean forgotten) {
    Handed(Entry entry, long base, long seq) {
      this(entry, base, seq, false);
    }
  }

  /** The send side of one connection. Fields guarded by the enclosing {@link Outbound}. */
  static final class Lane {
    final Link link;
    private @Nullable ArrayDeque<Handed> handed; // oldest first
    private long watched; // exact bytes enqueued since the oldest of `handed` was
    private long knownRoom; // a lower bound on the room under the mark (see hasRoom)
    private long lastQueueSize = -1;
    private long lastBytesWritten;
    private boolean closing;

    Lane(Link link) {
      this.link = link;
    }

    private boolean watching() {
      return handed != null && !handed.isEmpty();
    }
  }

  private final Host host;
  private final OutboxQueue outbox;
  private final long highWaterMark;
  private final boolean expiring;
  private final @Nullable LinkActivity activity;
  private final @Nullable Replies replies;
  private final SerialEmitter<Undelivered> undelivered;
  private final AtomicBoolean drainRequested = new AtomicBoolean();

  private @Nullable Lane target; // the ready connection; null unless Connected
  private final List<Lane> closing = new ArrayList<>(0); // gracefully closing, still writing
  private long handoffs; // hand-off counter, for resend order
  private boolean closed;

  private volatile boolean wantsWrites; // whether a written byte should trigger a drain

  // Loop-confined.
  private Disposable expiryTimer = Disposable.disposed();
  private Disposable lookAgain = Disposable.disposed();
  private volatile Disposable drainTask = Disposable.disposed();

  Outbound(Config config, Host host, @Nullable LinkActivity activity, @Nullable Replies replies) {
    this.host = host;
    this.outbox = new OutboxQueue(config.outbox());
    this.highWaterMark = Math.min(config.highWaterMark(), OKHTTP_QUEUE_LIMIT - PING_RESERVE);
    this.expiring = !config.outbox().timeToLive().isZero();
    this.activity = activity;
    this.replies = replies;
    this.undelivered = new SerialEmitter<>(host::name, "undelivered() subscriber");
    if (activity != null) activity.onWritten(this::onBytesWritten);
  }

  Observable<Undelivered> undelivered() {
    return undelivered.stream();
  }

  Lane lane(Link link) {
    return new Lane(link);
  }

  // --- Sending -----------------------------------------------------------------------------------

  /** Any thread: sends {@code message} at once if a ready connection has room, else queues it. */
  SendResult send(Message message, @Nullable SendTracker tracker) {
    long size = -1; // the exact UTF-8 size of a text costs a pass over it: only when needed
    if (upperBound(message) > OKHTTP_QUEUE_LIMIT
        && (size = message.sizeInBytes()) > OKHTTP_QUEUE_LIMIT) {
      log.debug(
          "{} {}: larger than OkHttp's 16 MiB queue", host.name(), SendResult.REJECTED_TOO_LARGE);
      return SendResult.REJECTED_TOO_LARGE;
    }
    // Read outside the lock (a Scheduler may be user code), and only when a time-to-live needs it.
    long now = expiring ? host.now() : 0;
    OutboxQueue.Offer offer;
    boolean first;
    synchronized (this) {
      if (closed) return SendResult.REJECTED_CLOSED;
      Lane lane = target;
      if (lane != null && outbox.isEmpty() && hasRoom(lane, message, size)) {
        if (tracker == null ? write(lane, message) : handTo(lane, entry(message, size, tracker))) {
          if (log.isTraceEnabled()) log.trace("{} SENT {}", host.name(), Link.describe(message));
          return SendResult.SENT;
        }
      }
      if (size < 0) size = message.sizeInBytes();
      first = outbox.isEmpty();
      offer = outbox.offer(message, size, now, tracker);
      if (offer.result() == SendResult.QUEUED) wantsWrites = true;
    }
    SendResult result = offer.result();
    if (!offer.dropped().isEmpty()) {
      List<Runnable> signals = new ArrayList<>();
      OutboxOverflowException reason = new OutboxOverflowException(outbox.policy());
      for (Entry e : offer.dropped()) resolve(e, reason, signals);
      runAll(signals);
    }
    if (result == SendResult.QUEUED) {
      if (log.isTraceEnabled()) log.trace("{} QUEUED {}", host.name(), Link.describe(message));
      if (first) requestDrain();
    } else {
      log.debug(
          "{} {}: {} ({} bytes)",
          host.name(),
          result,
          result == SendResult.REJECTED_TOO_LARGE ? "larger than the whole outbox" : "outbox full",
          size);
    }
    return result;
  }

  private static Entry entry(Message message, long size, SendTracker tracker) {
    return new Entry(
        message, size >= 0 ? size : message.sizeInBytes(), Long.MAX_VALUE, tracker, false);
  }

  /**
   * Any thread (the ready hook's Session): sends on {@code lane}'s connection even before it is
   * ready, under the same high-water mark; false if it ended or has no room.
   */
  boolean sendOn(Lane lane, Message message) {
    synchronized (this) {
      return hasRoom(lane, message, -1) && write(lane, message);
    }
  }

  /** Scheduler: a heartbeat ping; refused only where OkHttp would close the socket for it. */
  boolean ping(Lane lane, Message ping) {
    synchronized (this) {
      if (lane.link.queueSize() + ping.sizeInBytes() > OKHTTP_QUEUE_LIMIT) return false;
      return write(lane, ping);
    }
  }

  /** Holding the lock: hands an untracked message to OkHttp. */
  private boolean write(Lane lane, Message message) {
    if (!lane.link.write(message)) return false;
    lane.knownRoom -= upperBound(message);
    if (lane.watching()) lane.watched += message.sizeInBytes();
    return true;
  }

  /** Holding the lock: hands an entry to OkHttp and follows it until it has left the queue. */
  private boolean handTo(Lane lane, Entry e) {
    if (!lane.link.write(e.message())) return false;
    lane.knownRoom -= upperBound(e.message());
    ArrayDeque<Handed> handed = lane.handed;
    if (handed == null) lane.handed = handed = new ArrayDeque<>();
    if (handed.isEmpty()) {
      lane.watched = 0;
    } else {
      lane.watched += e.size();
    }
    long seq = ++handoffs;
    handed.addLast(new Handed(e, lane.watched, seq));
    if (e.tracker() != null) e.tracker().sent(lane.link, seq);
    wantsWrites = true;
    return true;
  }

  /**
   * Holding the lock: whether OkHttp's queue can take {@code message} without passing the
   * high-water mark. Most sends fit in the room known from the last look at the queue; only the
   * others ask OkHttp, whose {@code queueSize()} takes the lock its writer thread works under. One
   * message larger than the mark still goes, alone.
   */
  private boolean hasRoom(Lane lane, Message message, long knownSize) {
    if ((knownSize >= 0 ? knownSize : upperBound(message)) <= lane.knownRoom) return true;
    long queued = lane.link.queueSize();
    long room = highWaterMark - queued;
    lane.knownRoom = room;
    if (queued == 0) return true;
    if (knownSize >= 0) return knownSize <= room;
    return upperBound(message) <= room || message.sizeInBytes() <= room;
  }

  /** A bound on a message's size in bytes that costs nothing to compute. */
  static long upperBound(Message message) {
    return message instanceof Message.Text t ? 3L * t.text().length() : message.sizeInBytes();
  }

  // --- Draining ----------------------------------------------------------------------------------

  /** Writer thread: bytes left through a counted socket. */
  private void onBytesWritten() {
    if (wantsWrites) requestDrain();
  }

  /** Any thread: runs one {@link #drain} on the loop soon, from the scheduler. */
  void requestDrain() {
    if (!drainRequested.compareAndSet(false, true)) return;
    drainTask =
        host.after(
            Duration.ZERO,
            () -> {
              drainRequested.set(false);
              List<Runnable> signals = new ArrayList<>();
              drain(signals);
              runAll(signals);
            });
  }

  /**
   * Loop: completes what has left OkHttp's queue, reports what expired, and sends what the outbox
   * holds, oldest first, while the ready connection has room.
   */
  void drain(List<Runnable> signals) {
    long now = host.now();
    List<Entry> expired;
    List<Entry> written = new ArrayList<>(0);
    boolean settle = false;
    boolean poll = false;
    long nextExpiry;
    synchronized (this) {
      expired = outbox.removeExpired(now);
      for (Lane lane : closing) settle |= prune(lane, written);
      Lane lane = target;
      if (lane != null) {
        settle |= prune(lane, written);
        Entry next;
        while ((next = outbox.peek()) != null
            && hasRoom(lane, next.message(), next.size())
            && handTo(lane, next)) {
          outbox.poll();
        }
      }
      boolean waiting =
          (lane != null && (!outbox.isEmpty() || lane.watching())) || anyWatching(closing);
      wantsWrites = waiting;
      poll = waiting && !countsBytes();
      settle &= waiting;
      nextExpiry = outbox.nextExpiry();
    }
    OutboxExpiredException expiry = null;
    for (Entry e : expired) {
      if (expiry == null) expiry = new OutboxExpiredException(outbox.policy().timeToLive());
      resolve(e, expiry, signals);
    }
    for (Entry e : written) resolveWritten(e, signals);
    lookAgain.dispose();
    if (poll || settle) {
      lookAgain =
          host.after(
              Duration.ofMillis(poll ? UNCOUNTED_POLL_MS : WRITE_SETTLE_MS),
              () -> {
                List<Runnable> later = new ArrayList<>();
                drain(later);
                runAll(later);
              });
    }
    expiryTimer.dispose();
    if (nextExpiry != Long.MAX_VALUE) {
      expiryTimer =
          host.after(
              Duration.ofMillis(Math.max(0, nextExpiry - now)),
              () -> {
                List<Runnable> later = new ArrayList<>();
                drain(later);
                runAll(later);
              });
    }
  }

  private static boolean anyWatching(List<Lane> lanes) {
    for (Lane l : lanes) if (l.watching()) return true;
    return false;
  }

  private boolean countsBytes() {
    LinkActivity a = activity;
    return a != null && a.lastReadAt() != Long.MIN_VALUE;
  }

  /**
   * Holding the lock: moves what has left {@code lane}'s OkHttp queue into {@code written}; true if
   * bytes were written since the last look but the queue did not move (OkHttp updates it just after
   * a write: look again shortly).
   */
  private boolean prune(Lane lane, List<Entry> written) {
    long queued = lane.link.queueSize();
    long bytesOut = activity != null ? activity.bytesWritten() : 0;
    boolean stale = queued == lane.lastQueueSize && bytesOut != lane.lastBytesWritten && queued > 0;
    lane.lastQueueSize = queued;
    lane.lastBytesWritten = bytesOut;
    lane.knownRoom = highWaterMark - queued;
    ArrayDeque<Handed> handed = lane.handed;
    if (handed == null) return stale;
    Handed h;
    while ((h = handed.peekFirst()) != null && queued <= lane.watched - h.base()) {
      handed.pollFirst();
      if (!h.forgotten()) written.add(h.entry());
    }
    return stale;
  }

  /** Any thread: whether {@code lane} holds messages the outbox must see written or send again. */
  boolean follows(Lane lane) {
    synchronized (this) {
      return lane.watching();
    }
  }

  /** Loop: {@code lane}'s connection is ready; what the outbox holds goes out now. */
  void attach(Lane lane, List<Runnable> signals) {
    synchronized (this) {
      target = lane;
      lane.knownRoom = 0; // ask OkHttp on the first send
    }
    drain(signals);
  }

  /**
   * Loop: {@code lane}'s connection closes gracefully: nothing new goes to it, and what it still
   * has queued is followed until OkHttp writes it or the connection ends ({@link #ended}).
   */
  void closing(Lane lane) {
    synchronized (this) {
      if (target == lane) target = null;
      if (!lane.closing && lane.watching()) {
        lane.closing = true;
        closing.add(lane);
      }
    }
  }

  /**
   * Loop: {@code link}'s connection is over (failed, cancelled, or closed). What it never wrote,
   * and what awaits a reply it will not bring, goes back to the front of the outbox in hand-off
   * order; what it wrote is resolved as written.
   */
  void ended(Lane lane, List<Runnable> signals) {
    List<Entry> written = new ArrayList<>(0);
    int resent;
    synchronized (this) {
      if (target == lane) target = null;
      closing.remove(lane);
      prune(lane, written);
      List<Handed> back = new ArrayList<>();
      ArrayDeque<Handed> handed = lane.handed;
      if (handed != null) {
        for (Handed h : handed) if (!h.forgotten()) back.add(h);
        handed.clear();
      }
      if (replies != null) {
        for (PendingReply r : replies.unansweredOn(lane.link)) {
          if (!contains(back, r)) {
            back.add(
                new Handed(new Entry(r.message, r.size, Long.MAX_VALUE, r, true), 0, r.sentSeq));
          }
        }
      }
      back.sort(Comparator.comparingLong(Handed::seq));
      List<Entry> entries = new ArrayList<>(back.size());
      for (Handed h : back) {
        if (h.entry().tracker() instanceof PendingReply r) r.unsent();
        entries.add(h.entry());
      }
      outbox.requeueFirst(entries);
      resent = entries.size();
      if (resent > 0) wantsWrites = true;
    }
    for (Entry e : written) resolveWritten(e, signals);
    if (resent > 0) {
      log.debug(
          "{} {} messages the connection did not deliver go out first on the next",
          host.name(),
          resent);
    }
  }

  private static boolean contains(List<Handed> handed, PendingReply r) {
    for (Handed h : handed) if (h.entry().tracker() == r) return true;
    return false;
  }

  /**
   * Loop, on close(): {@code lane}'s connection is being abandoned. Resolves what it wrote and
   * reports what it did not with {@code reason}; true if anything was unwritten (then the caller
   * cancels the connection rather than let OkHttp write it after it was reported).
   */
  boolean abandon(Lane lane, LifelineException reason, List<Runnable> signals) {
    List<Entry> written = new ArrayList<>(0);
    List<Entry> unwritten = new ArrayList<>(0);
    synchronized (this) {
      if (target == lane) target = null;
      closing.remove(lane);
      prune(lane, written);
      ArrayDeque<Handed> handed = lane.handed;
      if (handed != null) {
        for (Handed h : handed) if (!h.forgotten()) unwritten.add(h.entry());
        handed.clear();
      }
    }
    for (Entry e : written) resolveWritten(e, signals);
    for (Entry e : unwritten) resolve(e, reason, signals);
    return !unwritten.isEmpty();
  }

  /** Loop: empties the outbox, reporting everything with {@code reason}. */
  void failAll(LifelineException reason, List<Runnable> signals) {
    List<Entry> all;
    synchronized (this) {
      all = outbox.removeAll();
    }
    for (Entry e : all) resolve(e, reason, signals);
  }

  /** Loop, on close(): refuses sends from now on, and stops every timer. */
  List<Lane> close() {
    List<Lane> lanes;
    synchronized (this) {
      closed = true;
      wantsWrites = false;
      lanes = new ArrayList<>(closing);
    }
    drainTask.dispose();
    lookAgain.dispose();
    expiryTimer.dispose();
    return lanes;
  }

  /** Loop: the socket gave up; timers that only a connection would need stop. */
  void stopTimers() {
    lookAgain.dispose();
    expiryTimer.dispose();
  }

  /** Loop, after close(): no more reports. */
  void completeReports() {
    undelivered.onComplete();
  }

  /** Any thread: forgets {@code tracker}'s message wherever it waits (its caller gave up). */
  void remove(SendTracker tracker) {
    synchronized (this) {
      if (outbox.remove(tracker)) return;
      if (target != null) removeHanded(target, tracker);
      for (Lane l : closing) removeHanded(l, tracker);
    }
  }

  private static void removeHanded(Lane lane, SendTracker tracker) {
    // Still in OkHttp's queue: it will be written, but nobody waits for it any more, and it is not
    // to be sent again. It keeps its place: the byte counts of those after it depend on it.
    ArrayDeque<Handed> handed = lane.handed;
    if (handed == null) return;
    List<Handed> all = new ArrayList<>(handed);
    handed.clear();
    for (Handed h : all) {
      handed.add(
          h.entry().tracker() == tracker ? new Handed(h.entry(), h.base(), h.seq(), true) : h);
    }
  }

  // --- Resolution: the one way out ---------------------------------------------------------------

  /** {@code e} will not be sent, for {@code reason}: its tracker fails, or it is reported. */
  private void resolve(Entry e, LifelineException reason, List<Runnable> signals) {
    SendTracker tracker = e.tracker();
    if (tracker != null) {
      signals.add(() -> tracker.notSent(reason));
      return;
    }
    Undelivered u = new Undelivered(e.message(), reason);
    signals.add(
        () -> {
          log.debug("{} undelivered {}: {}", host.name(), u.message(), reason.getMessage());
          undelivered.onNext(u);
        });
  }

  private static void resolveWritten(Entry e, List<Runnable> signals) {
    SendTracker tracker = e.tracker();
    if (tracker != null) signals.add(tracker::written);
  }

  /** Runs signals collected off the loop, each guarded. */
  void runAll(List<Runnable> signals) {
    for (Runnable r : signals) UserCode.run(host.name(), "a send's observer", r);
  }
}
