package dev.lifeline.bench;

import static dev.lifeline.bench.Markdown.f;

import dev.lifeline.ConnectionState;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.disposables.Disposable;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

/**
 * How long a black-holed connection goes unnoticed: the server stops reading and writing on every
 * connection without closing any, and each client is timed from that moment to the moment it
 * reports the connection dead. Lifeline with an application heartbeat, Lifeline with a protocol
 * heartbeat and raw OkHttp with {@code pingInterval} take turns in every round, each on a fresh
 * connection, all with the same interval and timeout.
 */
final class Detection implements Workload {
  private static final Duration INTERVAL = Duration.ofSeconds(1);
  private static final Duration TIMEOUT = Duration.ofSeconds(1);
  private static final double TARGET_MS = 1.1 * (INTERVAL.toMillis() + TIMEOUT.toMillis());
  private static final Duration HEALTHY_MIN = Duration.ofMillis(1_000);
  private static final Duration HEALTHY_SPREAD = Duration.ofMillis(1_000);
  private static final Duration EVENT_TIMEOUT = Duration.ofSeconds(10);
  private static final String PING = "ping";
  private static final long SEED = 42;

  /** The clients compared, in their order within the first round. */
  private enum Client {
    APPLICATION("Lifeline, `Heartbeat.application(1 s, 1 s, ping, isPong)`", true),
    PROTOCOL("Lifeline, `Heartbeat.protocol(1 s, 1 s)`", true),
    RAW("raw OkHttp, `pingInterval(1 s)`", false);

    final String label;
    final boolean lifeline;

    Client(String label, boolean lifeline) {
      this.label = label;
      this.lifeline = lifeline;
    }
  }

  /**
   * Creates the workload. The number of rounds comes from {@link Bench}, already smaller in a quick
   * run, so {@code quick} changes nothing else here.
   */
  Detection(boolean quick) {}

  @Override
  public String name() {
    return "detection";
  }

  /** One measurement: time from the mute to the client's verdict, and what it reported. */
  private record Trial(double millis, String cause) {}

  @Override
  public String run(Bench bench) throws Exception {
    OkHttpClient base = bench.client();
    OkHttpClient pinging = base.newBuilder().pingInterval(INTERVAL).build();
    String url = bench.server().url("/detection");
    Client[] clients = Client.values();
    Map<Client, List<Duration>> healthy = healthyPhases(clients, bench.rounds());
    Map<Client, List<Trial>> trials = new EnumMap<>(Client.class);
    int total = bench.warmupRounds() + bench.rounds();
    for (int round = 0; round < total; round++) {
      int measured = round - bench.warmupRounds();
      for (int k = 0; k < clients.length; k++) {
        Client client = clients[(round + k) % clients.length];
        Duration phase =
            measured < 0
                ? HEALTHY_MIN.plus(HEALTHY_SPREAD.dividedBy(2))
                : healthy.get(client).get(measured);
        Trial trial = trial(bench.server(), client, base, pinging, url, phase);
        if (measured >= 0) trials.computeIfAbsent(client, c -> new ArrayList<>()).add(trial);
      }
      bench.progress(f("detection: round %d/%d done", round + 1, total));
    }
    base.dispatcher().executorService().shutdown();
    base.connectionPool().evictAll();
    OpenConnections.awaitNone(bench.server());
    return report(bench, trials);
  }

  /**
   * Per client, one healthy time per round, evenly spread over one heartbeat interval so that the
   * mute falls at every phase of the heartbeat, in a shuffled (but repeatable) order.
   */
  private static Map<Client, List<Duration>> healthyPhases(Client[] clients, int rounds) {
    Random random = new Random(SEED);
    Map<Client, List<Duration>> phases = new EnumMap<>(Client.class);
    for (Client c : clients) {
      List<Duration> list = new ArrayList<>();
      for (int i = 0; i < rounds; i++) {
        long nanos = (long) (HEALTHY_SPREAD.toNanos() * (i + 0.5) / rounds);
        list.add(HEALTHY_MIN.plusNanos(nanos));
      }
      Collections.shuffle(list, random);
      phases.put(c, list);
    }
    return phases;
  }

  /**
   * Opens a connection of {@code client}, lets it run healthy for {@code healthy}, mutes the
   * server, waits for the client to call the connection dead, closes it, and unmutes.
   */
  private static Trial trial(
      ServerProcess server,
      Client client,
      OkHttpClient base,
      OkHttpClient pinging,
      String url,
      Duration healthy)
      throws Exception {
    try (Watched watched =
        client.lifeline ? new Lifeline(client, base, url) : new Raw(pinging, url)) {
      watched.awaitOpen();
      Thread.sleep(healthy.toMillis());
      if (watched.deadAt() != 0) {
        throw new IllegalStateException(
            client.label + ": dropped while healthy: " + watched.cause());
      }
      long muted = server.commandNanos("mute");
      long dead = watched.awaitDead();
      return new Trial((dead - muted) / 1e6, watched.cause());
    } finally {
      server.command("unmute");
    }
  }

  /** A connection under watch: open, then dead at some moment, with a cause. */
  private abstract static class Watched implements AutoCloseable {
    private final CountDownLatch open = new CountDownLatch(1);
    private final CountDownLatch dead = new CountDownLatch(1);
    private volatile long deadAt;
    private volatile String cause = "";

    void opened() {
      open.countDown();
    }

    /** Records the first verdict only, with the time it was reported. */
    void died(Throwable why) {
      if (dead.getCount() == 0) return;
      deadAt = System.nanoTime();
      cause = describe(why);
      dead.countDown();
    }

