package dev.lifeline;

import dev.lifeline.internal.BuilderAccess;
import dev.lifeline.internal.Config;
import dev.lifeline.internal.DefaultClient;
import dev.lifeline.internal.RealReconnectingSocket;
import io.reactivex.rxjava3.annotations.CheckReturnValue;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.schedulers.Schedulers;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okio.ByteString;
import org.jspecify.annotations.Nullable;

/**
 * A WebSocket that stays connected: it notices a dead connection, reconnects with jittered backoff,
 * and gives up with a typed error only when an outage has used its whole budget or a failure cannot
 * be fixed by retrying.
 *
 * <h2>Lifecycle</h2>
 *
 * <ul>
 *   <li><b>Idle</b> until {@link #connect()}.
 *   <li><b>Connecting</b>: one attempt runs (TCP, TLS, HTTP upgrade, then the ready hook) under one
 *       deadline.
 *   <li><b>Connected</b>: messages flow. A heartbeat watches for silence.
 *   <li><b>WaitingToReconnect</b>: the connection dropped or the attempt failed; the next attempt
 *       starts after a delay from the retry policy.
 *   <li><b>Failed</b>: the socket gave up; {@link #messages()} signals a {@link GaveUpException}.
 *       {@code connect()} starts again with a full budget.
 *   <li><b>Closed</b>: {@link #close()} was called; both streams complete. Terminal.
 * </ul>
 *
 * <h2>Threads</h2>
 *
 * Lifeline starts no threads of its own. Messages are emitted on OkHttp's reader thread, with no
 * extra hop: a subscriber that needs another thread uses {@code observeOn}. Timers (heartbeat,
 * backoff, deadlines) run on the {@link Builder#scheduler(Scheduler) scheduler}, {@link
 * Schedulers#computation()} by default. State changes are processed one at a time, in order, on
 * whichever thread caused them (a caller of {@code connect()}, OkHttp's thread, a timer); no lock
 * is held while your code runs, so you may call any method of the socket from any callback. All
 * methods are safe to call from any thread.
 *
 * <h2>Sending</h2>
 *
 * {@link #send(String)} never drops a message silently: it returns what it did. On a ready
 * connection with room in OkHttp's queue the message is {@link SendResult#SENT} at once; otherwise
 * it is {@link SendResult#QUEUED} in a bounded {@link Outbox} and sent in order when a connection
 * is ready (after its ready hook) and OkHttp's queue is below the {@linkplain Builder#highWaterMark
 * high-water mark}. A queued message that expires, or is still waiting when the socket gives up or
 * closes, is reported on {@link #undelivered()}. A queued message the outbox handed to a connection
 * that died before OkHttp wrote it goes back to the front of the outbox and is sent again on the
 * next connection, before anything newer. "Sent" means "handed to OkHttp": a message OkHttp wrote
 * to a connection that then died is lost (at most once), and so is a {@code SENT} message still in
 * OkHttp's queue when its connection dies.
 *
 * <pre>{@code
 * ReconnectingSocket socket = ReconnectingSocket.builder("wss://example.com/feed")
 *     .heartbeat(Heartbeat.application(Duration.ofSeconds(15), Duration.ofSeconds(10),
 *         "{\"type\":\"ping\"}", "{\"type\":\"pong\"}"))
 *     .retryPolicy(Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30)).maxRetries(10))
 *     .build();
 * socket.messages().subscribe(m -> ..., error -> ...);
 * socket.connect();
 * }</pre>
 */
public interface ReconnectingSocket extends AutoCloseable {

  /**
   * Builds a socket with every default, connects it, and returns it. Subscribe to {@link
   * #messages()} on the same thread right after this returns and you see every message: the first
   * one cannot arrive before the HTTP upgrade completes on another thread, which takes at least a
   * network round trip.
   *
   * @throws IllegalArgumentException if {@code url} is not a ws, wss, http or https URL
   */
  static ReconnectingSocket connect(String url) {
    ReconnectingSocket socket = builder(url).build();
    socket.connect();
    return socket;
  }

  /**
   * Returns a builder for a socket to {@code url} (ws, wss, http or https).
   *
   * @throws IllegalArgumentException if {@code url} is not a valid URL of one of those schemes
   */
  static Builder builder(String url) {
    Request request = new Request.Builder().url(parseUrl(url)).build();
    return new Builder(() -> request);
  }

