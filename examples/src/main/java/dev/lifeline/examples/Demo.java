/*
 * Lifeline demo: one ReconnectingSocket against a server that misbehaves on a script, printed as a
 * timeline. An embedded MockWebServer on loopback plays, in order:
 *
 *   (a) a healthy connection: numbered ticks, and a "pong" to each heartbeat "ping";
 *   (b) silence: the server stops answering but keeps the TCP connection open, a dead link OkHttp
 *       alone does not notice; the heartbeat catches it within interval + timeout;
 *   (c) a 503 with Retry-After: 1 on the next handshake: the socket waits at least that long.
 *       Meanwhile the client, down, places three orders with sendAcknowledged and sends one plain
 *       message: all are queued. The next connection takes them, and the server acks orders 1 and
 *       2 but crashes before acking 3; the client resends order 3 on the connection after, and the
 *       server, which counts copies by order id, recognises the duplicate and processes it once;
 *   (d) a healthy reconnect, which the server later closes ("going away");
 *   (e) three connections accepted and dropped at once: the retry number counts up, because an open
 *       that never proves healthy does not restore the budget; then a healthy connection does, so
 *       the next drop is retry 1 again;
 *   (f) accept-then-drop for good: the socket gives up after maxRetries retries with a typed
 *       error.
 *
 *   mvn -q -Pdemo                                         about 15 s, then exits by itself
 *   mvn -q -Pdemo -Ddemo.args="--url wss://host/path"     default settings, until Ctrl-C
 *
 * Add -Dorg.slf4j.simpleLogger.log.dev.lifeline=debug to see Lifeline's own log as well.
 */
package dev.lifeline.examples;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Correlation;
import dev.lifeline.HandshakeException;
import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import java.io.Console;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import mockwebserver3.MockWebServer;

public final class Demo {
  private static final long START = System.nanoTime();
  private static final boolean COLOUR = isTerminal() && System.getenv("NO_COLOR") == null;
  static final String GREEN = "32", YELLOW = "33", RED = "31", GREY = "90";
  private static final int ORDERS = 3;

  /** How long after its last frame a dead link is caught: interval + timeout. */
  private static Duration caughtWithin(Heartbeat heartbeat) {
    if (heartbeat instanceof Heartbeat.Application a) return a.interval().plus(a.timeout());
    if (heartbeat instanceof Heartbeat.Protocol p) return p.interval().plus(p.timeout());
    if (heartbeat instanceof Heartbeat.Passive p) return p.timeout();
    return Duration.ZERO;
  }

  public static void main(String[] args) throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline";
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");

    if (args.length == 2 && args[0].equals("--url")) {
      System.out.println("Lifeline: a socket with every default; Ctrl-C to stop");
      // Subscribing on this thread right after connect(url) returns misses no message.
      ReconnectingSocket socket = ReconnectingSocket.connect(args[1]);
      Timeline timeline = new Timeline(Heartbeat.defaults(), "");
      timeline.watch(socket);
      Runtime.getRuntime().addShutdownHook(new Thread(socket::close));
      timeline.gaveUp.await(); // default retries are unlimited: only a terminal failure ends this
      System.exit(1);
    } else if (args.length != 0) {
      System.err.println("usage: Demo [--url ws://host/path]");
      System.exit(2);
    }

    MisbehavingServer script = new MisbehavingServer(ORDERS);
    MockWebServer server = new MockWebServer();
    server.setDispatcher(script);
    server.start(InetAddress.getLoopbackAddress(), 0);
    String url = "ws://127.0.0.1:" + server.getPort() + "/feed";

    Heartbeat heartbeat = Heartbeat.application(ms(500), ms(500), "ping", "pong");
    ReconnectingSocket socket =
        ReconnectingSocket.builder(url)
            .heartbeat(heartbeat)
            .retryPolicy(Backoff.exponential(ms(200), Duration.ofSeconds(2)).maxRetries(4))
            .stableAfter(Duration.ofSeconds(1))
            .build(); // the real computation scheduler: this timeline runs in wall-clock time
    Replies acks = socket.replies(Orders.correlation()); // "ack:<n>" answers "order:<n>"

    System.out.println("Lifeline demo: a socket against a server that misbehaves on a script");
    System.out.println("  server     " + url + " (embedded MockWebServer)");
    System.out.println(
        "  heartbeat  \"ping\" after 500ms of silence; dead if nothing" + " within 500ms of it");
    System.out.println(
        "  retries    200ms doubling to 2s, jittered; 4 per outage;"
            + " healthy = up 1s and heard from");
    System.out.println(
        "  orders     "
            + ORDERS
            + " placed while down with sendAcknowledged(\"order:<n>\"); \"ack:<n>\" answers");
    System.out.println();