    void awaitOpen() throws IOException, InterruptedException {
      if (!open.await(EVENT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException("not open within " + EVENT_TIMEOUT);
      }
      if (deadAt != 0) throw new IOException("failed to open: " + cause);
    }

    /** Returns when the connection was reported dead ({@link System#nanoTime()}). */
    long awaitDead() throws IOException, InterruptedException {
      if (!dead.await(EVENT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException("black hole not detected within " + EVENT_TIMEOUT);
      }
      return deadAt;
    }

    long deadAt() {
      return deadAt;
    }

    String cause() {
      return cause;
    }

    @Override
    public abstract void close();
  }

  /**
   * The failure's type and which check raised it: OkHttp's own pong check (a pong missing at the
   * next ping; Lifeline wraps it in a {@code HeartbeatTimeoutException}) or Lifeline's deadline.
   */
  private static String describe(Throwable failure) {
    String type = "`" + failure.getClass().getSimpleName() + "`";
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SocketTimeoutException
          && t.getMessage() != null
          && t.getMessage().startsWith("sent ping but didn't receive pong")) {
        return type + " from OkHttp's pong check";
      }
    }
    return failure instanceof HeartbeatTimeoutException ? type + " from Lifeline's deadline" : type;
  }

  /**
   * Lifeline: dead at its first {@code WaitingToReconnect}; closed at once so it does not retry.
   */
  private static final class Lifeline extends Watched {
    private final ReconnectingSocket socket;
    private final Disposable states;

    Lifeline(Client client, OkHttpClient base, String url) {
      Heartbeat heartbeat =
          client == Client.APPLICATION
              ? Heartbeat.application(
                  INTERVAL,
                  TIMEOUT,
                  () -> Message.text(PING),
                  m -> m instanceof Message.Text t && t.text().equals(PING))
              : Heartbeat.protocol(INTERVAL, TIMEOUT);
      socket = ReconnectingSocket.builder(url).client(base).heartbeat(heartbeat).build();
      states =
          socket
              .states()
              .subscribe(
                  s -> {
                    if (s instanceof ConnectionState.Connected) opened();
                    else if (s instanceof ConnectionState.WaitingToReconnect w) died(w.cause());
                  });
      socket.connect();
    }

    @Override
    public void close() {
      socket.close();
      states.dispose();
    }
  }

  /** Raw OkHttp: dead at {@code onFailure}. */
  private static final class Raw extends Watched {
    private final WebSocket webSocket;

    Raw(OkHttpClient pinging, String url) {
      webSocket =
          pinging.newWebSocket(
              new Request.Builder().url(url).build(),
              new WebSocketListener() {
                @Override
                public void onOpen(WebSocket webSocket, Response response) {
                  opened();
                }

                @Override
                public void onFailure(WebSocket webSocket, Throwable t, Response response) {
                  died(t);
                  opened();
                }
              });
    }

    @Override
    public void close() {
      webSocket.cancel();
    }
  }

  private static String report(Bench bench, Map<Client, List<Trial>> trials) {
    StringBuilder out = new StringBuilder();
    out.append("### Detection: a black-holed connection\n\n");
    out.append(
        f(
            "The server stops reading and writing on every connection without closing any (no FIN,"
                + " no reset); each client is timed from that moment (the server's clock) to the"
                + " moment it reports the connection dead: Lifeline's `WaitingToReconnect`, raw"
                + " OkHttp's `onFailure`. Interval and timeout are %d ms each for all three, on the"
                + " same `OkHttpClient` configuration; the application heartbeat's ping is a text"
                + " message the server echoes, matched as its pong. Each connection runs healthy"
                + " for %d–%d ms first, spread evenly over the rounds, so that the mute falls at"
                + " every phase of the heartbeat. %d rounds, the three clients in rotating order;"
                + " ms, median (min–max). Lifeline is closed as soon as it reports the drop, so it"
                + " does not reconnect into the muted server. Target: Lifeline ≤ 1.1 × (interval +"
                + " timeout) = %.0f ms.\n\n",
            INTERVAL.toMillis(),
            HEALTHY_MIN.toMillis(),
            HEALTHY_MIN.plus(HEALTHY_SPREAD).toMillis(),
            bench.rounds(),
            TARGET_MS));
    Markdown t = Markdown.table("Client", "Detection ms", "Reported as", "Target met");
    for (Client c : Client.values()) {
      List<Trial> list = trials.get(c);
      List<Double> ms = new ArrayList<>();
      Map<String, Integer> causes = new TreeMap<>();
      for (Trial trial : list) {
        ms.add(trial.millis());
        causes.merge(trial.cause(), 1, Integer::sum);
      }
      Stats stats = Stats.of(ms);
      List<String> reported = new ArrayList<>();
      causes.forEach((cause, n) -> reported.add(f("%s ×%d", cause, n)));
      t.row(
          c.label,
          stats.format(0),
          String.join(", ", reported),
          !c.lifeline ? "(no target)" : stats.median() <= TARGET_MS ? "yes" : "**no**");
    }
    out.append(t).append('\n');
    out.append(
        "A black hole is caught between one and two intervals after it starts: the last sign of"
            + " life came at most one ping cycle before it, and the verdict follows one unanswered"
            + " ping later. With the protocol heartbeat, OkHttp's pong check (a pong missing at the"
            + " next ping) and Lifeline's silence deadline (`interval + timeout` after the last"
            + " inbound byte) fall due together when `timeout` equals `interval`; \"Reported as\""
            + " says which one ended each connection.\n");
    return out.toString();
  }
}