  /**
   * Returns a builder for a socket that opens every connection with {@code request} (its headers
   * included).
   *
   * @throws IllegalArgumentException if the request's method is not GET
   */
  static Builder builder(Request request) {
    Objects.requireNonNull(request, "request");
    if (!"GET".equals(request.method())) {
      throw new IllegalArgumentException(
          "a WebSocket request must be GET but was " + request.method());
    }
    return new Builder(() -> request);
  }

  /**
   * Returns a builder for a socket that asks {@code requests} for a fresh {@link Request} before
   * every attempt, after the backoff delay: a new token, another URL. The supplier runs on the
   * thread that processes the socket's events; if it throws, the attempt fails with that exception,
   * classified like any other failure.
   */
  static Builder builder(Supplier<Request> requests) {
    return new Builder(Objects.requireNonNull(requests, "requests"));
  }

  /**
   * Inbound messages from every connection this socket makes: a hot stream that survives
   * reconnects. Subscribe before {@link #connect()} to see every message.
   *
   * <ul>
   *   <li>Emits on OkHttp's reader thread, in the order the server sent.
   *   <li>Never signals an error for a transient failure (a drop is followed by a reconnect).
   *   <li>Signals a {@link GaveUpException} when the socket gives up; a subscriber that arrives
   *       while the socket is still {@code Failed} gets the same error at once. After {@link
   *       #connect()} is called, new subscribers join the next episode's stream: to go on after a
   *       give-up, call {@code connect()}, then subscribe again.
   *   <li>Completes on {@link #close()}.
   * </ul>
   *
   * Application pongs matched by the heartbeat are not emitted.
   */
  Observable<Message> messages();

  /**
   * The socket's states, starting with the current one (replayed to each new subscriber). Emitted
   * on the thread that processed the change; never signals an error; completes after {@link
   * ConnectionState.Closed}.
   */
  Observable<ConnectionState> states();

  /**
   * Completes when the socket is {@code Connected}: at once if it is, else at the next {@code
   * Connected}. Fails with the {@link GaveUpException} if the socket gives up first (or has given
   * up: it is {@code Failed}), and with a {@link LifelineException} if it is or gets closed first.
   * Does not connect by itself: call {@link #connect()} first, as {@link #connect(String)} does.
   * Typical use, to fail fast when the first connection cannot be made:
   *
   * <pre>{@code
   * socket.connect();
   * socket.whenConnected().blockingAwait(); // or timeout(...) and subscribe
   * }</pre>
   *
   * <p>Cold: each subscription watches {@link #states()} from the current state on. Signals on the
   * thread that made the socket {@code Connected}, {@code Failed} or {@code Closed}, or on the
   * subscribing thread when the current state decides it.
   */
  @CheckReturnValue
  Completable whenConnected();

  /** The current state. */
  ConnectionState state();

  /**
   * Round-trip times of application heartbeat pings, measured from when the ping left OkHttp's send
   * queue to when its pong arrived. Emitted on OkHttp's reader thread; completes on {@link
   * #close()}. Only an {@linkplain Heartbeat#application application heartbeat} measures these.
   */
  Observable<Duration> roundTripTimes();

  /**
   * The {@link ConnectionState.Connected} state of each connection at the moment it proves healthy:
   * it stayed up for {@link Builder#stableAfter stableAfter} and, when a heartbeat is configured,
   * showed life (an inbound frame) in that time or later. That is when the outage ends and the
   * retry budget is restored; a connection that drops sooner, however often, never appears here. At
   * most one value per connection.
   *
   * <p>Hot; emitted on the scheduler's thread or, when the first sign of life comes after {@code
   * stableAfter}, on OkHttp's reader thread; never signals an error; completes on {@link #close()}.
   * A subscriber that throws is logged and keeps its subscription.
   */
  Observable<ConnectionState.Connected> healthy();

  /**
   * Starts connecting if the socket is {@code Idle} or {@code Failed}; does nothing if it is
   * already connecting, connected or waiting to reconnect. After a give-up this starts a fresh
   * outage budget. Returns at once; watch {@link #states()} for progress.
   *
   * @throws IllegalStateException if the socket is closed
   */
  void connect();

