/*
 * Console chat: type lines, see everyone's lines. A line typed while the connection is down is not
 * lost: send() returns QUEUED, the outbox holds it, and it goes out first thing after the
 * reconnect. A line that can never be sent is reported on undelivered(), never dropped silently.
 *
 * Without arguments it plays a short script against an embedded chat room (MockWebServer on
 * loopback) and exits: alice talks to a bot, the room server restarts once (every connection is
 * closed with 1012), alice types a line while she is offline, and the line arrives after the
 * reconnect. At the end she disconnects, types one more line, and closes: that line is reported on
 * undelivered().
 *
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.ChatClient
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.ChatClient -Ddemo.args="--interactive"
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.ChatClient \
 *       -Ddemo.args="--url ws://host/chat"
 *
 * With --url or --interactive it reads lines from the console until "/quit" or end of input.
 */
package dev.lifeline.examples;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

public final class ChatClient {

  public static void main(String[] args) throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline"; // quiet unless asked for
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");
    String url = null;
    boolean interactive = false;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--url") && i + 1 < args.length) {
        url = args[++i];
        interactive = true;
      } else if (args[i].equals("--interactive")) {
        interactive = true;
      } else {
        System.err.println("usage: ChatClient [--url ws://host/path] [--interactive]");
        System.exit(2);
      }
    }

    ChatRoom room = null;
    MockWebServer server = null;
    if (url == null) {
      room = new ChatRoom();
      server = new MockWebServer();
      server.setDispatcher(room);
      server.start(InetAddress.getLoopbackAddress(), 0);
      url = "ws://127.0.0.1:" + server.getPort() + "/chat?name=alice";
    }

    ReconnectingSocket socket =
        ReconnectingSocket.builder(url)
            .retryPolicy(Backoff.exponential(Duration.ofMillis(500), Duration.ofSeconds(5)))
            .build();

    CountDownLatch seen = new CountDownLatch(4); // the scripted run waits for these lines
    socket.states().subscribe(ChatClient::showState);
    socket
        .messages()
        .subscribe(
            m -> {
              System.out.println("  " + (m instanceof Message.Text t ? t.text() : m));
              seen.countDown();
            },
            e -> System.out.println("[gave up: " + e.getMessage() + "]"));
    socket
        .undelivered()
        .subscribe(
            u ->
                System.out.println(
                    "[not delivered: " + text(u.message()) + " (" + u.reason() + ")]"));
    socket.connect();

    if (interactive) {
      try {
        await(socket, Connected.class, 5); // lines typed before this are queued, not lost
      } catch (RuntimeException notYet) {
        System.out.println("[not connected yet: lines will be queued]");
      }
      System.out.println("type a line and press Enter; /quit to leave");
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null && !line.equals("/quit"); ) {
        if (!line.isBlank()) say(socket, line);
      }
    } else {
      await(socket, Connected.class);
      say(socket, "hi bob");
      Thread.sleep(300);
      System.out.println("-- the chat server restarts: every connection is closed (1012)");
      room.dropEveryone();
      await(socket, WaitingToReconnect.class);
      say(socket, "typed while offline: still there?"); // QUEUED: held in the outbox
      await(socket, Connected.class);
      if (!seen.await(10, TimeUnit.SECONDS)) throw new AssertionError("lines did not arrive");
      Thread.sleep(300);
      System.out.println("-- alice disconnects, types one more line, then closes the app");
      socket.disconnect();
      say(socket, "nobody will read this"); // QUEUED while idle; close() reports it
    }

    socket.close();
    if (server != null) server.close();
    System.out.println("bye"); // nothing else to close: the JVM exits when main returns
  }

  /** Sends a line and shows what the socket did with it. */
  private static void say(ReconnectingSocket socket, String line) {
    SendResult result = socket.send(line);
    switch (result) {
      case SENT -> System.out.println("> " + line);
      case QUEUED -> System.out.println("> " + line + "   [QUEUED: goes out when connected]");
      default -> System.out.println("> " + line + "   [" + result + ": not sent]");
    }
  }

  private static void showState(ConnectionState state) {
    if (state instanceof Connected) {
      System.out.println("[connected]");
    } else if (state instanceof WaitingToReconnect w) {
      System.out.println(
          "[offline: "
              + w.cause().getMessage()
              + "; reconnecting in "
              + w.delay().toMillis()
              + " ms]");
    }
  }

  private static void await(ReconnectingSocket socket, Class<? extends ConnectionState> state) {
    await(socket, state, 10);
  }

  private static void await(
      ReconnectingSocket socket, Class<? extends ConnectionState> state, int seconds) {
    socket.states().filter(state::isInstance).timeout(seconds, TimeUnit.SECONDS).blockingFirst();
  }

  private static String text(Message m) {
    return m instanceof Message.Text t ? t.text() : m.toString();
  }

  /**
   * A chat room: relays each line to everyone as "name: line", and a bot named bob answers. Each
   * client names itself in the URL's query: {@code /chat?name=alice}.
   */
  static final class ChatRoom extends Dispatcher {
    private final Set<WebSocket> members = new CopyOnWriteArraySet<>();

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      String name = request.getUrl().queryParameter("name");
      String who = name != null ? name : "anonymous";
      return new MockResponse.Builder()
          .webSocketUpgrade(
              new WebSocketListener() {
                @Override
                public void onOpen(WebSocket ws, Response response) {
                  members.add(ws);
                }

                @Override
                public void onMessage(WebSocket ws, String text) {
                  broadcast(who + ": " + text);
                  broadcast("bob: got \"" + text + "\"");
                }

                @Override
                public void onClosing(WebSocket ws, int code, String reason) {
                  members.remove(ws);
                  ws.close(1000, null);
                }

                @Override
                public void onFailure(WebSocket ws, Throwable t, Response response) {
                  members.remove(ws);
                }
              })
          .build();
    }

    void broadcast(String line) {
      for (WebSocket member : members) member.send(line);
    }

    /** A server restart: closes every connection with 1012 (service restart). */
    void dropEveryone() {
      for (WebSocket member : members) {
        members.remove(member);
        member.close(1012, "service restart");
      }
    }
  }

  private ChatClient() {}
}
