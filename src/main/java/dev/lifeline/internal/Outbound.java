package dev.lifeline.internal;

import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.SendResult;
import dev.lifeline.internal.OutboxQueue.Entry;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.disposables.Disposable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
 * tracker fails, or a plain message goes to {@link #undelivered()}). Every message handed to a
 * connection, from the outbox or sent at once, stays in that connection's {@link Lane} until
 * OkHttp's queue has moved past it; if the connection dies first, it goes back to the front of the
 * outbox, in hand-off order, and is sent again on the next connection: OkHttp never wrote it, so
 * this cannot duplicate it. What OkHttp wrote to a connection that then died is lost (at most
 * once), unless it awaits an acknowledgement. A lane costs no allocation per message (parallel
 * rings); what it holds is bounded by the high-water mark, and forgotten whenever the socket next
 * looks at OkHttp's queue.
 *
 * <p><b>Flow control is event-driven.</b> OkHttp's queue has no callback, but every byte it writes
 * passes through the socket Lifeline counts ({@link LinkActivity}). A sender waiting to hear that
 * its message was written asks for a drain at every write. The outbox asks only once OkHttp's queue
 * has fallen to half the high-water mark (or far enough for its head): one trip to the scheduler
 * then moves many messages. OkHttp counts a frame out of its queue only after the socket wrote it,
 * and nothing is written after the last frame, so a drain that saw only that frame left looks again
 * after 1 ms, then at doubling delays up to every {@value #RELOOK_LAST_MS} ms until it is counted
 * out; not while a socket write is under way, whose end asks instead. Where no bytes are counted
 * (OkHttp made the socket itself, for a SOCKS proxy) the drain falls back to looking every {@value
 * #UNCOUNTED_POLL_MS} ms while anything waits.
 *
 * <p><b>A connection that ended</b> (see {@link #ended}) is cancelled before its messages are
 * settled, and settled {@value #ENDED_SETTLE_MS} ms later (sooner on close() or a give-up).
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

  /**
   * How long after a connection ended the outbox waits before it decides what that connection
   * wrote, unless a new connection, close() or a give-up needs the answer sooner: time for OkHttp's
   * writer, cancelled, to count out a frame it had just written.
   */
  static final long ENDED_SETTLE_MS = 20;

  /** The first and the last delay of the second looks that wait for OkHttp's last frame. */
  private static final long RELOOK_FIRST_MS = 1;

  private static final long RELOOK_LAST_MS = 64;

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

  /** The send side of one connection. Fields guarded by the enclosing {@link Outbound}. */
  static final class Lane {
    final Link link;
    // What this connection was handed and is not known to have written, oldest first: the item
    // (the Message of a plain send, the Entry of a followed one, null once nobody wants it), the
    // lane's byte count right after it (written once OkHttp's queue holds no more than the bytes
    // enqueued after it), and its hand-off number. Made on the first send.
    private @Nullable Ring handed;
    private int awaited; // followed entries whose sender waits until they are written
    private long watched; // exact bytes enqueued since `handed` was last empty
    private long knownRoom; // a lower bound on the room under the mark (see hasRoom)
    private long lastQueueSize = -1;
    private long lastFrameSize; // the bytes of the frame last handed to OkHttp
    private boolean closing;
    private boolean ending; // ended, what it holds not decided yet

    Lane(Link link) {
      this.link = link;
    }

    private boolean holdsAny() {
      return handed != null && !handed.isEmpty();
    }
  }

  private final Host host;
  private final OutboxQueue outbox;
  private final long highWaterMark;
  private final boolean expiring;
  private final @Nullable LinkActivity activity;
  private final ReplyTables replies;
  private final SerialEmitter<NotDeliveredException> undelivered;
  private final AtomicBoolean drainRequested = new AtomicBoolean();

  private volatile @Nullable Lane target; // the ready connection; null unless Connected
  private final List<Lane> closing = new ArrayList<>(0); // gracefully closing, still writing
  private final List<Lane> ending = new ArrayList<>(0); // ended, not settled yet (see ended)
  private long handoffs; // hand-off counter, for resend order
  private boolean closed;

  // Read by the writer thread on every write: whether it should ask for a drain.
  private volatile boolean awaitsWritten; // a sender waits to hear its message was written
  private volatile long drainAtQueued = -1; // the outbox waits for OkHttp's queue to fall to this
  private volatile boolean expiryArmed; // whether a timer waits for the next expiry

  // Loop-confined.
  private Disposable expiryTimer = Disposable.disposed();
  private Disposable lookAgain = Disposable.disposed();
  private Disposable settleTimer = Disposable.disposed();
  private long settleArmed; // which arming of the settle timer counts (one already queued may run)
  private long relookMs; // the delay of the next second look
  private long relookQueued = -1; // OkHttp's queue when that look was armed
  private long relookBytes = -1; // and the bytes written by then
  private volatile Disposable drainTask = Disposable.disposed();

  Outbound(Config config, Host host, @Nullable LinkActivity activity, ReplyTables replies) {
    this.host = host;
    this.outbox = new OutboxQueue(config.outbox());
    this.highWaterMark = Math.min(config.highWaterMark(), OKHTTP_QUEUE_LIMIT - PING_RESERVE);
    this.expiring = !config.outbox().timeToLive().isZero();
    this.activity = activity;
    this.replies = replies;
    this.undelivered = new SerialEmitter<>(host::name, "undelivered() subscriber");
    if (activity != null) activity.onWritten(this::onBytesWritten);
  }

  Observable<NotDeliveredException> undelivered() {
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
      if (lane != null && outbox.isEmpty() && ending.isEmpty() && hasRoom(lane, message, size)) {
        if (tracker == null
            ? write(lane, message, size)
            : handTo(lane, entry(message, size, tracker))) {
          if (log.isTraceEnabled()) log.trace("{} SENT {}", host.name(), Link.describe(message));
          return SendResult.SENT;
        }
      }
      if (size < 0) size = message.sizeInBytes();
      first = outbox.isEmpty();
      offer = outbox.offer(message, size, now, tracker);
    }
    SendResult result = offer.result();
    if (!offer.dropped().isEmpty()) {
      List<Runnable> signals = new ArrayList<>();
      Why reason = Why.droppedForNewer(outbox.policy());
      for (Entry e : offer.dropped()) resolve(e, reason, signals);
      runAll(signals);
    }
    if (result == SendResult.QUEUED) {
      if (log.isTraceEnabled()) log.trace("{} QUEUED {}", host.name(), Link.describe(message));
      if (first || (expiring && !expiryArmed)) requestDrain(); // a drain arms the expiry timer
    } else {
      log.debug(
          "{} {}: {} ({} bytes)",
          host.name(),
          result,
          result == SendResult.REJECTED_TOO_LARGE
              ? "larger than OkHttp can send or the outbox can hold"
              : "outbox full",
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
      return hasRoom(lane, message, -1) && writeRaw(lane, message);
    }
  }

  /** Scheduler: a heartbeat ping; refused only where OkHttp would close the socket for it. */
  boolean ping(Lane lane, Message ping) {
    synchronized (this) {
      if (lane.link.queueSize() + ping.sizeInBytes() > OKHTTP_QUEUE_LIMIT) return false;
      return writeRaw(lane, ping);
    }
  }

  /**
   * Holding the lock: hands a message to OkHttp for this connection only (a ping, the ready hook's
   * Session): counted, never sent again elsewhere.
   */
  private boolean writeRaw(Lane lane, Message message) {
    if (!lane.link.write(message)) return false;
    lane.knownRoom -= upperBound(message);
    long size = message.sizeInBytes();
    lane.lastFrameSize = size;
    if (lane.holdsAny()) lane.watched += size;
    // Now the last frame: its writes must still ask for the drain the outbox waits for.
    if (lane == target && drainAtQueued >= 0 && drainAtQueued < size) drainAtQueued = size;
    return true;
  }

  /** Holding the lock: hands a plain send to OkHttp, followed until it has left the queue. */
  private boolean write(Lane lane, Message message, long size) {
    if (!lane.link.write(message)) return false;
    lane.knownRoom -= upperBound(message);
    follow(lane, message, size >= 0 ? size : message.sizeInBytes());
    return true;
  }

  /** Holding the lock: hands an outbox entry, or a tracked send, to OkHttp and follows it. */
  private boolean handTo(Lane lane, Entry e) {
    if (!lane.link.write(e.message())) return false;
    lane.knownRoom -= upperBound(e.message());
    long seq = follow(lane, e, e.size());
    SendTracker tracker = e.tracker();
    if (tracker != null) {
      tracker.sent(lane.link, seq);
      if (tracker.waitsForWritten()) {
        lane.awaited++;
        awaitsWritten = true;
      }
    }
    return true;
  }

  private long follow(Lane lane, Object item, long size) {
    Ring handed = lane.handed;
    if (handed == null) lane.handed = handed = new Ring();
    if (handed.isEmpty()) lane.watched = 0;
    lane.watched += size;
    lane.lastFrameSize = size;
    long seq = ++handoffs;
    handed.addLast(item, lane.watched, seq);
    return seq;
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
    lane.lastQueueSize = queued;
    dropWritten(lane, queued);
    if (queued == 0) return true;
    if (knownSize >= 0) return knownSize <= room;
    return upperBound(message) <= room || message.sizeInBytes() <= room;
  }

  /** A bound on a message's size in bytes that costs nothing to compute. */
  static long upperBound(Message message) {
    return message instanceof Message.Text t ? 3L * t.text().length() : message.sizeInBytes();
  }

  // --- Draining ----------------------------------------------------------------------------------

  /**
   * Writer thread: bytes left through a counted socket. A sender waiting to hear of its message
   * asks for a drain at every write; the outbox only once OkHttp's queue has fallen far enough for
   * a drain to be worth a trip to the scheduler (see {@link #drain}). {@code queueSize()} takes
   * OkHttp's lock, which OkHttp never holds while it does I/O.
   */
  private void onBytesWritten() {
    if (awaitsWritten) {
      requestDrain();
      return;
    }
    long at = drainAtQueued;
    if (at < 0) return;
    Lane lane = target;
    if (lane != null && lane.link.queueSize() <= at) requestDrain();
  }

  /** Any thread: runs one {@link #drain} on the loop soon, from the scheduler. */
  void requestDrain() {
    if (!drainRequested.compareAndSet(false, true)) return;
    drainTask =
        host.after(
            Duration.ZERO,
            () -> {
              drainRequested.set(false);
              drainNow();
            });
  }

  /** Loop: a drain that is an event of its own, with its signals run after it. */
  private void drainNow() {
    List<Runnable> signals = new ArrayList<>();
    drain(signals);
    runAll(signals);
  }

  /**
   * Loop: completes what has left OkHttp's queue, reports what expired, and sends what the outbox
   * holds, oldest first, while the ready connection has room.
   */
  void drain(List<Runnable> signals) {
    long now = host.now();
    List<Entry> expired;
    List<Entry> written = new ArrayList<>(0);
    boolean relook = false;
    boolean again = false;
    boolean poll;
    long queued = -1;
    long nextExpiry;
    synchronized (this) {
      expired = outbox.removeExpired(now);
      for (Lane lane : closing) prune(lane, written);
      // While an ended connection is not settled, what it did not write is not back in the
      // outbox yet: nothing newer may go ahead of it.
      Lane lane = ending.isEmpty() ? target : null;
      if (lane != null) {
        prune(lane, written);
        Object item;
        while ((item = outbox.peekItem()) != null) {
          Message m = OutboxQueue.messageOf(item);
          long size = outbox.peekSize();
          if (!hasRoom(lane, m, size)) break;
          boolean handed =
              item instanceof Entry e
                  ? handTo(lane, e)
                  : expiring // an entry keeps its time-to-live should it come back
                      ? handTo(lane, new Entry(m, size, outbox.peekExpiry(), null, false))
                      : write(lane, m, size);
          if (!handed) break;
          outbox.poll();
        }
      }
      boolean waits = !outbox.isEmpty();
      boolean awaited = (lane != null && lane.awaited > 0) || anyAwaited(closing);
      awaitsWritten = awaited;
      long at = -1;
      if (lane != null && waits) {
        // Wait until half the mark is free, or room for the head if it is larger: one trip to
        // the scheduler moves many messages. The frame last handed is the one whose write may be
        // the last to come: its writes always ask (see below).
        long refill = Math.min(highWaterMark, Math.max(outbox.peekSize(), highWaterMark / 2));
        at = Math.max(highWaterMark - refill, lane.lastFrameSize);
      }
      drainAtQueued = at;
      poll = (at >= 0 || awaited) && !countsBytes();
      if (lane != null && (waits || lane.awaited > 0)) {
        // Asked again after the threshold is out: a write since the prune either saw it, or is
        // counted here. OkHttp takes a frame out of its queue only after the socket wrote it, and
        // nothing is written after the last one: if only that one is left, look again shortly,
        // then less often, until OkHttp has counted it out.
        queued = lane.link.queueSize();
        again = queued < lane.lastQueueSize && ((waits && queued <= at) || lane.awaited > 0);
        relook = !again && queued > 0 && queued <= lane.lastFrameSize;
      }
      nextExpiry = outbox.nextExpiry();
    }
    if (again) requestDrain(); // room came while this drain ran
    Why expiry = null;
    for (Entry e : expired) {
      if (expiry == null) expiry = Why.expired(outbox.policy().timeToLive());
      resolve(e, expiry, signals);
    }
    for (Entry e : written) resolveWritten(e, signals);
    lookAgain.dispose();
    long bytesOut = activity != null ? activity.bytesWritten() : 0;
    if (!relook || queued != relookQueued || bytesOut != relookBytes) {
      relookMs = RELOOK_FIRST_MS; // it moved: start over
    }
    relookQueued = relook ? queued : -1;
    relookBytes = bytesOut;
    if (poll) {
      lookAgain = host.after(Duration.ofMillis(UNCOUNTED_POLL_MS), this::drainNow);
    } else if (relook && !(activity != null && activity.writing())) {
      // No write under way whose end would ask: OkHttp's writer has yet to count the frame out
      // (held off the CPU, say). While a write is under way (blocked on a peer that stopped
      // reading), its end asks instead, and nothing looks in between.
      lookAgain = host.after(Duration.ofMillis(relookMs), this::drainNow);
      relookMs = Math.min(relookMs * 2, RELOOK_LAST_MS);
    }
    expiryTimer.dispose();
    expiryArmed = nextExpiry != Long.MAX_VALUE;
    if (nextExpiry != Long.MAX_VALUE) {
      expiryTimer = host.after(Duration.ofMillis(Math.max(0, nextExpiry - now)), this::drainNow);
    }
  }

  private static boolean anyAwaited(List<Lane> lanes) {
    for (Lane l : lanes) if (l.awaited > 0) return true;
    return false;
  }

  private boolean countsBytes() {
    LinkActivity a = activity;
    return a != null && a.lastReadAt() != Long.MIN_VALUE;
  }

  /**
   * Holding the lock: moves the followed entries that have left {@code lane}'s OkHttp queue into
   * {@code written}.
   */
  private void prune(Lane lane, List<Entry> written) {
    long queued = lane.link.queueSize();
    lane.lastQueueSize = queued;
    lane.knownRoom = highWaterMark - queued;
    Ring handed = lane.handed;
    while (handed != null && !handed.isEmpty() && queued <= lane.watched - handed.first(0)) {
      Object item = handed.pollFirst();
      if (item instanceof Entry e && e.tracker() != null) {
        if (e.tracker().waitsForWritten()) lane.awaited--;
        written.add(e);
      }
    }
  }

  /**
   * Holding the lock: forgets what has left the queue up to the first entry whose sender waits to
   * hear it was written (that one a drain resolves).
   */
  private void dropWritten(Lane lane, long queued) {
    Ring handed = lane.handed;
    while (handed != null
        && !handed.isEmpty()
        && queued <= lane.watched - handed.first(0)
        && !(handed.item(0) instanceof Entry e
            && e.tracker() != null
            && e.tracker().waitsForWritten())) {
      handed.pollFirst();
    }
  }

  /** Any thread: whether {@code lane} holds messages the outbox must see written or send again. */
  boolean follows(Lane lane) {
    synchronized (this) {
      return lane.holdsAny();
    }
  }

  /**
   * Loop: {@code lane}'s connection is ready; what the outbox holds goes out now, or once the
   * connections that ended have settled (see {@link #ended}).
   */
  void attach(Lane lane, List<Runnable> signals) {
    synchronized (this) {
      // Unanswered messages of a connection still closing gracefully (disconnect(), then connect()
      // before its end was heard) go first here too: at least once.
      if (!replies.isEmpty() && !closing.isEmpty()) {
        List<Entry> entries = new ArrayList<>();
        List<Long> order = new ArrayList<>();
        for (Lane old : closing) {
          for (PendingReply r : replies.unansweredOn(old.link)) {
            entries.add(new Entry(r.message, r.size, Long.MAX_VALUE, r, true));
            order.add(r.sentSeq);
            removeHanded(old, r); // sent again from here, not once more when the old one ends
          }
        }
        sortBy(entries, order);
        for (Entry e : entries)
          ((PendingReply) java.util.Objects.requireNonNull(e.tracker())).unsent();
        outbox.requeueFirst(entries);
      }
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
      if (!lane.closing) { // until its end is heard: what it holds, and replies it may still bring
        lane.closing = true;
        closing.add(lane);
      }
    }
  }

  /**
   * Loop: {@code lane}'s connection is over (failed, cancelled, or closed). What it never wrote,
   * and what awaits a reply it will not bring, goes back to the front of the outbox in hand-off
   * order; what it wrote is resolved as written.
   *
   * <p>If it still holds messages OkHttp had not counted out, the connection is cancelled first (so
   * that OkHttp writes nothing more), and the decision waits {@value #ENDED_SETTLE_MS} ms, unless
   * close() or a give-up needs it sooner; until then nothing newer goes to a new connection. OkHttp
   * takes a frame out of its queue just after the socket wrote it, and a connection can end (its
   * reader failed, say) while its writer is between the two. Deciding at once would take a written
   * frame for an unwritten one and send it twice.
   */
  void ended(Lane lane, List<Runnable> signals) {
    List<Entry> written = new ArrayList<>(0);
    boolean holds;
    boolean defer;
    synchronized (this) {
      if (target == lane) target = null;
      closing.remove(lane);
      prune(lane, written); // what OkHttp counted out is written; only the rest can be in doubt
      holds = lane.holdsAny();
      defer = holds || !ending.isEmpty(); // with others waiting, in one batch: hand-off order
      if (defer && !lane.ending) {
        lane.ending = true;
        ending.add(lane);
      }
    }
    for (Entry e : written) resolveWritten(e, signals);
    if (!defer) {
      settle(Collections.singletonList(lane), signals, true);
      return;
    }
    if (!holds) return;
    lane.link.stopWriting();
    settleTimer.dispose();
    long armed = ++settleArmed;
    settleTimer =
        host.after(
            Duration.ofMillis(ENDED_SETTLE_MS),
            () -> {
              if (armed == settleArmed) settleEndedNow();
            });
  }

  private void settleEndedNow() {
    List<Runnable> signals = new ArrayList<>();
    settleEnded(signals, true);
    runAll(signals);
  }

  /** Loop: decides now what the ended connections wrote; then drains if {@code drain}. */
  private void settleEnded(List<Runnable> signals, boolean drain) {
    List<Lane> lanes;
    synchronized (this) {
      if (ending.isEmpty()) return;
      lanes = new ArrayList<>(ending);
      ending.clear();
      for (Lane l : lanes) l.ending = false;
    }
    settleTimer.dispose();
    settle(lanes, signals, false);
    if (drain) drain(signals); // the outbox may have waited for them, even with none to resend
  }

  private void settle(List<Lane> lanes, List<Runnable> signals, boolean drainAfter) {
    List<Entry> written = new ArrayList<>(0);
    int resent;
    synchronized (this) {
      List<Entry> entries = new ArrayList<>();
      List<Long> order = new ArrayList<>();
      for (Lane lane : lanes) collectUnwritten(lane, written, entries, order);
      sortBy(entries, order);
      for (Entry e : entries) {
        if (e.tracker() instanceof PendingReply r) r.unsent();
      }
      outbox.requeueFirst(entries);
      resent = entries.size();
    }
    for (Entry e : written) resolveWritten(e, signals);
    if (resent > 0) {
      if (drainAfter) drain(signals); // their time-to-live runs on
      log.debug(
          "{} {} messages the connection did not deliver go out first on the next",
          host.name(),
          resent);
    }
  }

  /** Holding the lock: what {@code lane} wrote, and what it did not or must send again. */
  private void collectUnwritten(
      Lane lane, List<Entry> written, List<Entry> entries, List<Long> order) {
    prune(lane, written);
    Ring handed = lane.handed;
    if (handed != null) {
      for (int k = 0; k < handed.size(); k++) {
        Object item = handed.item(k);
        if (item == null) continue;
        entries.add(item instanceof Entry e ? e : plainEntry((Message) item));
        order.add(handed.second(k));
      }
      handed.clear();
      lane.awaited = 0;
    }
    if (!replies.isEmpty()) {
      for (PendingReply r : replies.unansweredOn(lane.link)) {
        if (!containsTracker(entries, r)) {
          entries.add(new Entry(r.message, r.size, Long.MAX_VALUE, r, true));
          order.add(r.sentSeq);
        }
      }
    }
  }

  private static boolean containsTracker(List<Entry> entries, SendTracker t) {
    for (Entry e : entries) if (e.tracker() == t) return true;
    return false;
  }

  private static Entry plainEntry(Message m) {
    return new Entry(m, m.sizeInBytes(), Long.MAX_VALUE, null, true);
  }

  /** Sorts {@code entries} by the hand-off numbers at the same index of {@code order}. */
  private static void sortBy(List<Entry> entries, List<Long> order) {
    Integer[] index = new Integer[entries.size()];
    for (int i = 0; i < index.length; i++) index[i] = i;
    java.util.Arrays.sort(index, Comparator.comparingLong(order::get));
    List<Entry> sorted = new ArrayList<>(entries.size());
    for (Integer i : index) sorted.add(entries.get(i));
    entries.clear();
    entries.addAll(sorted);
  }

  /**
   * Loop, on close(): {@code lane}'s connection is being abandoned. Resolves what it wrote and
   * reports what it did not with {@code reason}. If anything may still be unwritten, the connection
   * is cancelled (with {@code cause}) <em>before</em> that is decided, so that OkHttp cannot write
   * a message after it was reported; true if it was cancelled.
   */
  boolean abandon(Lane lane, Why reason, Throwable cause, List<Runnable> signals) {
    List<Entry> written = new ArrayList<>(0);
    List<Entry> unwritten = new ArrayList<>(0);
    boolean followed;
    synchronized (this) {
      if (target == lane) target = null;
      closing.remove(lane);
      prune(lane, written);
      followed = lane.holdsAny();
    }
    if (!followed) {
      for (Entry e : written) resolveWritten(e, signals);
      return false;
    }
    lane.link.kill(cause); // OkHttp writes nothing more; what it wrote until now is counted below
    synchronized (this) {
      prune(lane, written);
      Ring handed = lane.handed;
      if (handed != null) {
        for (int k = 0; k < handed.size(); k++) {
          Object item = handed.item(k);
          if (item != null) unwritten.add(item instanceof Entry e ? e : plainEntry((Message) item));
        }
        handed.clear();
        lane.awaited = 0;
      }
    }
    for (Entry e : written) resolveWritten(e, signals);
    for (Entry e : unwritten) resolve(e, reason, signals);
    return true;
  }

  /** Loop: empties the outbox, reporting everything with {@code reason}. */
  void failAll(Why reason, List<Runnable> signals) {
    settleEnded(signals, false);
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
      awaitsWritten = false;
      drainAtQueued = -1;
      lanes = new ArrayList<>(closing);
    }
    drainTask.dispose();
    lookAgain.dispose();
    expiryTimer.dispose();
    settleTimer.dispose();
    return lanes;
  }

  /** Loop: the socket gave up; timers that only a connection would need stop. */
  void stopTimers() {
    lookAgain.dispose();
    expiryTimer.dispose();
    expiryArmed = false;
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
      for (Lane l : ending) removeHanded(l, tracker);
    }
  }

  private static void removeHanded(Lane lane, SendTracker tracker) {
    // Still in OkHttp's queue: it will be written, but nobody waits for it any more, and it is not
    // to be sent again. It keeps its place: the byte counts of those after it depend on it.
    Ring handed = lane.handed;
    if (handed == null) return;
    for (int k = 0; k < handed.size(); k++) {
      if (handed.item(k) instanceof Entry e && e.tracker() == tracker) {
        if (tracker.waitsForWritten()) lane.awaited--;
        handed.setItem(k, null);
      }
    }
  }

  // --- Resolution: the one way out ---------------------------------------------------------------

  /** {@code e} will not be sent, for {@code reason}: its tracker fails, or it is reported. */
  private void resolve(Entry e, Why why, List<Runnable> signals) {
    NotDeliveredException report = why.of(e.message());
    SendTracker tracker = e.tracker();
    if (tracker != null) {
      signals.add(() -> tracker.notSent(report));
      return;
    }
    signals.add(
        () -> {
          log.debug("{} undelivered {}: {}", host.name(), report.message(), report.getMessage());
          undelivered.onNext(report);
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