  /**
   * Closes the connection gracefully (code 1000), cancels any pending attempt or wait, and stops
   * reconnecting; the socket becomes {@code Idle} and may {@link #connect()} again. Messages
   * already handed to OkHttp are sent before the close frame. Messages in the outbox stay there and
   * are sent after the next {@code connect()} (unless they expire first); messages sent while idle
   * are queued the same way. Does nothing if already idle, failed or closed.
   */
  void disconnect();

  /**
   * Terminal: closes the connection gracefully (code 1000), cancels every timer, reports messages
   * still in the outbox on {@link #undelivered()} ({@link NotDeliveredException.Reason#CLOSED}),
   * completes {@link #messages()}, {@link #roundTripTimes()}, {@link #undelivered()} and, after
   * emitting {@link ConnectionState.Closed}, {@link #states()}. Later sends return {@link
   * SendResult#REJECTED_CLOSED}. Idempotent.
   */
  @Override
  void close();

  /**
   * If the socket is waiting to reconnect, starts the next attempt now instead of after the
   * remaining delay: use it when the platform says the network came back. The outage's retry count
   * is not reset. Does nothing in any other state.
   */
  void reconnectNow();

  /**
   * Sends a text message, or queues it until it can be sent. Safe from any thread, including a
   * subscriber on OkHttp's reader thread; the messages of one thread keep their order, across
   * reconnects too. Returns at once:
   *
   * <ul>
   *   <li>{@link SendResult#SENT}: handed to the ready connection's send queue;
   *   <li>{@link SendResult#QUEUED}: held in the outbox (not connected, queue above the high-water
   *       mark, or earlier messages waiting); a queued message that is never sent is reported on
   *       {@link #undelivered()};
   *   <li>{@code REJECTED_*}: not taken, and not reported again (logged at DEBUG): the outbox is
   *       full, the message is larger than OkHttp can send (16 MiB) or, when it would have to wait,
   *       than the whole outbox, or the socket is closed.
   * </ul>
   *
   * <p>While {@code Idle} (before {@link #connect()}, after {@link #disconnect()}) and while {@code
   * Failed} (after a give-up), a message is {@code QUEUED} as while reconnecting: it waits in the
   * outbox, under its time-to-live, for the next {@code connect()}, and {@link #close()} reports it
   * on {@link #undelivered()}. A give-up itself reports what the outbox held then.
   */
  SendResult send(String text);

  /** Sends a binary message; see {@link #send(String)}. */
  SendResult send(ByteString bytes);

  /** Sends a text or binary message; see {@link #send(String)}. */
  SendResult send(Message message);

  /**
   * Sends {@code message} when subscribed (like {@link #send(Message)}) and completes when its
   * bytes have left OkHttp's send queue: written to the network, the analogue of a browser's {@code
   * bufferedAmount} going down. <b>Not proof of receipt</b>: the bytes may still be in the kernel
   * or in flight when the connection dies. Use it to pace a producer.
   *
   * <p>A queued message completes once a connection has taken it and written it. If the connection
   * dies while the message is still in OkHttp's queue (never written), it goes back to the front of
   * the outbox and is sent again on the next connection, so this still completes only when it is
   * written. Fails with a {@link NotDeliveredException} if it is never written: its reason is
   * {@code EXPIRED}, {@code DROPPED_FOR_NEWER}, {@code GAVE_UP} or {@code CLOSED} when it left the
   * outbox unsent, {@code OUTBOX_FULL}, {@code TOO_LARGE} or {@code CLOSED} when it was not taken
   * (the reasons of {@link SendResult}'s refusals). Completes on the scheduler's thread (the drain
   * that saw it leave OkHttp's queue); an observer that throws is logged and changes nothing.
   */
  @CheckReturnValue
  Completable sendWritten(Message message);

  /**
   * Acknowledged sends and request/reply on this socket, with replies matched by {@code
   * correlation}: see {@link Replies}. Each call makes a new, independent reply table (acks and RPC
   * often use different id schemes): call it once per scheme and keep the result. An inbound
   * message is offered to the tables in the order they were made; one that a table reads as a reply
   * is not emitted on {@link #messages()}.
   *
   * @throws NullPointerException if {@code correlation} is null
   */
  Replies replies(Correlation correlation);

