/*
 * A tiny WebRTC signaling relay: two peers join a room, and the relay forwards their offer, answer
 * and ICE candidates to each other. Peers never talk to the relay about media; it only passes
 * their messages on. Built on MockWebServer's WebSocket upgrade with a Dispatcher, so it runs in
 * any JVM with no server framework. SignalingPeer is the client side.
 *
 * Protocol (text; fields separated by ':', the last field may contain ':'):
 *   peer -> relay   join:<room>:<peer>                    answered with joined:<room>:<peer>
 *   peer -> relay   <kind>:<room>:<id>:<payload>          kind = offer, answer or candidate;
 *                                                         answered with ack:<id>, forwarded as is
 *   relay -> peer   paired:<room>:<other peer>            both peers are in the room
 *
 * The relay acknowledges a message once it has forwarded it or, if the other peer is offline right
 * now, kept it in that peer's mailbox; the mailbox is delivered when the peer joins again. It
 * remembers ids: a message sent again after a reconnect is acknowledged again but not forwarded
 * twice. A room holds two peers; a third is refused with "full:<room>".
 *
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.SignalingRelayServer
 *       starts the relay on a free loopback port, runs the two-peer exchange of SignalingPeer
 *       against it, and exits
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.SignalingRelayServer \
 *       -Ddemo.args="--port 8025"
 *       serves ws://127.0.0.1:8025/signal until Ctrl-C; connect peers with SignalingPeer --url
 */
package dev.lifeline.examples;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

public final class SignalingRelayServer extends Dispatcher {

  /** One peer of a room: its current connection (null while offline) and what waits for it. */
  private static final class Member {
    WebSocket connection;
    final Queue<String> mailbox = new ArrayDeque<>();
  }

  private final Object lock = new Object();
  private final Map<String, Map<String, Member>> rooms = new HashMap<>(); // room -> peer -> member
  private final Map<WebSocket, String> senders = new HashMap<>(); // connection -> peer it joined as
  private final Set<String> seenIds = new HashSet<>();
  private final boolean verbose;

  SignalingRelayServer(boolean verbose) {
    this.verbose = verbose;
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("--port")) {
      MockWebServer server = start(Integer.parseInt(args[1]), new SignalingRelayServer(true));
      System.out.println("relay listening on ws://127.0.0.1:" + server.getPort() + "/signal");
      Thread.currentThread().join(); // until Ctrl-C
    } else if (args.length != 0) {
      System.err.println("usage: SignalingRelayServer [--port N]");
      System.exit(2);
    }
    if (!SignalingPeer.runExchange()) System.exit(1); // the exit code is the result
  }

  /** Starts {@code relay} on loopback at {@code port} (0: any free port). */
  static MockWebServer start(int port, SignalingRelayServer relay) throws IOException {
    MockWebServer server = new MockWebServer();
    server.setDispatcher(relay);
    server.start(InetAddress.getLoopbackAddress(), port);
    return server;
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new WebSocketListener() {
              @Override
              public void onMessage(WebSocket ws, String text) {
                handle(ws, text);
              }

              @Override
              public void onClosing(WebSocket ws, int code, String reason) {
                left(ws);
                ws.close(1000, null);
              }

              @Override
              public void onFailure(WebSocket ws, Throwable t, Response response) {
                left(ws);
              }
            })
        .build();
  }

  private void handle(WebSocket ws, String text) {
    String[] f = text.split(":", 4);
    synchronized (lock) {
      if (f[0].equals("join") && f.length == 3) {
        join(ws, f[1], f[2]);
      } else if (f.length == 4
          && (f[0].equals("offer") || f[0].equals("answer") || f[0].equals("candidate"))) {
        Map<String, Member> room = rooms.getOrDefault(f[1], Map.of());
        String sender = senders.get(ws);
        if (sender == null) return; // not joined: no ack
        if (seenIds.add(f[1] + ":" + sender + ":" + f[2])) {
          for (Map.Entry<String, Member> e : room.entrySet()) {
            if (!e.getKey().equals(sender)) deliver(e.getKey(), e.getValue(), text);
          }
        } else {
          log("relay    " + f[2] + " seen before: acknowledged again, not forwarded twice");
        }
        ws.send("ack:" + f[2]);
      }
    }
  }

  private void join(WebSocket ws, String roomName, String peer) {
    Map<String, Member> room = rooms.computeIfAbsent(roomName, r -> new HashMap<>());
    if (!room.containsKey(peer) && room.size() == 2) {
      ws.send("full:" + roomName);
      return;
    }
    Member me = room.computeIfAbsent(peer, p -> new Member());
    me.connection = ws;
    senders.put(ws, peer);
    ws.send("joined:" + roomName + ":" + peer);
    log("relay    " + peer + " joined " + roomName);
    for (String held; (held = me.mailbox.poll()) != null; ) {
      log("relay    delivers to " + peer + " from its mailbox: " + kindOf(held));
      ws.send(held);
    }
    for (Map.Entry<String, Member> other : room.entrySet()) {
      if (other.getKey().equals(peer)) continue;
      ws.send("paired:" + roomName + ":" + other.getKey());
      WebSocket otherConnection = other.getValue().connection;
      if (otherConnection != null) otherConnection.send("paired:" + roomName + ":" + peer);
    }
  }

  private void deliver(String peer, Member to, String text) {
    if (to.connection != null && to.connection.send(text)) {
      log("relay    forwards " + kindOf(text) + " to " + peer);
    } else {
      to.mailbox.add(text);
      log("relay    " + peer + " is offline: keeps " + kindOf(text) + " in its mailbox");
    }
  }

  private void left(WebSocket ws) {
    synchronized (lock) {
      senders.remove(ws);
      for (Map<String, Member> room : rooms.values()) {
        for (Member m : room.values()) {
          if (m.connection == ws) m.connection = null;
        }
      }
    }
  }

  /**
   * Drops a peer's connection, as a relay restart or a load balancer would: closes it with 1001.
   * What the peer sends after that is not acknowledged on this connection.
   */
  void dropConnection(String roomName, String peer) {
    WebSocket ws;
    synchronized (lock) {
      Member m = rooms.getOrDefault(roomName, Map.of()).get(peer);
      if (m == null || m.connection == null) return;
      ws = m.connection;
      m.connection = null;
    }
    log("relay    drops " + peer + "'s connection (1001 going away)");
    ws.close(1001, "going away"); // a server-side WebSocket of MockWebServer cannot cancel()
  }

  private void log(String line) {
    if (verbose) SignalingPeer.print(line);
  }

  private static String kindOf(String text) {
    String[] f = text.split(":", 4);
    return f.length == 4 ? f[0] + " " + f[2] : f[0];
  }
}
