package dev.lifeline.fault;

import static java.util.concurrent.TimeUnit.NANOSECONDS;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback between a client and an upstream server, whose faults tests change while
 * connections are live. Faults apply to existing and future connections until changed.
 *
 * <p>What each fault does to the sockets, and what the peers observe:
 *
 * <ul>
 *   <li>{@link #blackHole}: the proxy stops <b>reading</b> from the source socket and stops writing
 *       bytes it already read (they are held, not dropped). No FIN, no RST: both peers see an open
 *       connection that carries nothing. Proxy sockets have small (8 KiB) kernel buffers, so the
 *       sender's writes soon block on TCP backpressure; its own send buffer still absorbs what the
 *       kernel lets it (on Linux loopback, autotuned up to megabytes unless the sender sets {@code
 *       SO_SNDBUF}).
 *   <li>{@link #latency}: each chunk is delivered one-way-delay after the proxy read it, in order.
 *       A delay line, not a stall: bytes keep being read meanwhile, so a burst is delayed, not
 *       spread.
 *   <li>{@link #throttle}: the proxy reads at most {@code bytesPerSecond / 20} bytes at a time and
 *       paces its reads to the rate, so the receiver sees a steady trickle and the sender is slowed
 *       by TCP backpressure. The rate is per connection and direction.
 *   <li>{@link #throttleBuffered}: like a buffering middlebox, the proxy reads <b>eagerly</b> (up
 *       to {@code 16 MiB} held per direction) and forwards at most {@code bytesPerSecond}: the
 *       sender's writes never meet backpressure, so it cannot see the slow hop at all.
 *   <li>{@link #cutWithFin}: every current connection is closed in both directions; each peer reads
 *       EOF. (If the proxy holds unread bytes from a peer, e.g. black-holed ones, the kernel
 *       follows the FIN with a reset.)
 *   <li>{@link #cutWithRst}: every current connection is closed with {@code SO_LINGER} 0; each peer
 *       sees "Connection reset".
 *   <li>{@link #refuseNew}: new connections complete the TCP handshake (the kernel does that before
 *       {@code accept}), then are reset at once; the client sees a reset on its first read or
 *       write.
 *   <li>{@link #blackHoleNew}: new connections are accepted and held open, never connected
 *       upstream, never read, never answered, until a cut or {@link #close()}.
 * </ul>
 *
 * <p>Without faults the proxy forwards faithfully: a FIN from one side is forwarded as a
 * half-close, a reset from one side (or a failed write to it) resets the other side, and a client
 * whose upstream connection fails is reset.
 *
 * <p>Threads: one acceptor, and per forwarded connection a reader and a writer per direction, all
 * daemon threads named {@code fault-proxy-<port>-...}. {@link #close()} closes every socket and
 * joins them all. Faults are set from any thread; the pumps consult them on every chunk.
 */
public final class FaultProxy implements AutoCloseable {
  /** Which way bytes flow. */
  public enum Direction {
    /** Client to server. */
    UPSTREAM,
    /** Server to client. */
    DOWNSTREAM,
    /** Both of the above. */
    BOTH
  }

  /**
   * Something that happened to a connection, numbered from 1 in accept order. Every {@code
   * ACCEPTED} or {@code HELD} connection is followed by exactly one {@code CLOSED}; {@code REFUSED}
   * is final.
   */
  public record Event(Kind kind, int connection) {
    public enum Kind {
      /** Accepted and forwarding to upstream. */
      ACCEPTED,
      /** Accepted under {@link #blackHoleNew()} and held open. */
      HELD,
      /** Accepted under {@link #refuseNew()} and reset. */
      REFUSED,
      /** Closed, by either peer or by the proxy. */
      CLOSED
    }
  }

  private static final int SOCKET_BUFFER = 8 * 1024;
  private static final int CHUNK = 16 * 1024;

  /** Chunks in a direction's delay line; the reader blocks (and stops reading) when it is full. */
  private static final int LINE_CHUNKS = 64;

  private static final int BUFFERED_CHUNKS = (16 << 20) / CHUNK;

  private static final int CONNECT_TIMEOUT_MILLIS = 2_000;
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(5);

  private enum NewConnections {
    ACCEPT,
    REFUSE,
    BLACK_HOLE
  }

  private final InetSocketAddress upstream;
  private final ServerSocket server;
  private final Lane up = new Lane();
  private final Lane down = new Lane();
  private final AtomicInteger accepted = new AtomicInteger();
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();

  /** Live and recently finished threads; close() joins them, start() prunes the finished. */
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  private volatile NewConnections newConnections = NewConnections.ACCEPT;

  private final Set<Link> links = ConcurrentHashMap.newKeySet();

  /** Guarded by this: no link is registered, nor thread started, once it is set. */
  private boolean closed;

  private FaultProxy(InetSocketAddress upstream, ServerSocket server) {
    this.upstream = upstream;
    this.server = server;
  }

  /** Starts a proxy listening on 127.0.0.1 on an ephemeral port, forwarding to {@code upstream}. */
  public static FaultProxy start(InetSocketAddress upstream) throws IOException {
    ServerSocket server = new ServerSocket();
    server.setReceiveBufferSize(SOCKET_BUFFER); // before bind: accepted sockets inherit it
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
    FaultProxy proxy = new FaultProxy(upstream, server);
    synchronized (proxy) {
      proxy.startThread("acceptor", proxy::acceptLoop);
    }
    return proxy;
  }

  public int port() {
    return server.getLocalPort();
  }

  /** {@code ws://127.0.0.1:<port><path>}; {@code path} starts with "/". */
  public String url(String path) {
    return "ws://127.0.0.1:" + port() + path;
  }

  // --- Faults ------------------------------------------------------------------------------------

  /** Forwards nothing in {@code direction}: stops reading the source, holds what was read. */
  public void blackHole(Direction direction) {
    for (Lane lane : lanes(direction)) lane.blackHole(true);
  }

  /** Delivers every chunk {@code oneWay} after it was read; zero means no delay. */
  public void latency(Direction direction, Duration oneWay) {
    if (oneWay.isNegative()) throw new IllegalArgumentException("oneWay < 0: " + oneWay);
    for (Lane lane : lanes(direction)) lane.latency(oneWay.toNanos());
  }

  /** Reads at most {@code bytesPerSecond} per connection in {@code direction}, in small chunks. */
  public void throttle(Direction direction, long bytesPerSecond) {
    if (bytesPerSecond <= 0) {
      throw new IllegalArgumentException("bytesPerSecond <= 0: " + bytesPerSecond);
    }
    for (Lane lane : lanes(direction)) lane.throttle(bytesPerSecond);
  }

  /**
   * Reads eagerly and forwards at most {@code bytesPerSecond} per connection in {@code direction}:
   * a buffering hop, which hides its queue from the sender (no TCP backpressure reaches it).
   */
  public void throttleBuffered(Direction direction, long bytesPerSecond) {
    if (bytesPerSecond <= 0) {
      throw new IllegalArgumentException("bytesPerSecond <= 0: " + bytesPerSecond);
    }
    for (Lane lane : lanes(direction)) lane.throttleBuffered(bytesPerSecond);
  }

  /** Clears black hole, latency and throttle in {@code direction}; held bytes flow again. */
  public void resume(Direction direction) {
    for (Lane lane : lanes(direction)) lane.clear();
  }

  /** {@link #resume}s both directions and {@link #acceptNew()}s. */
  public void heal() {
    resume(Direction.BOTH);
    acceptNew();
  }

  /** Closes every current connection with a FIN each way. */
  public void cutWithFin() {
    for (Link link : links) link.close(false);
  }

  /** Closes every current connection with a reset each way. */
  public void cutWithRst() {
    for (Link link : links) link.close(true);
  }

  /** New connections are accepted and reset at once. */
  public void refuseNew() {
    newConnections = NewConnections.REFUSE;
  }

  /** New connections are accepted and held open, silent, never connected upstream. */
  public void blackHoleNew() {
    newConnections = NewConnections.BLACK_HOLE;
  }

  /** New connections are forwarded (the default). Connections already held stay held. */
  public void acceptNew() {
    newConnections = NewConnections.ACCEPT;
  }

  // --- Reporting ---------------------------------------------------------------------------------

  /** Bytes written towards their destination so far, counted just before each write. */
  public long bytesForwarded(Direction direction) {
    long sum = 0;
    for (Lane lane : lanes(direction)) sum += lane.forwarded.get();
    return sum;
  }

  /** TCP connections accepted so far, including refused and held ones. */
  public int connectionsAccepted() {
    return accepted.get();
  }

  /** Every connection event, in order; tests poll it with a timeout. */
  public BlockingQueue<Event> events() {
    return events;
  }

  /**
   * Stops accepting, closes every connection as {@link #cutWithFin()} does, and joins every thread
   * the proxy started; throws {@link IllegalStateException} naming any still alive after 5 s.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) return;
      closed = true;
    }
    closeQuietly(server);
    for (Link link : links) link.close(false);
    long deadline = System.nanoTime() + JOIN_TIMEOUT.toNanos();
    for (Thread thread : threads) {
      thread.interrupt();
      try {
        NANOSECONDS.timedJoin(thread, Math.max(1, deadline - System.nanoTime()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    List<String> alive = new ArrayList<>();
    for (Thread thread : threads) if (thread.isAlive()) alive.add(thread.getName());
    if (!alive.isEmpty()) {
      throw new IllegalStateException(
          "threads still alive " + JOIN_TIMEOUT + " after close: " + alive);
    }
  }

  // --- Internals ---------------------------------------------------------------------------------

  private List<Lane> lanes(Direction direction) {
    return switch (direction) {
      case UPSTREAM -> List.of(up);
      case DOWNSTREAM -> List.of(down);
      case BOTH -> List.of(up, down);
    };
  }

  /** Call holding this, with closed false. */
  private Thread startThread(String name, Runnable body) {
    threads.removeIf(t -> t.getState() == Thread.State.TERMINATED);
    Thread thread = new Thread(body, "fault-proxy-" + port() + "-" + name);
    thread.setDaemon(true);
    threads.add(thread);
    thread.start();
    return thread;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed; any other accept failure also ends accepting
      }
      int id = accepted.incrementAndGet();
      switch (newConnections) {
        case REFUSE -> {
          reset(client);
          events.add(new Event(Event.Kind.REFUSED, id));
        }
        case BLACK_HOLE -> register(new Link(id, client, null), Event.Kind.HELD);
        case ACCEPT -> {
          Socket target = new Socket();
          try {
            configure(client);
            configure(target); // before connect, so the window is negotiated small
            target.connect(upstream, CONNECT_TIMEOUT_MILLIS);
          } catch (IOException e) {
            events.add(new Event(Event.Kind.ACCEPTED, id));
            reset(client);
            closeQuietly(target);
            events.add(new Event(Event.Kind.CLOSED, id));
            continue;
          }
          register(new Link(id, client, target), Event.Kind.ACCEPTED);
        }
      }
    }
  }

  private void register(Link link, Event.Kind kind) {
    synchronized (this) {
      if (!closed) {
        links.add(link);
        link.start();
        // Still holding the lock, which Link.close() needs before it reports CLOSED.
        events.add(new Event(kind, link.id));
        return;
      }
    }
    closeQuietly(link.client);
    closeQuietly(link.upstream);
  }

  private static void configure(Socket socket) throws IOException {
    socket.setReceiveBufferSize(SOCKET_BUFFER);
    socket.setSendBufferSize(SOCKET_BUFFER);
    socket.setTcpNoDelay(true);
  }

  private static void reset(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (IOException ignored) {
      // already closed
    }
    closeQuietly(socket);
  }

  private static void closeQuietly(AutoCloseable closeable) {
    if (closeable == null) return;
    try {
      closeable.close();
    } catch (Exception ignored) {
      // nothing more to do
    }
  }

  /** The faults of one direction, shared by all connections. Guarded by this. */
  private static final class Lane {
    final AtomicLong forwarded = new AtomicLong();
    private boolean blackHole;
    private long latencyNanos;
    private long bytesPerSecond; // 0: unlimited
    private long bufferedBytesPerSecond; // 0: no buffering throttle

    synchronized void blackHole(boolean on) {
      blackHole = on;
      notifyAll();
    }

    synchronized void latency(long nanos) {
      latencyNanos = nanos;
      notifyAll();
    }

    synchronized void throttle(long rate) {
      bytesPerSecond = rate;
      notifyAll();
    }

    synchronized boolean buffering() {
      return bufferedBytesPerSecond != 0;
    }

    synchronized void throttleBuffered(long rate) {
      bufferedBytesPerSecond = rate;
      notifyAll();
    }

    synchronized void clear() {
      blackHole = false;
      latencyNanos = 0;
      bytesPerSecond = 0;
      bufferedBytesPerSecond = 0;
      notifyAll();
    }

    /** A writer's share of the buffering throttle: at most this much per write. */
    synchronized int writeChunk(int wanted) {
      long rate = bufferedBytesPerSecond;
      return rate == 0 ? wanted : (int) Math.max(1, Math.min(wanted, rate / 20));
    }

    /** Waits until {@code bytes} written at {@code writtenAt} are paid for at the buffered rate. */
    synchronized void awaitForwardPaced(long writtenAt, int bytes) throws InterruptedException {
      while (bufferedBytesPerSecond != 0) {
        long left = writtenAt + bytes * 1_000_000_000L / bufferedBytesPerSecond - System.nanoTime();
        if (left <= 0) return;
        NANOSECONDS.timedWait(this, left);
      }
    }

    /** How much the reader may read at once: a twentieth of a second's worth when throttled. */
    synchronized int chunkSize() {
      return bytesPerSecond == 0 ? CHUNK : (int) Math.max(1, Math.min(CHUNK, bytesPerSecond / 20));
    }

    /** Waits while black-holed. */
    synchronized void awaitOpen() throws InterruptedException {
      while (blackHole) wait();
    }

    /** Waits until {@code bytes} read at {@code readAt} have been paid for at the current rate. */
    synchronized void awaitPaced(long readAt, int bytes) throws InterruptedException {
      while (bytesPerSecond != 0) {
        long left = readAt + bytes * 1_000_000_000L / bytesPerSecond - System.nanoTime();
        if (left <= 0) return;
        NANOSECONDS.timedWait(this, left);
      }
    }

    /** Waits until a chunk read at {@code readAt} is due (latency elapsed, not black-holed). */
    synchronized void awaitDue(long readAt) throws InterruptedException {
      while (true) {
        if (blackHole) {
          wait();
          continue;
        }
        long left = readAt + latencyNanos - System.nanoTime();
        if (left <= 0) return;
        NANOSECONDS.timedWait(this, left);
      }
    }
  }

  /** Bytes read from a source at {@code readAt}; empty means the source sent FIN. */
  private record Chunk(byte[] bytes, long readAt) {}

  /** One proxied connection: the client socket and, unless held, its upstream socket. */
  private final class Link {
    final int id;
    final Socket client;
    final Socket upstream; // null when held by blackHoleNew
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicInteger finishedDirections = new AtomicInteger();
    private final List<Thread> pumps = new ArrayList<>(4); // guarded by the proxy's lock

    Link(int id, Socket client, Socket upstream) {
      this.id = id;
      this.client = client;
      this.upstream = upstream;
    }

    /** Call holding the proxy's lock. */
    void start() {
      if (upstream == null) return;
      pipe("upstream", up, client, upstream);
      pipe("downstream", down, upstream, client);
    }

    private void pipe(String name, Lane lane, Socket from, Socket to) {
      // Room for a buffering hop's eager reads (16 MiB); otherwise the reader keeps at most
      // LINE_CHUNKS in it, so that a slow writer pushes back on the sender.
      BlockingQueue<Chunk> line = new ArrayBlockingQueue<>(BUFFERED_CHUNKS);
      String prefix = "conn" + id + "-" + name;
      pumps.add(startThread(prefix + "-reader", () -> guarded(() -> read(lane, from, line))));
      pumps.add(startThread(prefix + "-writer", () -> guarded(() -> write(lane, line, to))));
    }

    private void read(Lane lane, Socket from, BlockingQueue<Chunk> line)
        throws IOException, InterruptedException {
      InputStream in = from.getInputStream();
      byte[] buffer = new byte[CHUNK];
      while (true) {
        lane.awaitOpen(); // a black hole stops reading, so the sender meets backpressure
        int n = in.read(buffer, 0, lane.chunkSize());
        long readAt = System.nanoTime();
        synchronized (line) {
          while (!lane.buffering() && line.size() >= LINE_CHUNKS) line.wait();
        }
        line.put(new Chunk(n < 0 ? new byte[0] : Arrays.copyOf(buffer, n), readAt));
        if (n < 0) return;
        lane.awaitPaced(readAt, n);
      }
    }

    private void write(Lane lane, BlockingQueue<Chunk> line, Socket to)
        throws IOException, InterruptedException {
      OutputStream out = to.getOutputStream();
      while (true) {
        Chunk chunk = line.take();
        synchronized (line) {
          line.notifyAll(); // room for a reader that keeps the line short
        }
        lane.awaitDue(chunk.readAt());
        if (chunk.bytes().length == 0) {
          to.shutdownOutput(); // forward the FIN as a half-close
          if (finishedDirections.incrementAndGet() == 2) close(false);
          return;
        }
        byte[] bytes = chunk.bytes();
        for (int offset = 0; offset < bytes.length; ) {
          int n = lane.writeChunk(bytes.length - offset);
          long writtenAt = System.nanoTime();
          lane.forwarded.addAndGet(n);
          out.write(bytes, offset, n);
          offset += n;
          lane.awaitForwardPaced(writtenAt, n);
        }
      }
    }

    /** Runs a pump; an I/O failure on either socket resets the whole connection. */
    private void guarded(IoTask task) {
      try {
        task.run();
      } catch (IOException e) {
        close(true);
      } catch (InterruptedException e) {
        // closing
      }
    }

    /** Closes both sockets, with a reset or a FIN; stops this link's pumps. Idempotent. */
    void close(boolean reset) {
      if (!closing.compareAndSet(false, true)) return;
      for (Socket socket : new Socket[] {client, upstream}) {
        if (socket == null) continue;
        if (reset) {
          reset(socket);
        } else {
          try {
            socket.shutdownOutput();
          } catch (IOException ignored) {
            // already shut down or reset
          }
          closeQuietly(socket);
        }
      }
      synchronized (FaultProxy.this) {
        for (Thread pump : pumps) pump.interrupt();
      }
      links.remove(this);
      events.add(new Event(Event.Kind.CLOSED, id));
    }
  }

  private interface IoTask {
    void run() throws IOException, InterruptedException;
  }
}