  /**
   * Messages the socket accepted with {@link #send} and will not send, each as a {@link
   * NotDeliveredException} that carries the message and its reason: queued ones, and {@link
   * SendResult#SENT} ones that a connection died without writing (they wait in the outbox again),
   * when they expired ({@code EXPIRED}), were dropped for a newer one ({@code DROPPED_FOR_NEWER}),
   * the socket gave up ({@code GAVE_UP}, with the {@link GaveUpException} as cause) or was closed
   * ({@code CLOSED}). Messages of {@link #sendWritten} and of {@link Replies} are reported to their
   * own observer instead. Hot; emitted on the thread that made the decision; completes on {@link
   * #close()} after reporting what was still queued.
   */
  Observable<NotDeliveredException> undelivered();

  /**
   * Configures a {@link ReconnectingSocket}. Every setter validates its argument at once and throws
   * {@link IllegalArgumentException} or {@link NullPointerException} with a message that says what
   * was expected.
   */
  final class Builder {
    /** {@link #sendBufferSize} not set: derived from the heartbeat's timeout. */
    private static final int SEND_BUFFER_FROM_HEARTBEAT = -1;

    /** Bytes of send buffer asked for per second of heartbeat timeout (see sendBufferSize). */
    private static final int SEND_BUFFER_PER_TIMEOUT_SECOND = 16 * 1024;

    /** Jitter for every socket built without {@link #random}. */
    private static final Random SHARED_RANDOM = new Random();

    private static final int MIN_SEND_BUFFER = 16 * 1024;
    private static final int MAX_SEND_BUFFER = 1024 * 1024;
    private static final long DEFAULT_HIGH_WATER_MARK = 1L << 20;
    private static final long OKHTTP_QUEUE_LIMIT = 16L << 20;

    private final Supplier<Request> requests;
    private @Nullable OkHttpClient client;
    private Scheduler scheduler = Schedulers.computation();
    private Heartbeat heartbeat = Heartbeat.defaults();
    private RetryPolicy retryPolicy = Backoff.defaults();
    private Predicate<? super Throwable> retryIf = Failures::isRetryable;
    private Duration retryAfterCeiling = Duration.ofMinutes(5);
    private Duration stableAfter = Duration.ofSeconds(5);
    private Duration attemptTimeout = Duration.ofSeconds(20);
    private @Nullable Function<? super Session, ? extends Completable> onReady;
    private @Nullable Random random;
    private int sendBufferSize = SEND_BUFFER_FROM_HEARTBEAT;
    private Outbox outbox = Outbox.defaults();
    private long highWaterMark = DEFAULT_HIGH_WATER_MARK;

    Builder(Supplier<Request> requests) {
      this.requests = requests;
    }

