/*
 * The client side of WebRTC signaling: before two browsers or apps can stream to each other, they
 * must swap an SDP offer, an SDP answer and ICE candidates through a server they can both reach.
 * Losing one of these messages leaves a call that never connects, so every one is sent with
 * sendAcknowledged: the relay (SignalingRelayServer) acknowledges it by id, and a message not yet
 * acknowledged when the connection drops is sent again, with the same id, on the next connection.
 * The ready hook joins the room again after every reconnect, before anything is resent.
 *
 * Without arguments this starts the relay on loopback and two peers, alice (the caller) and bob,
 * in room1. When bob receives the offer, the relay closes bob's connection; bob's answer and
 * candidates are not lost: they are resent after his reconnect, and the relay forwards each once.
 * The SDP and candidates are stand-in strings: no media is involved.
 *
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.SignalingPeer
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.SignalingPeer \
 *       -Ddemo.args="--url ws://host:8025/signal --room room1 --name alice --caller"
 *
 * With --url it joins the room on that relay, exchanges the stand-in offer/answer/candidates with
 * whoever else joins, and exits when the exchange is complete (at most 5 minutes).
 */
package dev.lifeline.examples;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Completable;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import mockwebserver3.MockWebServer;

public final class SignalingPeer {
  private static final long START = System.nanoTime();

