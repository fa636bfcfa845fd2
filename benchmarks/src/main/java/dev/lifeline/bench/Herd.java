package dev.lifeline.bench;

import static dev.lifeline.bench.Markdown.f;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.disposables.CompositeDisposable;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import okhttp3.OkHttpClient;

/**
 * The thundering herd: many Lifeline clients with every default are connected to the server, which
 * then restarts, and the reconnects are counted per 100 ms window from the moment the server
 * listens again. Two restarts: the port closed for a few seconds, then an immediate restart. Raw
 * OkHttp does not reconnect, so it has no row here.
 */
final class Herd implements Workload {
  private static final long WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  private static final double TARGET_SHARE = 0.10;

  /** Lifeline's default {@code stableAfter}: after it, a connection that heard back is healthy. */
  private static final Duration STABLE_AFTER = Duration.ofSeconds(5);

  private static final Duration HEALTH_MARGIN = Duration.ofSeconds(1);
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(90);
  private static final String HELLO = "hello";
  private static final String BARS = "▁▂▃▄▅▆▇█";

  /** The histogram shows the first seconds window by window, the rest summed up. */
  private static final long DETAIL_SECONDS = 10;

  /** One restart: how long the port stays closed. */
  private record Variant(String label, Duration closedFor) {}

  private static final List<Variant> VARIANTS =
      List.of(
          new Variant("(a) port closed 5 s", Duration.ofSeconds(5)),
          new Variant("(b) immediate restart", Duration.ZERO));

  private final int size;

  Herd(boolean quick) {
    size = quick ? 100 : 1_000;
  }

  @Override
  public String name() {
    return "herd";
  }

  /**
   * What one restart produced: reconnect and attempt times in ns from the server's start (attempts
   * before it were refused); how long the port was closed, when each client saw the drop (ms after
   * the stop command was sent) and how long each successful attempt took (ms).
   */
  private record Outcome(
      Variant variant,
      List<Long> reconnects,
      List<Long> attempts,
      long handshakes,
      int freshOutages,
      double closedMillis,
      Stats dropSeen,
      Stats attemptTook) {
    long allBack() {
      return reconnects.stream().mapToLong(Long::longValue).max().orElseThrow();
    }

    /** Reconnects per 100 ms window from the start, by window index. */
    TreeMap<Long, Integer> reconnectWindows() {
      return windows(reconnects);
    }

    TreeMap<Long, Integer> attemptWindows() {
      return windows(attempts.stream().filter(t -> t >= 0).toList());
    }

    long refused() {
      return attempts.stream().filter(t -> t < 0).count();
    }

    int peak() {
      return reconnectWindows().values().stream().mapToInt(Integer::intValue).max().orElse(0);
    }

    private static TreeMap<Long, Integer> windows(List<Long> times) {
      TreeMap<Long, Integer> counts = new TreeMap<>();
      for (long t : times) counts.merge(Math.floorDiv(t, WINDOW_NANOS), 1, Integer::sum);
      return counts;
    }
  }

  @Override
  public String run(Bench bench) throws Exception {
    OkHttpClient client = bench.client();
    ServerProcess server = bench.server();
    List<Outcome> outcomes = new ArrayList<>();
    long t0 = System.nanoTime();
    try (Fleet fleet = new Fleet(client, server.url("/herd"), size)) {
      fleet.connect();
      fleet.awaitHealthy();
      bench.progress(
          f("herd: %d clients connected in %.1f s", size, (System.nanoTime() - t0) / 1e9));
      for (Variant v : VARIANTS) {
        Outcome o = restart(server, fleet, v);
        outcomes.add(o);
        bench.progress(f("herd: %s: all back after %.0f ms", v.label(), o.allBack() / 1e6));
      }
    }
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
    OpenConnections.awaitNone(server);
    return report(outcomes);
  }

