package dev.lifeline.internal;

import dev.lifeline.AcknowledgementTimeoutException;
import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Correlation;
import dev.lifeline.GaveUpException;
import dev.lifeline.HandshakeException;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.LifelineException;
import dev.lifeline.Message;
import dev.lifeline.ReadyHookException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.RetryContext;
import dev.lifeline.SendRejectedException;
import dev.lifeline.SendResult;
import dev.lifeline.SocketClosedException;
import dev.lifeline.TerminalFailureException;
import dev.lifeline.Undelivered;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.core.Single;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.exceptions.Exceptions;
import io.reactivex.rxjava3.subjects.BehaviorSubject;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okio.ByteString;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state machine behind {@link ReconnectingSocket}.
 *
 * <p><b>Threads.</b> Every state change runs as an event on a serial loop: {@link #submit} queues
 * it and the first thread to arrive drains the queue, one event at a time, in order. Fields marked
 * "loop" are touched only by events, so they need no lock, and no lock is ever held while user code
 * (subscribers, the request supplier, the retry policy, the ready hook) runs. A user callback that
 * calls back into the socket just queues another event, run when the current one returns.
 *
 * <p>Inbound messages bypass the loop: {@link Link} hands them to {@link #deliver} on OkHttp's
 * reader thread. A {@link SerialEmitter} keeps emissions from overlapping: a reader of an earlier
 * connection still inside a slow subscriber and the next connection's reader never run subscribers
 * at the same time.
 */
public final class RealReconnectingSocket implements ReconnectingSocket {
  private static final Logger log = LoggerFactory.getLogger(ReconnectingSocket.class);
  private static final Duration HEALTH_RECHECK = Duration.ofSeconds(1);

  /** OkHttp closes a socket (1001) whose send queue would pass this. */
  private static final long OKHTTP_QUEUE_LIMIT = 16L << 20;

  /** How often a non-empty outbox looks for room in OkHttp's queue, which has no drain callback. */
  private static final Duration DRAIN_POLL = Duration.ofMillis(10);

  private final Config config;
  private final WebSocket.Factory webSockets;
  private final @Nullable LinkActivity activity;
  private final Scheduler scheduler; // timers: direct tasks, each disposed by whoever owns it
  private final BehaviorSubject<ConnectionState> states =
      BehaviorSubject.createDefault(ConnectionState.IDLE);
  private final SerialEmitter<Duration> roundTrips = new SerialEmitter<>();
  private final SerialEmitter<Undelivered> undelivered = new SerialEmitter<>();

  /** Also the send lock: held while messages go to OkHttp, so that none overtakes another. */
  private final OutboxQueue outbox;

  /** Acknowledged sends awaiting their reply, by correlation id; empty for good without one. */
  private final Map<String, PendingReply> pendingReplies;

  private final AtomicLong replySequence = new AtomicLong();
  private final boolean expiring; // whether queued messages have a time-to-live
  private final Observable<Message> messagesView;
  private final ConcurrentLinkedQueue<Runnable> events = new ConcurrentLinkedQueue<>();
  private final AtomicInteger wip = new AtomicInteger();

  private volatile SerialEmitter<Message> messages = new SerialEmitter<>();
  private volatile ConnectionState state = ConnectionState.IDLE;
  private volatile @Nullable Link connected; // the link sends go to; null unless Connected
  private volatile boolean closed;
  private volatile String name;

  // Loop.
  private boolean wanted; // between connect() and disconnect()/give-up/close()
  private @Nullable Link current; // the attempt or connection in progress
  private int retries; // retries made in the current outage
  private long outageStartedAt = -1;
  private boolean everConnected; // whether an attempt of this outage opened
  private Disposable retryTimer = Disposable.disposed();
  private Disposable attemptTimer = Disposable.disposed();
  private Disposable healthTimer = Disposable.disposed();
  private Disposable drainTimer = Disposable.disposed();
  private Disposable expiryTimer = Disposable.disposed();

  /** Creates an idle socket that connects with the configured OkHttp client. */
  public RealReconnectingSocket(Config config) {
    this(config, null, null);
  }

  /**
   * Creates an idle socket; {@code webSockets}, when not null, replaces the OkHttp client and
   * {@code activity} stands for the byte counts of its sockets (tests drive the state machine
   * through a fake factory).
   */
  RealReconnectingSocket(
      Config config, WebSocket.@Nullable Factory webSockets, @Nullable LinkActivity activity) {
    this.config = config;
    this.scheduler = config.scheduler();
    this.outbox = new OutboxQueue(config.outbox());
    this.pendingReplies =
        config.correlation() != null ? new ConcurrentHashMap<>() : Collections.emptyMap();
    this.expiring = !config.outbox().timeToLive().isZero();
    if (webSockets != null) {
      this.activity = activity;
      this.webSockets = webSockets;
    } else {
      Scheduler scheduler = config.scheduler();
      LinkActivity counted = new LinkActivity(() -> scheduler.now(TimeUnit.MILLISECONDS));
      this.activity = counted;
      this.webSockets = deriveClient(config.client(), config, counted);
    }
    this.messagesView = Observable.defer(() -> messages.subject());
    this.name = "socket";
  }

  /**
   * The caller's client with the same pool and dispatcher, plus byte counting and a bounded send
   * buffer on its sockets, and OkHttp's ping interval for a protocol heartbeat.
   */
  private static OkHttpClient deriveClient(
      OkHttpClient base, Config config, LinkActivity activity) {
    OkHttpClient.Builder derived = base.newBuilder();
    derived.socketFactory(
        new CountingSocketFactory(base.socketFactory(), activity, config.sendBufferSize()));
    Heartbeat heartbeat = config.heartbeat();
    if (heartbeat.mode() == Heartbeat.Mode.PROTOCOL) derived.pingInterval(heartbeat.interval());
    return derived.build();
  }

  // --- Public API ------------------------------------------------------------------------------

  @Override
  public Observable<Message> messages() {
    return messagesView;
  }

  @Override
  public Observable<ConnectionState> states() {
    // A completed BehaviorSubject replays nothing: after close(), still start with Closed.
    return Observable.defer(() -> states.hasComplete() ? Observable.just(state) : states.hide());
  }

  @Override
  public ConnectionState state() {
    return state;
  }

  @Override
  public Observable<Duration> roundTripTimes() {
    return roundTrips.subject().hide();
  }

  @Override
  public void connect() {
    if (closed) throw new IllegalStateException("connect() on a closed socket: build a new one");
    submit(this::doConnect);
  }

  @Override
  public void disconnect() {
    submit(this::doDisconnect);
  }

  @Override
  public void close() {
    closed = true;
    submit(this::doClose);
  }

  @Override
  public void reconnectNow() {
    submit(this::doReconnectNow);
  }

  @Override
  public Observable<Undelivered> undelivered() {
    return undelivered.subject().hide();
  }

  @Override
  public SendResult send(String text) {
    return send(Message.text(text));
  }

  @Override
  public SendResult send(ByteString bytes) {
    return send(Message.binary(bytes));
  }

  @Override
  public SendResult send(Message message) {
    return send(Objects.requireNonNull(message, "message"), null);
  }

  @Override
  public Completable sendAcknowledged(Message message) {
    return request(message).ignoreElement();
  }

  @Override
  public Single<Message> request(Message message) {
    Objects.requireNonNull(message, "message");
    Correlation correlation = config.correlation();
    if (correlation == null) {
      throw new IllegalStateException(
          "acknowledged sends need a Correlation: ReconnectingSocket.builder(...).correlation(...)");
    }
    String id = correlation.idOfOutgoing(message);
    if (id == null) {
      throw new IllegalArgumentException("the correlation found no id in the message " + message);
    }
    return Single.create(
        emitter -> {
          PendingReply reply =
              new PendingReply(
                  id,
                  message,
                  message.sizeInBytes(),
                  replySequence.incrementAndGet(),
                  emitter,
                  this);
          if (pendingReplies.putIfAbsent(id, reply) != null) {
            emitter.onError(
                new IllegalStateException(
                    "a message with id " + id + " is already awaiting its reply"));
            return;
          }
          emitter.setCancellable(() -> take(reply));
          Duration timeout = correlation.timeout();
          reply.timeout =
              scheduler.scheduleDirect(
                  () -> failReply(reply, new AcknowledgementTimeoutException(id, timeout)),
                  timeout.toNanos(),
                  TimeUnit.NANOSECONDS);
          if (pendingReplies.get(id) != reply) reply.timeout.dispose(); // close() took it already
          SendResult result = send(message, reply);
          if (!result.isAccepted()) failReply(reply, new SendRejectedException(result));
        });
  }

  /** Completes {@code reply} with its answer, unless its timeout or a failure came first. */
  private void succeedReply(PendingReply reply, Message answer) {
    if (take(reply)) reply.emitter.onSuccess(answer);
  }

  /** Fails {@code reply}, unless it was answered or failed already. */
  void failReply(PendingReply reply, Throwable error) {
    if (take(reply)) reply.emitter.onError(error);
  }

  /**
   * Removes {@code reply} from the table, its timer and its outbox entry; true for the one caller
   * that removed it, which then completes it outside any lock.
   */
  private boolean take(PendingReply reply) {
    if (!pendingReplies.remove(reply.id, reply)) return false;
    reply.timeout.dispose();
    synchronized (outbox) {
      outbox.remove(reply);
    }
    return true;
  }

  /**
   * Reader thread: whether {@code message} is a reply (then it is consumed and completes its
   * acknowledged send, if one is waiting).
   */
  boolean consumeReply(Message message) {
    Correlation correlation = config.correlation();
    if (correlation == null) return false;
    String id;
    try {
      id = correlation.idOfIncoming(message);
    } catch (RuntimeException e) {
      log.error(
          "{} the correlation's idOfIncoming threw; the message is treated as no reply", name, e);
      return false;
    }
    if (id == null) return false;
    PendingReply reply = pendingReplies.get(id);
    if (reply == null) {
      log.debug("{} reply {} matches no waiting message (duplicate or late): dropped", name, id);
    } else {
      succeedReply(reply, message);
    }
    return true;
  }

  /** Loop: unacknowledged messages sent on an earlier connection go first on this one. */
  private void requeueUnacknowledged(Link link) {
    List<PendingReply> resend = new ArrayList<>();
    synchronized (outbox) {
      for (PendingReply reply : pendingReplies.values()) {
        if (reply.sentOn != null && reply.sentOn != link) resend.add(reply);
      }
      resend.sort(Comparator.comparingLong(r -> -r.sequence)); // newest first onto the front
      for (PendingReply reply : resend) {
        reply.sentOn = null;
        outbox.requeueFirst(reply);
      }
    }
    if (!resend.isEmpty())
      log.debug("{} resending {} unacknowledged messages", name, resend.size());
  }

  private void failReplies(Throwable reason) {
    for (PendingReply reply : new ArrayList<>(pendingReplies.values())) {
      failReply(reply, reason);
    }
  }

  @Override
  public Completable sendWritten(Message message) {
    Objects.requireNonNull(message, "message");
    return Completable.create(
        emitter -> {
          WrittenWaiter waiter = new WrittenWaiter(emitter);
          emitter.setCancellable(() -> forget(waiter));
          SendResult result = send(message, waiter);
          if (!result.isAccepted()) {
            emitter.tryOnError(new SendRejectedException(result));
          } else {
            submit(this::drainOutbox); // looks at OkHttp's queue until the message has left it
          }
        });
  }

  private void forget(WrittenWaiter waiter) {
    synchronized (outbox) {
      if (waiter.link != null) {
        waiter.link.unwatchWritten(waiter);
      } else {
        outbox.remove(waiter);
      }
    }
  }

  /** The lock every send to OkHttp holds; see {@link Link#sendNow}. */
  Object sendLock() {
    return outbox;
  }

  private SendResult send(Message message, @Nullable SendTracker tracker) {
    long size = -1; // the exact UTF-8 size of a text costs a pass over it: only when needed
    if (upperBound(message) > OKHTTP_QUEUE_LIMIT
        && (size = message.sizeInBytes()) > OKHTTP_QUEUE_LIMIT) {
      return SendResult.REJECTED_TOO_LARGE;
    }
    // Read outside the lock (a Scheduler may be user code), and only when a time-to-live needs it.
    long now = expiring ? now() : 0;
    SendResult result;
    boolean first;
    List<Undelivered> dropped = null;
    synchronized (outbox) {
      if (closed) return SendResult.REJECTED_CLOSED;
      Link link = connected;
      if (link != null
          && outbox.isEmpty()
          && hasRoom(link, message, size)
          && link.sendNow(message)) {
        if (tracker != null) tracker.sent(link);
        result = SendResult.SENT;
        first = false;
      } else {
        if (size < 0) size = message.sizeInBytes();
        if (config.outbox().dropsOldest()) dropped = new ArrayList<>();
        first = outbox.isEmpty();
        result = outbox.offer(message, size, now, tracker, dropped);
      }
    }
    if (dropped != null) report(dropped);
    if (log.isTraceEnabled()) log.trace("{} {} {}", name, result, Link.describe(message));
    if (result == SendResult.QUEUED && first) submit(this::drainOutbox);
    return result;
  }

  /**
   * Holding the send lock: whether OkHttp's queue can take {@code message} without passing the
   * high-water mark. Most sends fit in the room known from the last look at the queue; only the
   * others ask OkHttp, whose {@code queueSize()} takes the lock its writer thread works under.
   */
  private boolean hasRoom(Link link, Message message, long knownSize) {
    if ((knownSize >= 0 ? knownSize : upperBound(message)) <= link.knownRoom) return true;
    long queued = link.queueSize();
    long room = config.highWaterMark() - queued;
    link.knownRoom = room;
    if (queued == 0) return true; // one message larger than the mark still goes, alone
    if (knownSize >= 0) return knownSize <= room;
    return upperBound(message) <= room || message.sizeInBytes() <= room;
  }

  /** A bound on a message's size in bytes that costs nothing to compute. */
  static long upperBound(Message message) {
    return message instanceof Message.Text t ? 3L * t.text().length() : message.sizeInBytes();
  }

  private void report(List<Undelivered> lost) {
    for (Undelivered u : lost) {
      log.debug("{} undelivered {}: {}", name, u.message(), u.reason().getMessage());
      undelivered.onNext(u);
    }
  }

  @Override
  public String toString() {
    return "ReconnectingSocket(" + name + ", " + state + ")";
  }

  // --- Serial loop -----------------------------------------------------------------------------

  void submit(Runnable event) {
    events.offer(event);
    if (wip.getAndIncrement() != 0) return;
    int missed = 1;
    do {
      Runnable next;
      while ((next = events.poll()) != null) {
        try {
          next.run();
        } catch (Throwable t) {
          Exceptions.throwIfFatal(t);
          log.error("{} internal error while processing an event", name, t);
        }
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  /** Timers only ever queue an event; the loop decides whether it still matters. */
  private Disposable after(Duration delay, Runnable event) {
    return scheduler.scheduleDirect(() -> submit(event), delay.toNanos(), TimeUnit.NANOSECONDS);
  }

  private long now() {
    return scheduler.now(TimeUnit.MILLISECONDS);
  }

  String name() {
    return name;
  }

  private void setState(ConnectionState next) {
    state = next;
    if (next instanceof Connected || next instanceof Failed) {
      log.info("{} {}", name, next);
    } else if (next instanceof WaitingToReconnect w) {
      // The drop itself is logged at INFO where it is detected; the delay is detail.
      log.debug(
          "{} waiting {} before retry {}: {}",
          name,
          Durations.format(w.delay()),
          w.attempt(),
          w.cause().toString());
    } else {
      log.debug("{} {}", name, next);
    }
    states.onNext(next);
  }

  // --- Events from the API ---------------------------------------------------------------------

  private void doConnect() {
    if (closed || wanted) return;
    wanted = true;
    resetOutage();
    startAttempt(0);
  }

  private void doDisconnect() {
    if (!wanted) return;
    stopEverything(1000, "disconnect");
    setState(ConnectionState.IDLE);
  }

  private void doClose() {
    if (state instanceof ConnectionState.Closed) return;
    stopEverything(1000, "close");
    expiryTimer.dispose();
    failReplies(new SocketClosedException());
    failOutbox(new SocketClosedException());
    setState(ConnectionState.CLOSED);
    states.onComplete();
    messages.onComplete();
    roundTrips.onComplete();
    undelivered.onComplete();
  }

  private void failOutbox(LifelineException reason) {
    List<Undelivered> lost = new ArrayList<>();
    List<SendTracker> trackers = new ArrayList<>();
    synchronized (outbox) {
      outbox.failAll(reason, lost, trackers);
    }
    report(lost);
    for (SendTracker t : trackers) t.notSent(reason);
  }

  /**
   * Sends what the outbox holds, oldest first, while the connection is ready and OkHttp's queue has
   * room; reports what expired; completes messages that have left OkHttp's queue; and keeps looking
   * while anything is left.
   */
  private void drainOutbox() {
    List<Undelivered> expired = new ArrayList<>(0);
    List<SendTracker> expiredTracked = new ArrayList<>(0);
    List<WrittenWaiter> written;
    boolean left;
    boolean watching;
    long nextExpiry;
    long now = now();
    synchronized (outbox) {
      outbox.removeExpired(now, expired, expiredTracked);
      Link link = connected;
      OutboxQueue.Entry next;
      while (link != null && (next = outbox.peek()) != null) {
        if (!hasRoom(link, next.message(), next.size()) || !link.sendNow(next.message())) break;
        outbox.poll();
        if (next.tracker() != null) next.tracker().sent(link);
      }
      written = link != null ? link.takeWritten() : Collections.<WrittenWaiter>emptyList();
      watching = link != null && link.awaitsWrites();
      left = !outbox.isEmpty();
      nextExpiry = outbox.nextExpiry();
    }
    report(expired);
    for (SendTracker t : expiredTracked) t.notSent(outbox.expiredException());
    for (WrittenWaiter w : written) w.written();
    drainTimer.dispose();
    expiryTimer.dispose();
    if ((left || watching) && connected != null) drainTimer = after(DRAIN_POLL, this::drainOutbox);
    if (nextExpiry != Long.MAX_VALUE) {
      expiryTimer = after(Duration.ofMillis(Math.max(0, nextExpiry - now)), this::drainOutbox);
    }
  }

  private void doReconnectNow() {
    if (state instanceof WaitingToReconnect w) {
      log.debug("{} reconnecting now instead of after the remaining delay", name);
      startAttempt(w.attempt());
    }
  }

  private void stopEverything(int code, String why) {
    wanted = false;
    retryTimer.dispose();
    drainTimer.dispose();
    Link link = current;
    if (link != null) {
      endLink(link, new LifelineException(why + "() closed the connection"));
      WebSocket ws = link.webSocket;
      if (ws != null) {
        if (link.opened) {
          ws.close(code, why);
        } else {
          ws.cancel();
        }
      }
    }
    resetOutage();
  }

  // --- Attempts --------------------------------------------------------------------------------

  private void startAttempt(int attempt) {
    retryTimer.dispose();
    Request request;
    try {
      request = Objects.requireNonNull(config.requests().get(), "request supplier returned null");
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      setState(new Connecting(attempt));
      log.debug("{} request supplier failed", name, t);
      failed(t);
      return;
    }
    name = Urls.redact(request.url()); // before the first log line of this attempt
    Link link = new Link(this, attempt, config.heartbeat(), scheduler, activity);
    current = link;
    // Each timer a state implies is scheduled before the state is announced, so that whoever
    // advances virtual time on seeing the state finds the timer there.
    attemptTimer = after(config.attemptTimeout(), () -> attemptTimedOut(link));
    setState(new Connecting(attempt));
    link.webSocket = webSockets.newWebSocket(request, link);
  }

  void opened(Link link, Response response) {
    if (link != current) {
      WebSocket stale = link.webSocket;
      if (stale != null) stale.cancel(); // an attempt we already gave up on
      return;
    }
    link.opened = true;
    link.openedAt = now();
    log.debug("{} upgrade accepted (HTTP {})", name, response.code());
    link.monitor.start();
    if (config.onReady() == null) {
      becomeConnected(link);
      return;
    }
    // Only the ready hook's Session can read it: without a hook, holding the response (its request,
    // headers and network response, ~1 KiB) for the connection's life would be waste.
    link.handshake = response;
    Completable hook;
    try {
      hook = Objects.requireNonNull(config.onReady().apply(link), "ready hook returned null");
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      failLink(link, new ReadyHookException(t));
      return;
    }
    link.hook =
        hook.subscribe(
            () -> submit(() -> readyHookCompleted(link)),
            e -> submit(() -> failLink(link, new ReadyHookException(e))));
  }

  private void readyHookCompleted(Link link) {
    if (link == current) becomeConnected(link);
  }

  private void becomeConnected(Link link) {
    attemptTimer.dispose();
    link.ready = true;
    connected = link;
    healthTimer = after(config.stableAfter(), () -> checkHealthy(link));
    setState(new Connected(Instant.ofEpochMilli(now())));
    requeueUnacknowledged(link);
    drainOutbox(); // after the ready hook, before anything sent later
  }

  /**
   * A connection is healthy once it has been up for {@code stableAfter} and, with a heartbeat, has
   * received something. Only then is the outage over and the retry budget restored, so a server
   * that accepts and drops at once cannot keep the socket retrying forever.
   */
  void checkHealthy(Link link) {
    if (link != current || !link.ready) return;
    if (now() - link.openedAt < config.stableAfter().toMillis()) return; // a frame came early
    if (!link.monitor.enabled() || link.monitor.sawLifeSince(link.openedAt)) {
      link.healthPending = false;
      healthTimer.dispose();
      if (retries > 0 || outageStartedAt >= 0) {
        log.debug("{} connection healthy: retry budget restored", name);
      }
      resetOutage();
      return;
    }
    // Up long enough but nothing received yet: the next frame (or bytes, checked here) decides.
    link.healthPending = true;
    healthTimer = after(HEALTH_RECHECK, () -> checkHealthy(link));
  }

  private void attemptTimedOut(Link link) {
    if (link != current || link.ready) return;
    String stage =
        link.opened
            ? "the ready hook to complete"
            : "the WebSocket upgrade (dispatcher queue, TCP, TLS, HTTP 101)";
    AttemptTimeoutException cause = new AttemptTimeoutException(config.attemptTimeout(), stage);
    failLink(link, cause);
  }

  private void failLink(Link link, Throwable cause) {
    if (link != current) return;
    link.kill(cause);
    linkEnded(link, cause);
  }

  /** The connection or attempt behind {@code link} is over, for {@code cause}. */
  void linkEnded(Link link, Throwable cause) {
    if (link != current) return; // stale: an earlier attempt, or already handled
    boolean wasConnected = link.ready;
    endLink(link, cause);
    everConnected |= link.opened;
    if (wasConnected) {
      log.info("{} connection dropped: {}", name, cause.toString());
    } else {
      log.debug("{} attempt {} failed: {}", name, link.attempt, cause.toString());
    }
    failed(cause);
  }

  private void endLink(Link link, Throwable cause) {
    current = null;
    if (connected == link) connected = null;
    attemptTimer.dispose();
    healthTimer.dispose();
    link.finish(cause);
  }

  /** Decides what follows a drop or a failed attempt: wait and retry, or give up. */
  private void failed(Throwable cause) {
    long now = now();
    if (outageStartedAt < 0) outageStartedAt = now;
    boolean retryable;
    try {
      retryable = config.retryIf().test(cause);
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      giveUp(new TerminalFailureException(retries, t));
      return;
    }
    if (!retryable) {
      giveUp(new TerminalFailureException(retries, cause));
      return;
    }
    int attempt = retries + 1;
    Optional<Duration> serverRetryAfter =
        cause instanceof HandshakeException h
            ? h.retryAfter(Instant.ofEpochMilli(now))
            : Optional.empty();
    Optional<Duration> delay;
    try {
      delay =
          config
              .retryPolicy()
              .nextDelay(
                  new RetryContext(
                      attempt,
                      Duration.ofMillis(now - outageStartedAt),
                      cause,
                      everConnected,
                      serverRetryAfter,
                      config.random()));
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      giveUp(new TerminalFailureException(retries, t));
      return;
    }
    if (!delay.isPresent()) {
      giveUp(new RetriesExhaustedException(retries, cause));
      return;
    }
    Duration wait = delay.get().isNegative() ? Duration.ZERO : delay.get();
    if (serverRetryAfter.isPresent()) {
      Duration floor = min(serverRetryAfter.get(), config.retryAfterCeiling());
      if (wait.compareTo(floor) < 0) wait = floor;
    }
    retries = attempt;
    WaitingToReconnect waiting = new WaitingToReconnect(attempt, wait, cause);
    retryTimer = after(wait, () -> retryDue(waiting)); // runs on this loop, after setState below
    setState(waiting);
  }

  private void retryDue(WaitingToReconnect waiting) {
    if (state == waiting) startAttempt(waiting.attempt());
  }

  private void giveUp(GaveUpException reason) {
    wanted = false;
    retryTimer.dispose();
    resetOutage();
    // Swap the stream before anyone hears of the failure: a subscriber reacting to Failed must join
    // the next connect()'s stream, not the one about to error.
    SerialEmitter<Message> failedStream = messages;
    messages = new SerialEmitter<>();
    setState(new Failed(reason));
    failedStream.onError(reason);
    drainTimer.dispose();
    expiryTimer.dispose();
    failReplies(reason);
    failOutbox(reason);
  }

  private void resetOutage() {
    retries = 0;
    outageStartedAt = -1;
    everConnected = false;
  }

  // --- From the links ----------------------------------------------------------------------------

  void deliver(Message message) {
    messages.onNext(message);
  }

  void roundTrip(Duration rtt) {
    if (log.isDebugEnabled()) log.debug("{} heartbeat round trip {}", name, Durations.format(rtt));
    roundTrips.onNext(rtt);
  }

  /** Turns OkHttp's failure report into the exception users see. */
  Throwable describeFailure(Throwable t, Response response) {
    if (response != null && response.code() != 101) {
      return new HandshakeException(
          response.code(), response.message(), response.headers(), name, t);
    }
    if (t instanceof SocketTimeoutException
        && t.getMessage() != null
        && t.getMessage().startsWith("sent ping but didn't receive pong")) {
      return new HeartbeatTimeoutException(
          "no pong to OkHttp's protocol ping within its interval of "
              + Durations.format(config.heartbeat().interval())
              + " ("
              + t.getMessage()
              + ")",
          t);
    }
    return t;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