  private final String name;
  private final String room;
  private final boolean caller;
  private final ReconnectingSocket socket;
  private final Replies acks;
  private final AtomicInteger nextId = new AtomicInteger(1);
  // Ids must not repeat when this program runs again against the same relay.
  private final String run = Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36), 36);
  private final AtomicBoolean offered = new AtomicBoolean();
  private final AtomicBoolean answered = new AtomicBoolean();
  // Done when 3 messages (offer or answer, and 2 candidates) arrived and our 3 were acknowledged.
  final CountDownLatch done = new CountDownLatch(6);
  private volatile Consumer<String> onReceived = kind -> {};

  SignalingPeer(String url, String room, String name, boolean caller) {
    this.name = name;
    this.room = room;
    this.caller = caller;
    this.socket =
        ReconnectingSocket.builder(url)
            .retryPolicy(Backoff.exponential(Duration.ofMillis(300), Duration.ofSeconds(5)))
            .onReady(this::join) // every connection: join the room before anything is sent
            .build();
    this.acks =
        socket.replies(
            Correlation.by(
                    out -> field(out, 2), // offer/answer/candidate carry their id third
                    in ->
                        in instanceof Message.Text t && t.text().startsWith("ack:")
                            ? t.text().substring(4)
                            : null)
                .timeout(Duration.ofSeconds(30)));
    socket.states().skip(1).subscribe(this::state);
    socket.messages().subscribe(this::received, e -> print(name + "    gave up: " + e));
  }

  public static void main(String[] args) throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline"; // quiet unless asked for
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");
    if (args.length == 0) {
      if (!runExchange()) System.exit(1); // the exit code is the result
      return;
    }

    String url = null, room = "room1", name = "peer";
    boolean caller = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--url" -> url = args[++i];
        case "--room" -> room = args[++i];
        case "--name" -> name = args[++i];
        case "--caller" -> caller = true;
        default -> {
          System.err.println(
              "usage: SignalingPeer [--url ws://host/signal --room R --name N [--caller]]");
          System.exit(2);
        }
      }
    }
    if (url == null) throw new IllegalArgumentException("--url is required with other options");
    SignalingPeer peer = new SignalingPeer(url, room, name, caller);
    peer.socket.connect();
    boolean finished = peer.done.await(5, TimeUnit.MINUTES);
    peer.socket.close();
    if (!finished) System.exit(1);
  }

  /** Starts a relay and two peers, runs the exchange with one drop, and says if it completed. */
  static boolean runExchange() throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline";
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");
    SignalingRelayServer relay = new SignalingRelayServer(true);
    MockWebServer server = SignalingRelayServer.start(0, relay);
    String url = "ws://127.0.0.1:" + server.getPort() + "/signal";
    print("relay on " + url);

    SignalingPeer alice = new SignalingPeer(url, "room1", "alice", true);
    SignalingPeer bob = new SignalingPeer(url, "room1", "bob", false);
    AtomicBoolean cut = new AtomicBoolean();
    bob.onReceived =
        kind -> {
          if (kind.equals("offer") && cut.compareAndSet(false, true)) {
            relay.dropConnection("room1", "bob"); // bob's network fails as he starts answering
          }
        };
    alice.socket.connect();
    bob.socket.connect();

    boolean finished =
        alice.done.await(12, TimeUnit.SECONDS) && bob.done.await(5, TimeUnit.SECONDS);
    alice.socket.close();
    bob.socket.close();
    server.close();
    print(finished ? "exchange complete: nothing lost, nothing doubled" : "exchange incomplete");
    return finished;
  }

  /** The ready hook: join the room on this connection and wait until the relay confirms. */
  private Completable join(Session session) {
    Completable joined =
        session
            .messages()
            .filter(m -> m instanceof Message.Text t && t.text().startsWith("joined:"))
            .firstOrError()
            .ignoreElement()
            .timeout(3, TimeUnit.SECONDS);
    return Completable.mergeArray(
        joined, Completable.fromAction(() -> session.send("join:" + room + ":" + name)));
  }

  private void received(Message message) {
    if (!(message instanceof Message.Text t)) return;
    String[] f = t.text().split(":", 4);
    String kind = f[0];
    onReceived.accept(kind);
    switch (kind) {
      case "paired" -> {
        print(name + "    is paired with " + f[2] + " in " + f[1]);
        if (caller && offered.compareAndSet(false, true)) {
          signal("offer", "v=0 o=" + name + " (stand-in SDP offer)");
        }
      }
      case "offer" -> {
        print(name + "    <- offer " + f[2] + ": " + f[3]);
        done.countDown();
        if (answered.compareAndSet(false, true)) {
          signal("answer", "v=0 o=" + name + " (stand-in SDP answer)");
          signal("candidate", "candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host");
          signal("candidate", "candidate:2 1 udp 1686052607 198.51.100.7 61000 typ srflx");
        }
      }
      case "answer" -> {
        print(name + "    <- answer " + f[2] + ": " + f[3]);
        done.countDown();
        signal("candidate", "candidate:1 1 udp 2122260223 192.0.2.20 50000 typ host");
        signal("candidate", "candidate:2 1 udp 1686052607 203.0.113.9 62000 typ srflx");
      }
      case "candidate" -> {
        print(name + "    <- candidate " + f[2] + ": " + f[3]);
        done.countDown();
      }
      case "full" -> print(name + "    room " + f[1] + " is full");
      default -> {}
    }
  }

  /** Sends one signaling message, acknowledged: resent on the next connection until the ack. */
  private void signal(String kind, String payload) {
    String id = name + "-" + run + "-" + nextId.getAndIncrement();
    print(name + "    -> " + kind + " " + id);
    acks.sendAcknowledged(Message.text(kind + ":" + room + ":" + id + ":" + payload), id)
        .subscribe(
            () -> {
              print(name + "    " + kind + " " + id + " acknowledged by the relay");
              done.countDown();
            },
            e -> print(name + "    " + kind + " " + id + " FAILED: " + e));
  }

  private void state(ConnectionState state) {
    if (state instanceof ConnectionState.WaitingToReconnect w) {
      print(name + "    connection lost (" + w.cause() + "), reconnecting");
    } else if (state instanceof ConnectionState.Connected) {
      print(name + "    connected and joined " + room);
    }
  }

  /** Field {@code index} of "kind:room:id:payload" for offer/answer/candidate messages, or null. */
  private static String field(Message m, int index) {
    if (!(m instanceof Message.Text t)) return null;
    String[] f = t.text().split(":", 4);
    boolean signal = f[0].equals("offer") || f[0].equals("answer") || f[0].equals("candidate");
    return signal && f.length == 4 ? f[index] : null;
  }

  static synchronized void print(String line) {
    System.out.println(
        String.format(Locale.ROOT, "%6.3fs  %s", (System.nanoTime() - START) / 1e9, line));
  }
}