  /**
   * Stops the server, keeps the port closed for the variant's time, starts it, and waits until the
   * whole herd is back and healthy again (the server's handshake count is read only then: it may
   * lag a client's {@code Connected} by a moment).
   */
  private Outcome restart(ServerProcess server, Fleet fleet, Variant v)
      throws IOException, InterruptedException, TimeoutException {
    long handshakes = Long.parseLong(server.command("handshakes"));
    int mark = fleet.mark();
    long asked = System.nanoTime();
    long stopped = server.commandNanos("stop");
    if (!v.closedFor().isZero()) {
      fleet.await(() -> fleet.connectedCount == 0, SETTLE_TIMEOUT, "every client to see the drop");
      long left = stopped + v.closedFor().toNanos() - System.nanoTime();
      if (left > 0) TimeUnit.NANOSECONDS.sleep(left);
    }
    long started = server.commandNanos("start");
    fleet.await(() -> fleet.allConnectedSince(stopped), SETTLE_TIMEOUT, "every client to return");
    fleet.awaitHealthy();
    handshakes = Long.parseLong(server.command("handshakes")) - handshakes;
    List<Long> reconnects = new ArrayList<>();
    List<Long> attempts = new ArrayList<>();
    List<Double> dropSeen = new ArrayList<>();
    List<Double> attemptTook = new ArrayList<>();
    long[] attemptStarted = new long[size];
    boolean[] firstWait = new boolean[size];
    int fresh = 0;
    for (Fleet.Event e : fleet.eventsSince(mark)) {
      int i = e.client();
      if (e.state() instanceof ConnectionState.Connected) {
        reconnects.add(e.nanos() - started);
        attemptTook.add((e.nanos() - attemptStarted[i]) / 1e6);
      } else if (e.state() instanceof ConnectionState.Connecting) {
        attempts.add(e.nanos() - started);
        attemptStarted[i] = e.nanos();
      } else if (e.state() instanceof ConnectionState.WaitingToReconnect w && !firstWait[i]) {
        firstWait[i] = true;
        dropSeen.add((e.nanos() - asked) / 1e6);
        if (w.retry() == 1) fresh++;
      }
    }
    return new Outcome(
        v,
        reconnects,
        attempts,
        handshakes,
        fresh,
        (started - stopped) / 1e6,
        Stats.of(dropSeen),
        Stats.of(attemptTook));
  }

  /**
   * The herd: its sockets, their states, and waiting on conditions over them. Each socket sends one
   * message on every {@code Connected}; its echo is the sign of life that, after {@code
   * stableAfter}, makes the connection healthy and restores the retry budget, so that each restart
   * meets clients at their first backoff step.
   */
  private static final class Fleet implements AutoCloseable {
    /** One state a socket went through, at {@link System#nanoTime()}. */
    record Event(long nanos, int client, ConnectionState state) {}

    private final ReconnectingSocket[] sockets;
    private final CompositeDisposable subscriptions = new CompositeDisposable();
    private final boolean[] connected; // guarded by this
    private final boolean[] heard; // guarded by this: echo received since the last Connected
    private final long[] connectedAt; // guarded by this
    private final List<Event> events = new ArrayList<>(); // guarded by this
    int connectedCount; // guarded by this
    private int heardCount; // guarded by this

    Fleet(OkHttpClient client, String url, int size) {
      sockets = new ReconnectingSocket[size];
      connected = new boolean[size];
      heard = new boolean[size];
      connectedAt = new long[size];
      for (int i = 0; i < size; i++) {
        int index = i;
        sockets[i] = ReconnectingSocket.builder(url).client(client).build();
        subscriptions.add(sockets[i].states().subscribe(s -> onState(index, s)));
        subscriptions.add(sockets[i].messages().subscribe(m -> onMessage(index)));
      }
    }

    void connect() {
      for (ReconnectingSocket s : sockets) s.connect();
    }

    private void onState(int i, ConnectionState s) {
      long now = System.nanoTime();
      boolean up = s instanceof ConnectionState.Connected;
      synchronized (this) {
        events.add(new Event(now, i, s));
        if (up != connected[i]) {
          connected[i] = up;
          connectedCount += up ? 1 : -1;
        }
        if (up) connectedAt[i] = now;
        if (heard[i]) {
          heard[i] = false;
          heardCount--;
        }
        notifyAll();
      }
      if (up) sockets[i].send(HELLO);
    }

    private synchronized void onMessage(int i) {
      if (connected[i] && !heard[i]) {
        heard[i] = true;
        heardCount++;
        notifyAll();
      }
    }

    /** Whether every socket is connected, each since after {@code nanos}. */
    synchronized boolean allConnectedSince(long nanos) {
      if (connectedCount < sockets.length) return false;
      for (long t : connectedAt) {
        if (t <= nanos) return false;
      }
      return true;
    }

