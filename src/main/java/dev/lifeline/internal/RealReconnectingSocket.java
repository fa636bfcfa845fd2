package dev.lifeline.internal;

import dev.lifeline.AttemptTimeoutException;
import dev.lifeline.ConnectionLostException;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Closed;
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
import dev.lifeline.NotDeliveredException;
import dev.lifeline.ReadyHookException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.RetryContext;
import dev.lifeline.SendResult;
import dev.lifeline.TerminalFailureException;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.exceptions.Exceptions;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okio.ByteString;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection loop behind {@link ReconnectingSocket}: phases, attempts, retries, health. What
 * goes out is {@link Outbound}'s, replies are {@link ReplyTables}', what comes in is {@link
 * Inbound}'s and each connection is a {@link Link}.
 *
 * <p><b>Events.</b> Every change runs as an event on a serial loop: {@link #submit} queues it and
 * the first thread to arrive runs the queue, one event at a time, in order. An event first finishes
 * all of its bookkeeping (phase, timers, outbox, connection) and collects what users should hear
 * (states, completions, reports) as signals; the signals run after it, in order, each through
 * {@link UserCode}, so an observer that throws is reported and never aborts an event. User code
 * that calls back into the socket just queues another event. No lock is held while user code runs.
 *
 * <p><b>Phases.</b> The loop is in exactly one phase, which owns what it implies: an attempt its
 * link, deadline and ready hook; a live connection its link and health timer; a wait its retry
 * timer. {@link #leave} releases the phase's timers in one place; what happens to its link (failed,
 * closed gracefully, abandoned) is the transition's choice, in {@link #release}. A callback from a
 * link that is not the current phase's is stale, recognised in one place ({@link #current}).
 */
public final class RealReconnectingSocket
    implements ReconnectingSocket, Link.Events, Outbound.Host {
  private static final Logger log = LoggerFactory.getLogger(ReconnectingSocket.class);

  private sealed interface Phase permits Idle, Attempt, Live, Waiting, GaveUp, Shut {}

  private static final class Idle implements Phase {}

  private static final class GaveUp implements Phase {}

  private static final class Shut implements Phase {}

  private static final class Attempt implements Phase {
    final Link link;
    Disposable deadline = Disposable.disposed();
    Disposable hook = Disposable.disposed();
    boolean opened;
    long userTimeAtStart; // the loop's time in user code when the attempt started
    long credited; // of that time since, what the deadline was already extended by

    Attempt(Link link) {
      this.link = link;
    }
  }

  private static final class Live implements Phase {
    final Link link;
    final Connected state;
    Disposable health = Disposable.disposed();

    Live(Link link, Connected state) {
      this.link = link;
      this.state = state;
    }
  }

  private static final class Waiting implements Phase {
    final WaitingToReconnect state;
    Disposable timer = Disposable.disposed();

    Waiting(WaitingToReconnect state) {
      this.state = state;
    }
  }

  private static final Idle IDLE = new Idle();

  private final Config config;
  private final WebSocket.Factory webSockets;
  private final @Nullable LinkActivity activity;
  private final Scheduler scheduler;
  private final LongSupplier clock;
  private final Broadcast<ConnectionState> states;
  private final SerialEmitter<Duration> roundTrips;
  private final SerialEmitter<Connected> healthy;
  private final Inbound inbound;
  private final Outbound outbound;
  private final ReplyTables replies;
  private final ConcurrentLinkedQueue<Runnable> events = new ConcurrentLinkedQueue<>();
  private final AtomicInteger wip = new AtomicInteger();

  private volatile ConnectionState state = ConnectionState.IDLE;
  private volatile boolean closed;
  private volatile String name = "socket";

  // Loop.
  private Phase phase = IDLE;
  private final List<Runnable> signals = new ArrayList<>();
  private int retries; // retries made in the current outage
  private long outageStartedAt = -1; // monotonic
  private boolean everConnected; // whether an attempt of this outage opened
  private long userTimeMs; // time the loop has spent running signals (user code), in total

  /** Creates an idle socket that connects with the configured OkHttp client. */
  public RealReconnectingSocket(Config config) {
    this(config, null, null);
  }

  /**
   * Creates an idle socket; {@code webSockets}, when not null, replaces the OkHttp client and
   * {@code activity} stands for the byte counts of its sockets (tests drive the loop through a fake
   * factory).
   */
  RealReconnectingSocket(
      Config config, WebSocket.@Nullable Factory webSockets, @Nullable LinkActivity activity) {
    this.config = config;
    this.scheduler = config.scheduler();
    this.clock = Clocks.monotonicMillis(scheduler);
    if (webSockets != null) {
      this.activity = activity;
      this.webSockets = webSockets;
    } else {
      LinkActivity counted = new LinkActivity(clock);
      this.activity = counted;
      this.webSockets = deriveClient(config.client(), config, counted);
    }
    this.states = Broadcast.replaying(this::name, "states() subscriber", ConnectionState.IDLE);
    this.roundTrips = new SerialEmitter<>(this::name, "roundTripTimes() subscriber");
    this.healthy = new SerialEmitter<>(this::name, "healthy() subscriber");
    this.inbound = new Inbound(this::name);
    this.replies = new ReplyTables(scheduler, this::name);
    this.outbound = new Outbound(config, this, this.activity, replies);
  }

  /**
   * The caller's client with the same pool and dispatcher, plus byte counting and a bounded send
   * buffer on its sockets, and OkHttp's ping interval for a protocol heartbeat.
   *
   * <p>With Lifeline's default client, OkHttp's connect and read timeouts (10 s each, which bound
   * the upgrade only: OkHttp puts no read timeout on an open WebSocket) move just behind the
   * attempt's deadline, so that an attempt against a frozen server ends when {@code attemptTimeout}
   * says, with an {@code AttemptTimeoutException}. A caller's own client keeps its timeouts: an
   * attempt then ends at whichever comes first.
   */
  static OkHttpClient deriveClient(OkHttpClient base, Config config, LinkActivity activity) {
    OkHttpClient.Builder derived = base.newBuilder();
    derived.socketFactory(
        new CountingSocketFactory(base.socketFactory(), activity, config.sendBufferSize()));
    Heartbeat heartbeat = config.heartbeat();
    if (heartbeat instanceof Heartbeat.Protocol p) derived.pingInterval(p.interval());
    if (base == DefaultClient.get()) {
      // OkHttp takes at most Integer.MAX_VALUE ms (24 days) here.
      long backstopMs =
          Math.min(
              Integer.MAX_VALUE,
              Durations.saturatedNanos(config.attemptTimeout()) / 1_000_000L + 1_000L);
      derived
          .connectTimeout(Duration.ofMillis(backstopMs))
          .readTimeout(Duration.ofMillis(backstopMs));
    }
    return derived.build();
  }

  // --- Public API ------------------------------------------------------------------------------

  @Override
  public Observable<Message> messages() {
    return inbound.view();
  }

  @Override
  public Observable<ConnectionState> states() {
    return states.hide();
  }

  @Override
  public ConnectionState state() {
    return state;
  }

  @Override
  public Observable<Duration> roundTripTimes() {
    return roundTrips.stream().hide();
  }

  @Override
  public Completable whenConnected() {
    return states
        .filter(s -> s instanceof Connected || s instanceof Failed || s instanceof Closed)
        .firstOrError()
        .flatMapCompletable(
            s -> {
              if (s instanceof Failed f) return Completable.error(f.cause());
              if (s instanceof Closed) {
                return Completable.error(new LifelineException("the socket is closed"));
              }
              return Completable.complete();
            });
  }

  @Override
  public Observable<Connected> healthy() {
    return healthy.stream().hide();
  }

  @Override
  public Observable<NotDeliveredException> undelivered() {
    return outbound.undelivered().hide();
  }

  @Override
  public void connect() {
    if (closed) throw new IllegalStateException("connect() on a closed socket: build a new one");
    inbound.restart(); // after a give-up: who subscribes from now on waits for the new episode
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
  public SendResult send(String text) {
    return outbound.send(Message.text(text), null);
  }

  @Override
  public SendResult send(ByteString bytes) {
    return outbound.send(Message.binary(bytes), null);
  }

  @Override
  public SendResult send(Message message) {
    return outbound.send(Objects.requireNonNull(message, "message"), null);
  }

  @Override
  public Completable sendWritten(Message message) {
    Objects.requireNonNull(message, "message");
    return Completable.create(
        emitter -> {
          WrittenWaiter waiter = new WrittenWaiter(emitter);
          emitter.setCancellable(() -> outbound.remove(waiter));
          SendResult result = outbound.send(message, waiter);
          if (!result.isAccepted()) {
            emitter.tryOnError(Why.refused(result).of(message));
          } else if (result == SendResult.SENT) {
            outbound.requestDrain(); // it may be written already
          }
        });
  }

  @Override
  public Replies replies(Correlation correlation) {
    Objects.requireNonNull(correlation, "correlation");
    return replies.add(correlation, outbound);
  }

  @Override
  public String toString() {
    return "ReconnectingSocket(" + name + ", " + state + ")";
  }

  // --- Serial loop -----------------------------------------------------------------------------

  @Override
  public void submit(Runnable event) {
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
        flushSignals();
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  /** Runs what the last event's bookkeeping collected for users, in order, each guarded. */
  private void flushSignals() {
    if (signals.isEmpty()) return;
    List<Runnable> batch = new ArrayList<>(signals);
    signals.clear();
    long start = now();
    for (Runnable signal : batch) UserCode.run(name, "an observer", signal);
    userTimeMs += Math.max(0, now() - start);
  }

  @Override
  public Disposable after(Duration delay, Runnable event) {
    return scheduler.scheduleDirect(
        () -> submit(event), Durations.timerNanos(delay), TimeUnit.NANOSECONDS);
  }

  @Override
  public long now() {
    return clock.getAsLong();
  }

  @Override
  public String name() {
    return name;
  }

  private void publish(ConnectionState next) {
    state = next;
    if (next instanceof Connected || next instanceof Failed) {
      log.info("{} {}", name, next);
    } else if (next instanceof WaitingToReconnect w) {
      // The drop itself is logged at INFO where it is detected; the delay is detail.
      log.debug(
          "{} waiting {} before retry {}: {}",
          name,
          Durations.format(w.delay()),
          w.retry(),
          w.cause().toString());
    } else {
      log.debug("{} {}", name, next);
    }
    signals.add(() -> states.onNext(next));
  }

  // --- Phases ----------------------------------------------------------------------------------

  /** The link of the current phase, if it is {@code link}: every callback's staleness check. */
  private boolean current(Link link) {
    return currentLink() == link;
  }

  private @Nullable Link currentLink() {
    if (phase instanceof Attempt a) return a.link;
    if (phase instanceof Live l) return l.link;
    return null;
  }

  /** Leaves the current phase: disposes the timers it owns. Its link is {@link #release}d. */
  private void leave(Phase next) {
    Phase left = phase;
    if (left instanceof Attempt a) {
      a.deadline.dispose();
      a.hook.dispose();
    } else if (left instanceof Live l) {
      l.health.dispose();
    } else if (left instanceof Waiting w) {
      w.timer.dispose();
    }
    phase = next;
  }

  private enum Exit {
    /** Over, by OkHttp's report or our kill: what it did not write goes out again later. */
    FAILED,
    /** disconnect(): close with 1000; OkHttp writes what it has queued first. */
    GRACEFUL,
    /** close(): report what it did not write, then close, or cancel if anything was unwritten. */
    ABANDONED
  }

  /** Ends {@code link} the way the transition says, with {@code cause}. */
  private void release(Link link, boolean opened, Exit exit, LifelineException cause) {
    switch (exit) {
      case FAILED -> outbound.ended(link.lane, signals);
      case GRACEFUL -> {
        if (opened) {
          outbound.closing(link.lane);
          link.closeGracefully(1000, "disconnect");
        } else {
          link.kill(cause);
          outbound.ended(link.lane, signals);
        }
      }
      case ABANDONED -> {
        if (outbound.abandon(link.lane, Why.closed(), cause, signals) || !opened) {
          link.kill(cause);
        } else {
          link.closeGracefully(1000, "close");
        }
      }
    }
    link.finish();
  }

  private boolean opened() {
    return phase instanceof Live || (phase instanceof Attempt a && a.opened);
  }

  // --- Events from the API ---------------------------------------------------------------------

  private void doConnect() {
    if (closed || !(phase instanceof Idle || phase instanceof GaveUp)) return;
    resetOutage();
    startAttempt(0);
  }

  private void doDisconnect() {
    if (phase instanceof Idle || phase instanceof GaveUp || phase instanceof Shut) return;
    Link link = currentLink();
    boolean opened = opened();
    leave(IDLE);
    if (link != null) {
      release(
          link, opened, Exit.GRACEFUL, new LifelineException("disconnect() closed the connection"));
    }
    resetOutage();
    publish(ConnectionState.IDLE);
  }

  private void doClose() {
    if (phase instanceof Shut) return;
    LifelineException reason = new LifelineException("close() ended the connection");
    Link link = currentLink();
    boolean opened = opened();
    leave(new Shut());
    for (Outbound.Lane lane : outbound.close()) {
      outbound.abandon(lane, Why.closed(), reason, signals);
    }
    if (link != null) release(link, opened, Exit.ABANDONED, reason);
    outbound.failAll(Why.closed(), signals);
    replies.failAll(Why.closed(), signals);
    publish(ConnectionState.CLOSED);
    signals.add(states::onComplete);
    signals.add(inbound.complete());
    signals.add(roundTrips::onComplete);
    signals.add(healthy::onComplete);
    signals.add(outbound::completeReports);
  }

  private void doReconnectNow() {
    if (phase instanceof Waiting w) {
      log.debug("{} reconnecting now instead of after the remaining delay", name);
      startAttempt(w.state.retry());
    }
  }

  // --- Attempts --------------------------------------------------------------------------------

  private void startAttempt(int attempt) {
    Request request;
    try {
      request = config.requests().get();
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      leave(IDLE);
      publish(new Connecting(attempt));
      log.debug("{} request supplier failed", name, t);
      failed(t);
      return;
    }
    String invalid =
        request == null
            ? "the request supplier returned null"
            : "GET".equals(request.method())
                ? null
                : "the request supplier returned a "
                    + request.method()
                    + " request; a WebSocket upgrade must be GET";
    if (invalid != null) {
      leave(IDLE);
      publish(new Connecting(attempt));
      giveUp(new TerminalFailureException(retries, new IllegalArgumentException(invalid)));
      return;
    }
    name = Urls.redact(request.url()); // before the first log line of this attempt
    Link link = new Link(this, attempt, config, outbound, inbound, replies, activity, clock);
    Attempt a = new Attempt(link);
    a.userTimeAtStart = userTimeMs;
    leave(a);
    // Each timer a phase implies is scheduled before its state is announced, so that whoever
    // advances virtual time on seeing the state finds the timer there.
    a.deadline = after(config.attemptTimeout(), () -> attemptTimedOut(link));
    publish(new Connecting(attempt));
    // The upgrade starts in an event of its own, so that Connecting is announced first.
    submit(() -> open(link, request));
  }

  private void open(Link link, Request request) {
    if (!current(link)) return; // disconnected or closed in between
    WebSocket ws;
    try {
      ws = webSockets.newWebSocket(request, link);
    } catch (RuntimeException e) {
      leave(IDLE);
      link.kill(e);
      release(link, false, Exit.FAILED, new LifelineException("OkHttp refused the request", e));
      giveUp(new TerminalFailureException(retries, e));
      return;
    }
    link.start(ws);
  }

  @Override
  public void opened(Link link, Response response) {
    submit(() -> onOpened(link, response));
  }

  private void onOpened(Link link, Response response) {
    if (!(phase instanceof Attempt a) || a.link != link) {
      link.kill(new LifelineException("an attempt already given up on")); // stale
      return;
    }
    a.opened = true;
    log.debug("{} upgrade accepted (HTTP {})", name, response.code());
    link.monitor.start();
    var hookFactory = config.onReady();
    if (hookFactory == null) {
      becomeConnected(a);
      return;
    }
    // Only the ready hook's Session can read it: without a hook, holding the response (its request,
    // headers and network response, ~1 KiB) for the connection's life would be waste.
    link.keepHandshake(response);
    try {
      Completable hook =
          Objects.requireNonNull(hookFactory.apply(link), "ready hook returned null");
      a.hook =
          hook.subscribe(
              () -> submit(() -> readyHookCompleted(link)),
              e -> submit(() -> kill(link, new ReadyHookException(e))));
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      kill(link, new ReadyHookException(t));
    }
  }

  private void readyHookCompleted(Link link) {
    if (phase instanceof Attempt a && a.link == link) becomeConnected(a);
  }

  private void becomeConnected(Attempt a) {
    Link link = a.link;
    Live live =
        new Live(link, new Connected(Instant.ofEpochMilli(scheduler.now(TimeUnit.MILLISECONDS))));
    leave(live);
    live.health = after(config.stableAfter(), () -> stableFor(link));
    // Retransmissions and what was queued go out before the state is announced: a message sent by
    // an observer of Connected (or any thread from now on) follows them.
    outbound.attach(link.lane, signals);
    publish(live.state);
  }

  /**
   * The connection has been up for {@code stableAfter}: healthy now if it has shown life (or no
   * heartbeat asks for any), else at its first inbound frame. Only then is the outage over and the
   * retry budget restored, so a server that accepts and drops at once cannot keep the socket
   * retrying forever. A timer, not a clock comparison: a clock step cannot delay it.
   */
  private void stableFor(Link link) {
    if (!(phase instanceof Live live) || !current(link)) return;
    if (!link.monitor.enabled() || link.monitor.sawLife()) {
      provedHealthy(live);
    } else {
      link.awaitLife();
    }
  }

  @Override
  public void lifeAfterStable(Link link) {
    submit(
        () -> {
          if (phase instanceof Live live && current(link)) provedHealthy(live);
        });
  }

  private void provedHealthy(Live live) {
    if (retries > 0 || outageStartedAt >= 0) {
      log.debug("{} connection healthy: retry budget restored", name);
    }
    resetOutage();
    Connected state = live.state;
    signals.add(() -> healthy.onNext(state));
  }

  private void attemptTimedOut(Link link) {
    if (!(phase instanceof Attempt a) || a.link != link) return;
    // Time the loop spent in user code (a slow states() observer) is not the network's: the
    // deadline moves by as much, so the upgrade's answer, queued meanwhile, is heard first.
    long owed = userTimeMs - a.userTimeAtStart - a.credited;
    if (owed > 0) {
      a.credited += owed;
      a.deadline = after(Duration.ofMillis(owed), () -> attemptTimedOut(link));
      return;
    }
    String stage =
        a.opened
            ? "the ready hook to complete"
            : "the WebSocket upgrade (dispatcher queue, TCP, TLS, HTTP 101)";
    kill(link, new AttemptTimeoutException(config.attemptTimeout(), stage));
  }

  /** Ends the current attempt or connection from our side: cancelled, then failed. */
  private void kill(Link link, LifelineException cause) {
    if (!current(link)) return;
    link.kill(cause);
    failCurrent(link, cause);
  }

  @Override
  public void ended(Link link, Throwable cause) {
    submit(() -> failCurrent(link, cause));
  }

  /** The connection or attempt behind {@code link} is over, for {@code cause}. */
  private void failCurrent(Link link, Throwable cause) {
    if (!current(link)) {
      outbound.ended(link.lane, signals); // a gracefully closed or stale link: settle what it had
      return;
    }
    boolean wasConnected = phase instanceof Live;
    boolean opened = opened();
    everConnected |= opened;
    leave(IDLE);
    release(
        link,
        opened,
        Exit.FAILED,
        cause instanceof LifelineException l ? l : new LifelineException(cause.toString(), cause));
    if (wasConnected) {
      log.info("{} connection dropped: {}", name, cause.toString());
    } else {
      log.debug("{} attempt {} failed: {}", name, link.attempt, cause.toString());
    }
    failed(cause);
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
    Instant wallNow = Instant.ofEpochMilli(scheduler.now(TimeUnit.MILLISECONDS));
    Optional<Duration> serverRetryAfter =
        cause instanceof HandshakeException h ? h.retryAfter(wallNow) : Optional.empty();
    Optional<Duration> delay;
    try {
      delay =
          config
              .retryPolicy()
              .nextDelay(
                  RetryContext.of(
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
    if (delay == null || !delay.isPresent()) {
      giveUp(new RetriesExhaustedException(retries, cause));
      return;
    }
    Duration wait = clamp(delay.get());
    if (serverRetryAfter.isPresent()) {
      Duration floor = clamp(min(serverRetryAfter.get(), config.retryAfterCeiling()));
      if (wait.compareTo(floor) < 0) wait = floor;
    }
    retries = attempt;
    Waiting waiting = new Waiting(new WaitingToReconnect(attempt, wait, cause));
    leave(waiting);
    waiting.timer = after(wait, () -> retryDue(waiting));
    publish(waiting.state);
  }

  private static Duration clamp(Duration d) {
    if (d.isNegative()) return Duration.ZERO;
    return d.compareTo(Durations.MAX_TIMER) > 0 ? Durations.MAX_TIMER : d;
  }

  private void retryDue(Waiting waiting) {
    if (phase == waiting) startAttempt(waiting.state.retry());
  }

  private void giveUp(GaveUpException reason) {
    leave(new GaveUp());
    resetOutage();
    // The failed stream stays current until connect(): a subscriber who comes later learns of the
    // give-up at once; one who calls connect() first joins the next episode's stream.
    Runnable endStream = inbound.gaveUp(reason);
    outbound.stopTimers();
    outbound.failAll(Why.gaveUp(reason), signals);
    replies.failAll(Why.gaveUp(reason), signals);
    publish(new Failed(reason));
    signals.add(endStream);
  }

  private void resetOutage() {
    retries = 0;
    outageStartedAt = -1;
    everConnected = false;
  }

  // --- From the links ----------------------------------------------------------------------------

  @Override
  public void roundTrip(Duration rtt) {
    if (log.isDebugEnabled()) log.debug("{} heartbeat round trip {}", name, Durations.format(rtt));
    roundTrips.onNext(rtt);
  }

  @Override
  public Throwable describeFailure(Throwable t, @Nullable Response response, boolean wasOpen) {
    if (response != null && response.code() != 101) {
      return new HandshakeException(
          response.code(), response.message(), response.headers(), name, t);
    }
    if (t instanceof SocketTimeoutException
        && t.getMessage() != null
        && t.getMessage().startsWith("sent ping but didn't receive pong")) {
      return new HeartbeatTimeoutException(
          "no pong to OkHttp's protocol ping within its interval of "
              + Durations.format(HeartbeatMonitor.intervalOf(config.heartbeat()))
              + " ("
              + t.getMessage()
              + ")",
          t);
    }
    if (wasOpen && t instanceof IOException) {
      return new ConnectionLostException(describeDrop(t), t);
    }
    return t;
  }

  /** What an open connection's I/O failure means, in words. */
  private String describeDrop(Throwable t) {
    String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
    if (t instanceof EOFException) {
      return "the server, or something between, closed the TCP connection without a WebSocket"
          + " close frame";
    }
    if (t instanceof SocketTimeoutException) {
      long writeTimeout = config.client().writeTimeoutMillis();
      return writeTimeout == 0
          ? "a read or write on the connection timed out"
          : "no byte could be written for OkHttp's write timeout of "
              + Durations.formatMillis(writeTimeout)
              + ": the server or the network stopped taking bytes";
    }
    if (message.contains("reset") || message.contains("broken pipe")) {
      return "the connection was reset: the server, or something between, dropped it";
    }
    if (message.contains("socket closed") || message.contains("canceled")) {
      return "the connection's socket was closed under it, without a WebSocket close frame";
    }
    return "the connection failed";
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