    /**
     * The OkHttp client to connect with. Default: a client shared by every socket built without
     * one, whose dispatcher has no limit on concurrent calls.
     *
     * <p>OkHttp's {@code Dispatcher} counts each open WebSocket against {@code maxRequests} (64 by
     * default) for the socket's whole life: the 65th socket waits silently, and plain HTTP calls on
     * that client starve too. If your client opens many sockets, raise {@code maxRequests} on its
     * dispatcher. Each open socket also holds one dispatcher thread (OkHttp's reader); on JDK 21+ a
     * dispatcher built with {@code Executors.newVirtualThreadPerTaskExecutor()} makes those threads
     * virtual (it does not lift the 64 limit). Lifeline derives its own client from yours (same
     * pool and dispatcher) to count bytes on its sockets and to set the protocol ping interval.
     */
    public Builder client(OkHttpClient client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    /**
     * The scheduler for heartbeats, backoff delays and deadlines, and whose clock the socket reads.
     * Default {@link Schedulers#computation()}. Pass a {@code TestScheduler} to test in virtual
     * time.
     */
    public Builder scheduler(Scheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** How liveness is checked. Default {@code Heartbeat.protocol(15 s, 10 s)}. */
    public Builder heartbeat(Heartbeat heartbeat) {
      this.heartbeat = Objects.requireNonNull(heartbeat, "heartbeat");
      return this;
    }

    /**
     * How long to wait between attempts and when to give up. Default {@link Backoff#defaults()}: 2
     * s doubling to 30 s, jitter 0.5 (the first retry after 0–2 s), unlimited retries.
     */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /**
     * Which failures are retried; the others make the socket give up at once with a {@link
     * TerminalFailureException}. Default {@link Failures#isRetryable(Throwable)}. Runs on the
     * thread that processes the socket's events.
     */
    public Builder retryIf(Predicate<? super Throwable> retryable) {
      this.retryIf = Objects.requireNonNull(retryable, "retryable");
      return this;
    }

    /**
     * The longest a server's {@code Retry-After} may make the socket wait. Default 5 minutes.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder retryAfterCeiling(Duration ceiling) {
      this.retryAfterCeiling = requireNonNegative("retryAfterCeiling", ceiling);
      return this;
    }

    /**
     * How long a connection must stay up (and, with a heartbeat, have received something) before it
     * counts as healthy and the outage's retry budget is restored. Default 5 s.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder stableAfter(Duration stableAfter) {
      this.stableAfter = requireNonNegative("stableAfter", stableAfter);
      return this;
    }

    /**
     * The deadline of one attempt, from the moment it starts until the ready hook completes:
     * dispatcher queue, TCP, TLS, HTTP upgrade and hook together. Default 20 s. An attempt that
     * misses it fails with {@link AttemptTimeoutException}. With the default client this deadline
     * is the one that ends an attempt; with your own {@link #client client}, its connect and read
     * timeouts (OkHttp's default: 10 s each) may end one earlier, with OkHttp's {@code
     * SocketTimeoutException} as the cause.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder attemptTimeout(Duration attemptTimeout) {
      Objects.requireNonNull(attemptTimeout, "attemptTimeout");
      if (attemptTimeout.isNegative() || attemptTimeout.isZero()) {
        throw new IllegalArgumentException("attemptTimeout must be > 0 but was " + attemptTimeout);
      }
      this.attemptTimeout = attemptTimeout;
      return this;
    }

    /**
     * A hook that runs on every (re)connect after the WebSocket opened and before the socket
     * becomes {@code Connected}: authenticate, resubscribe. The attempt succeeds when the returned
     * {@code Completable} completes, and fails with a {@link ReadyHookException} if it errors or
     * the function throws. Called on OkHttp's thread that opened the connection or the thread
     * processing the socket's events. Default: none.
     */
    public Builder onReady(Function<? super Session, ? extends Completable> hook) {
      this.onReady = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** The default send buffer for {@code heartbeat}: see {@link #sendBufferSize}. */
    static int sendBufferFor(Heartbeat heartbeat) {
      Duration timeout;
      if (heartbeat instanceof Heartbeat.Protocol p) {
        timeout = p.timeout();
      } else if (heartbeat instanceof Heartbeat.Application a) {
        timeout = a.timeout();
      } else {
        return 0; // no ping can be stuck behind the buffer
      }
      long bytes = timeout.toMillis() * SEND_BUFFER_PER_TIMEOUT_SECOND / 1000;
      return (int) Math.max(MIN_SEND_BUFFER, Math.min(MAX_SEND_BUFFER, bytes));
    }

    /**
     * The operating system's send buffer ({@code SO_SNDBUF}) Lifeline asks for on its sockets, in
     * bytes; 0 leaves the system default. Default: 16 KiB per second of the heartbeat's timeout,
     * between 16 KiB and 1 MiB (160 KiB with the default heartbeat's 10 s); the system default when
     * the heartbeat sends no pings ({@link Heartbeat#none()}, {@link Heartbeat#passive}).
     *
     * <p>Why it is bounded: bytes in the kernel's send buffer have left OkHttp, so nothing above
     * the kernel can see that a heartbeat ping is still waiting behind them. A system default
     * buffer grows to megabytes; behind a slow uplink a ping would then wait many seconds before it
     * even leaves the machine, and a healthy link would be declared dead. With a bounded buffer,
     * large sends stay in OkHttp's queue, where the heartbeat sees them draining, and the kernel
     * holds at most this much (Linux doubles the value asked for) ahead of a ping: where the slow
     * hop pushes back on this socket (TCP backpressure reaches the client), a link is recognised as
     * alive down to about {@code 2 × sendBufferSize / timeout} bytes per second, 32 KiB/s with the
     * default whatever the timeout. A hop that reads eagerly into a large buffer (a buffering
     * proxy) hides its queue from the client: there, give the heartbeat a timeout of at least the
     * largest message ÷ the slowest uplink.
     *
     * <p>The price is outbound throughput on long paths: at most about {@code 2 × sendBufferSize /
     * round-trip time} (160 KiB: 6.4 MB/s at 50 ms). Too small a buffer also costs throughput on
     * fast paths: on loopback, 16 KiB cut a pipelined echo of small messages to 0.84 of raw
     * OkHttp's rate (see BENCHMARKS.md). Inbound traffic is not affected. A socket that uploads
     * bulk data over long paths may raise it, or pass 0, and give its heartbeat a longer timeout.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder sendBufferSize(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException(
            "sendBufferSize must be >= 0 (0 = system default) but was " + bytes);
      }
      this.sendBufferSize = bytes;
      return this;
    }

    /**
     * How many messages are held, and for how long, while they cannot be sent. Default {@link
     * Outbox#defaults()}: 1 000 messages, 4 MiB, no time-to-live, refuse new ones when full.
     */
    public Builder outbox(Outbox outbox) {
      this.outbox = Objects.requireNonNull(outbox, "outbox");
      return this;
    }

    /**
     * The most payload bytes Lifeline keeps in OkHttp's send queue; later messages wait in the
     * outbox and follow as the queue drains. OkHttp closes a socket whose queue would pass 16 MiB;
     * this keeps Lifeline's own sends well under that. A single message larger than the mark is
     * still sent once the queue is empty. Default 1 MiB.
     *
     * @throws IllegalArgumentException unless {@code 1 <= bytes <= 16 MiB}
     */
    public Builder highWaterMark(long bytes) {
      if (bytes < 1 || bytes > OKHTTP_QUEUE_LIMIT) {
        throw new IllegalArgumentException(
            "highWaterMark must be in [1, 16 MiB] (OkHttp's queue limit) but was " + bytes);
      }
      this.highWaterMark = bytes;
      return this;
    }

    /**
     * The source of randomness for backoff jitter. Default: one {@link Random} shared by every
     * socket ({@code Random} is thread-safe; retries are rare enough that sharing it costs
     * nothing).
     */
    public Builder random(Random random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** Builds the socket, {@code Idle}. */
    public ReconnectingSocket build() {
      return new RealReconnectingSocket(config());
    }

    static {
      BuilderAccess.install(Builder::config);
    }

    /** The one place a configuration is made. */
    private Config config() {
      return new Config(
          requests,
          client != null ? client : DefaultClient.get(),
          scheduler,
          heartbeat,
          retryPolicy,
          retryIf,
          retryAfterCeiling,
          stableAfter,
          attemptTimeout,
          onReady,
          random != null ? random : SHARED_RANDOM,
          sendBufferSize == SEND_BUFFER_FROM_HEARTBEAT ? sendBufferFor(heartbeat) : sendBufferSize,
          outbox,
          highWaterMark);
    }

    private static Duration requireNonNegative(String name, Duration d) {
      Objects.requireNonNull(d, name);
      if (d.isNegative()) throw new IllegalArgumentException(name + " must be >= 0 but was " + d);
      return d;
    }
  }

  private static HttpUrl parseUrl(String url) {
    Objects.requireNonNull(url, "url");
    String lower = url.toLowerCase(Locale.ROOT);
    String httpUrl;
    if (lower.startsWith("ws:")) {
      httpUrl = "http:" + url.substring(3);
    } else if (lower.startsWith("wss:")) {
      httpUrl = "https:" + url.substring(4);
    } else if (lower.startsWith("http:") || lower.startsWith("https:")) {
      httpUrl = url;
    } else {
      throw new IllegalArgumentException(
          "expected a ws://, wss://, http:// or https:// URL but was: " + redactForError(url));
    }
    HttpUrl parsed = HttpUrl.parse(httpUrl);
    if (parsed == null) {
      throw new IllegalArgumentException("not a valid URL: " + redactForError(url));
    }
    return parsed;
  }

  /** Keeps tokens out of exception messages: drops everything after '?' or '#', and user info. */
  private static String redactForError(String url) {
    String s = url;
    int cut = s.length();
    for (char c : new char[] {'?', '#'}) {
      int i = s.indexOf(c);
      if (i >= 0) cut = Math.min(cut, i);
    }
    s = s.substring(0, cut);
    int at = s.indexOf('@');
    int scheme = s.indexOf("://");
    if (at >= 0 && scheme >= 0 && at > scheme) s = s.substring(0, scheme + 3) + s.substring(at + 1);
    return s;
  }
}