    Timeline timeline = new Timeline(heartbeat, " of 4");
    timeline.watch(socket); // subscribe before connect(): no message is missed
    Orders orders = new Orders(ORDERS);
    AtomicBoolean placed = new AtomicBoolean();
    socket // subscribed after the timeline, so the drop is printed before the orders
        .states()
        .subscribe(
            s -> {
              if (s instanceof WaitingToReconnect w
                  && w.cause() instanceof HeartbeatTimeoutException
                  && placed.compareAndSet(false, true)) {
                orders.placeAll(socket, acks); // the socket is down: each is queued, not lost
              }
            });
    socket.connect();

    boolean finished = timeline.gaveUp.await(45, TimeUnit.SECONDS);
    socket.close();
    // Closed is the socket's last event: after it, nothing prints but the summary.
    timeline.closed.await(5, TimeUnit.SECONDS);
    server.close();
    script.close();
    System.out.println();
    System.out.println(
        finished
            ? timeline.summary() + System.lineSeparator() + orders.summary(script)
            : "the script did not finish within 45s");
    if (!finished) System.exit(1); // the exit code is the result; on success main just returns
  }

  /** Prints what a socket does, with the time since the demo started, and keeps the score. */
  static final class Timeline {
    final CountDownLatch gaveUp = new CountDownLatch(1), closed = new CountDownLatch(1);
    private final Heartbeat heartbeat;
    private final String budget;
    private ConnectionState previous = ConnectionState.IDLE;
    private int lastAttempt, connections, drops, messages, roundTrips, retries, reconnects;
    private int undelivered;
    private long lastFrameAt, connectedAt, outageStartedAt = -1, longestOutage;

    Timeline(Heartbeat heartbeat, String budget) {
      this.heartbeat = heartbeat;
      this.budget = budget;
    }

    void watch(ReconnectingSocket socket) {
      socket.states().subscribe(this::state);
      socket
          .messages()
          .subscribe(
              this::message,
              e -> say(GREY, "messages() signalled " + e.getClass().getSimpleName()));
      socket.roundTripTimes().subscribe(this::roundTrip);
      socket.undelivered().subscribe(this::undelivered);
    }

    synchronized void undelivered(NotDeliveredException u) {
      undelivered++;
      say(RED, "undelivered \"" + u.message().text() + "\": " + u.reason() + ", " + u.getMessage());
    }

    synchronized void message(Message m) {
      lastFrameAt = System.nanoTime();
      messages++;
      String text = m instanceof Message.Text t ? t.text() : m.sizeInBytes() + " bytes";
      say(null, "message  " + (text.length() > 60 ? text.substring(0, 60) + "..." : text));
    }

    synchronized void roundTrip(Duration rtt) {
      lastFrameAt = System.nanoTime(); // pongs are consumed, not emitted on messages()
      roundTrips++;
      say(GREY, "pong     round trip " + millis(rtt));
    }

    synchronized void state(ConnectionState s) {
      long now = System.nanoTime();
      if (s instanceof Connecting c) {
        lastAttempt = c.retry();
        if (c.retry() > 0) retries++;
        say(null, c.retry() == 0 ? "connecting" : "connecting, retry " + c.retry() + budget);
      } else if (s instanceof Connected) {
        connections++;
        if (lastAttempt > 0) reconnects++;
        connectedAt = now;
        say(
            GREEN,
            "connected"
                + (outageStartedAt < 0
                    ? ""
                    : " (outage began " + seconds(now - outageStartedAt) + " ago)"));
      } else if (s instanceof WaitingToReconnect w) {
        String note = "";
        if (previous instanceof Connected) {
          drops++;
          say(RED, "dropped: " + describe(w.cause()));
          if (w.cause() instanceof HeartbeatTimeoutException) {
            say(
                RED,
                "  caught "
                    + seconds(now - lastFrameAt)
                    + " after the last frame; interval"
                    + " + timeout = "
                    + millis(caughtWithin(heartbeat)));
          }
          if (w.retry() == 1) { // the budget is full again: the last outage ended
            if (outageStartedAt >= 0) {
              longestOutage = Math.max(longestOutage, connectedAt - outageStartedAt);
              note =
                  " (budget restored: the connection made at retry "
                      + lastAttempt
                      + " proved healthy)";
            }
            outageStartedAt = now;
          } else {
            note = " (same outage: that connection never proved healthy)";
          }
        } else {
          if (outageStartedAt < 0) outageStartedAt = now;
          say(RED, "attempt failed: " + describe(w.cause()));
        }
        if (w.cause() instanceof HandshakeException h && h.headers().get("Retry-After") != null) {
          note = " (the server said Retry-After: " + h.headers().get("Retry-After") + ")";
        }
        say(YELLOW, "waiting " + millis(w.delay()) + " before retry " + w.retry() + budget + note);
      } else if (s instanceof Failed f) {
        if (previous instanceof Connected) {
          drops++;
          say(RED, "dropped: " + describe(f.cause().getCause()));
        }
        say(RED, "gave up: " + describe(f.cause()));
        gaveUp.countDown();
      } else if (previous != s) {
        say(null, s.toString().toLowerCase(Locale.ROOT));
      }
      previous = s;
      if (s instanceof ConnectionState.Closed) closed.countDown();
    }

    synchronized String summary() {
      return String.format(
          Locale.ROOT,
          "summary%n"
              + "  connections     %d, of which %d dropped%n"
              + "  reconnecting    %d retries, %d of which connected%n"
              + "  longest outage  %s (from a drop to the connection that proved healthy)%n"
              + "  received        %d messages and %d heartbeat pongs%n"
              + "  undelivered     %d queued messages reported on undelivered()",
          connections,
          drops,
          retries,
          reconnects,
          seconds(longestOutage),
          messages,
          roundTrips,
          undelivered);
    }
  }

  /**
   * The client side of delivery: numbered orders placed while the socket is down, each sent with
   * {@code sendAcknowledged} and answered by the server with {@code "ack:<n>"}.
   */
  static final class Orders {
    private final long[] placedAt;
    private int placed, acknowledged, failed;

    Orders(int count) {
      placedAt = new long[count];
    }

    /** Outgoing {@code "order:<n>"} carries id n; incoming {@code "ack:<n>"} answers it. */
    static Correlation correlation() {
      return Correlation.by(out -> idAfter("order:", out), in -> idAfter("ack:", in))
          .timeout(Duration.ofSeconds(20));
    }

    private static String idAfter(String prefix, Message m) {
      return m instanceof Message.Text t && t.text().startsWith(prefix)
          ? t.text().substring(prefix.length())
          : null; // not a reply
    }

    /** Sends one plain message and places every order; called while the socket is down. */
    void placeAll(ReconnectingSocket socket, Replies acks) {
      String note = "note:placing orders while offline";
      say(YELLOW, "send     \"" + note + "\": " + socket.send(note) + " (no ack expected)");
      for (int n = 1; n <= placedAt.length; n++) {
        int id = n;
        synchronized (this) {
          placedAt[id - 1] = System.nanoTime();
          placed++;
        }
        say(YELLOW, "order " + id + "  sendAcknowledged(\"order:" + id + "\"): queued");
        acks.sendAcknowledged(Message.text("order:" + id))
            .subscribe(() -> acknowledged(id), e -> failed(id, e));
      }
    }

    private synchronized void acknowledged(int n) {
      acknowledged++;
      say(
          GREEN,
          "order "
              + n
              + "  acked, "
              + seconds(System.nanoTime() - placedAt[n - 1])
              + " after it was placed");
    }

    private synchronized void failed(int n, Throwable e) {
      failed++;
      say(RED, "order " + n + "  NOT acknowledged: " + describe(e));
    }

    synchronized String summary(MisbehavingServer server) {
      int copies = server.orderCopies(), distinct = server.distinctOrders();
      return String.format(
          Locale.ROOT,
          "  orders          %d placed while down, %d acknowledged, %d lost (%d failed)%n"
              + "  at the server   %d copies of %d distinct orders (copies per id: %s):"
              + " %d duplicate(s), processed once each (by id)",
          placed,
          acknowledged,
          placed - acknowledged,
          failed,
          copies,
          distinct,
          server.copiesPerOrder(),
          copies - distinct);
    }
  }

  static synchronized void say(String colour, String what) {
    String line = String.format(Locale.ROOT, "%7.3fs  %s", (System.nanoTime() - START) / 1e9, what);
    boolean paint = COLOUR && colour != null;
    System.out.println(paint ? "\u001b[" + colour + "m" + line + "\u001b[0m" : line);
  }

  static String describe(Throwable t) {
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }

  static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.2fs", nanos / 1e9);
  }

  static String millis(Duration d) {
    return d.toMillis() < 1000 ? d.toMillis() + "ms" : seconds(d.toNanos());
  }

  static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  /** Colour only on a terminal. JDK 22+ has a Console even when output is redirected. */
  private static boolean isTerminal() {
    Console console = System.console();
    if (console == null) return false;
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException olderJdk) {
      return true;
    }
  }

  private Demo() {}
}