    /** Waits until {@code condition} (read under this lock) holds. */
    synchronized void await(BooleanSupplier condition, Duration timeout, String what)
        throws InterruptedException, TimeoutException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) throw new TimeoutException("herd: waited " + timeout + " for " + what);
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }

    /**
     * Waits until every socket is connected and has heard back, then until the last of them has
     * been up for {@code stableAfter} (and a margin for the health check to run).
     */
    void awaitHealthy() throws InterruptedException, TimeoutException {
      await(
          () -> connectedCount == sockets.length && heardCount == sockets.length,
          SETTLE_TIMEOUT,
          "every client to connect and hear back");
      long last;
      synchronized (this) {
        last = 0;
        for (long t : connectedAt) last = Math.max(last, t);
      }
      long left = last + STABLE_AFTER.plus(HEALTH_MARGIN).toNanos() - System.nanoTime();
      if (left > 0) TimeUnit.NANOSECONDS.sleep(left);
    }

    synchronized int mark() {
      return events.size();
    }

    synchronized List<Event> eventsSince(int mark) {
      return new ArrayList<>(events.subList(mark, events.size()));
    }

    @Override
    public void close() {
      for (ReconnectingSocket s : sockets) s.close();
      subscriptions.dispose();
    }
  }

  private String report(List<Outcome> outcomes) {
    Backoff backoff = Backoff.defaults();
    StringBuilder out = new StringBuilder();
    out.append("### Herd: a server restart with many clients\n\n");
    out.append(
        f(
            "%d Lifeline clients with every default (`Backoff.defaults()`, `Heartbeat.defaults()`)"
                + " on one `OkHttpClient`, connected to the server, which then restarts twice: (a)"
                + " its port closed for %d s, (b) stopped and started at once (connections dropped"
                + " either way). Reconnects (`Connected` transitions) and connection attempts"
                + " (`Connecting`) are counted per 100 ms window from the moment the server listens"
                + " again. Before each restart every client has been up for `stableAfter` and has"
                + " had a message echoed, so that its retry budget is restored and the drop meets"
                + " the first backoff step. Raw OkHttp does not reconnect by itself, so it has no"
                + " row. Target: no 100 ms window with more than %.0f %% of the herd.\n\n",
            size, VARIANTS.get(0).closedFor().toSeconds(), TARGET_SHARE * 100));
    Markdown t =
        Markdown.table(
            "Restart",
            "Busiest 100 ms window",
            "Reconnects in it",
            "All back after",
            "Attempts refused while closed",
            "Attempts after start",
            "Server handshakes",
            "First retry was retry 1",
            "Target met");
    for (Outcome o : outcomes) {
      long busiest =
          o.reconnectWindows().entrySet().stream()
              .filter(e -> e.getValue() == o.peak())
              .findFirst()
              .orElseThrow()
              .getKey();
      double share = o.peak() / (double) size;
      t.row(
          o.variant().label(),
          f("%d–%d ms", busiest * 100, busiest * 100 + 100),
          f("%d (%.1f %%)", o.peak(), share * 100),
          f("%.0f ms", o.allBack() / 1e6),
          o.refused(),
          o.attempts().size() - o.refused(),
          o.handshakes(),
          f("%d of %d", o.freshOutages(), size),
          share <= TARGET_SHARE ? "yes" : "**no**");
    }
    out.append(t).append('\n');
    out.append(
        "Where the time went: how long the port was closed (the server's stop to its start), when"
            + " the clients saw the drop (their first `WaitingToReconnect`, ms after the stop"
            + " command was sent; the server closes the connections one by one) and how long the"
            + " successful attempt took (`Connecting` to `Connected`: TCP and upgrade, including"
            + " any wait for the server and for this machine's two cores); ms, median"
            + " (min–max).\n\n");
    Markdown spent = Markdown.table("Restart", "Port closed", "Drop seen", "Successful attempt");
    for (Outcome o : outcomes) {
      spent.row(
          o.variant().label(),
          f("%.0f ms", o.closedMillis()),
          o.dropSeen().format(0),
          o.attemptTook().format(0));
    }
    out.append(spent).append('\n');
    out.append(
        "Reconnects per 100 ms window from the server's start, one character per window (a space"
            + " every second; after 10 s, a sum), bar height relative to the busiest window:\n\n"
            + "```\n");
    for (Outcome o : outcomes) {
      out.append(f("%-22s %s  (busiest: %d)\n", o.variant().label(), sparkline(o), o.peak()));
    }
    out.append("```\n\n");
    out.append(
        "The same per second, with connection attempts (an attempt at or after the start is a"
            + " handshake, or one still on its way):\n\n");
    Markdown s =
        Markdown.table("Restart", "Second", "Reconnects", "Busiest window in it", "Attempts");
    for (Outcome o : outcomes) {
      TreeMap<Long, Integer> a = o.attemptWindows();
      long end =
          Math.floorDiv(Math.max(o.reconnectWindows().lastKey(), a.isEmpty() ? 0 : a.lastKey()), 10)
              + 1;
      for (long sec = 0; sec < Math.min(end, DETAIL_SECONDS); sec++) {
        spanRow(s, o, sec, sec + 1);
      }
      if (end > DETAIL_SECONDS) spanRow(s, o, DETAIL_SECONDS, end);
    }
    out.append(s).append('\n');
    double first = backoff.initialDelay().toMillis();
    double low = first * (1 - Recovery.firstRetrySpread(backoff));
    double band = first - low;
    out.append(
        f(
            "Why: after a drop the first retry waits %.0f–%.0f ms (initial delay %.0f ms, jitter"
                + " %.1f, doubled for the first retry), a band of %.0f ms, or %.0f windows of 100 ms. When the server is back"
                + " before that band ends (an immediate restart), the whole herd lands in it, at"
                + " best 100 / %.0f = %.0f %% of the herd per window plus the randomness of the"
                + " draws. When the port stays closed longer, the retries are refused and each"
                + " client moves up the backoff (retry 2 waits %.0f–%.0f ms, retry 3 %.0f–%.0f"
                + " ms), so the clients come back spread over the later, wider steps.",
            low,
            first,
            first,
            backoff.jitter(),
            band,
            band / 100,
            band,
            100 * 100 / band,
            backoff.baseDelay(2).toMillis() * (1 - backoff.jitter()),
            (double) backoff.baseDelay(2).toMillis(),
            backoff.baseDelay(3).toMillis() * (1 - backoff.jitter()),
            (double) backoff.baseDelay(3).toMillis()));
    for (Outcome o : outcomes) {
      out.append(
          f(
              " Measured for %s: the clients saw the drop %.0f–%.0f ms after the stop command, a"
                  + " successful"
                  + " attempt took %.0f ms (median; at most %.0f ms), and the last client was back"
                  + " %.0f ms after the start.",
              o.variant().label(),
              o.dropSeen().min(),
              o.dropSeen().max(),
              o.attemptTook().median(),
              o.attemptTook().max(),
              o.allBack() / 1e6));
    }
    out.append('\n');
    return out.toString();
  }

  /** A row of the per-second table: seconds {@code from} to {@code to} after the start. */
  private void spanRow(Markdown table, Outcome o, long from, long to) {
    TreeMap<Long, Integer> r = o.reconnectWindows();
    TreeMap<Long, Integer> a = o.attemptWindows();
    int reconnects = 0;
    int peak = 0;
    int attempts = 0;
    for (long w = from * 10; w < to * 10; w++) {
      int n = r.getOrDefault(w, 0);
      reconnects += n;
      peak = Math.max(peak, n);
      attempts += a.getOrDefault(w, 0);
    }
    table.row(
        o.variant().label(),
        f("%d–%d s", from, to),
        reconnects,
        f("%d (%.1f %%)", peak, peak * 100.0 / size),
        attempts);
  }

  /**
   * One bar per 100 ms window from the start, for the first {@link #DETAIL_SECONDS} seconds at most
   * (the rest summed up), a space every second.
   */
  private static String sparkline(Outcome o) {
    TreeMap<Long, Integer> r = o.reconnectWindows();
    int peak = o.peak();
    long shown = Math.min(r.lastKey() + 1, DETAIL_SECONDS * 10);
    StringBuilder line = new StringBuilder();
    for (long w = 0; w < shown; w++) {
      if (w > 0 && w % 10 == 0) line.append(' ');
      int n = r.getOrDefault(w, 0);
      line.append(
          n == 0 ? '·' : BARS.charAt((int) Math.ceil(n * BARS.length() / (double) peak) - 1));
    }
    int rest = r.tailMap(shown).values().stream().mapToInt(Integer::intValue).sum();
    if (rest > 0) line.append(f(" … %d more by %.1f s", rest, o.allBack() / 1e9));
    return line.toString();
  }
}
