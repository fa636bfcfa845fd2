package dev.lifeline.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;

/**
 * The server side of a MockWebServer WebSocket upgrade. Records every event as a string in a queue
 * ({@code "open"}, {@code "text:hello"}, {@code "binary:010203"}, {@code "closing:1000"}, {@code
 * "closed:1000"}, {@code "failure:..."}) so that tests wait on what the server saw, and reacts as
 * configured: echo, answer pings, close right after open, or stay silent.
 *
 * <p>It always answers a close frame from the client (OkHttp leaves that to the listener), so the
 * closing handshake completes and both sides see {@code onClosed}.
 */
final class ServerListener extends WebSocketListener {
  final BlockingQueue<String> events = new LinkedBlockingQueue<>();
  private volatile BiConsumer<WebSocket, String> onText = (ws, text) -> {};
  private volatile boolean echoBinary;
  private volatile int closeOnOpenCode = -1;
  private volatile String closeOnOpenReason = "";
  private volatile String greeting;

  /** Echoes every text and binary message. */
  static ServerListener echo() {
    ServerListener l = new ServerListener();
    l.onText = WebSocket::send;
    l.echoBinary = true;
    return l;
  }

  /** Never sends anything (a server that went quiet). */
  static ServerListener silent() {
    return new ServerListener();
  }

  /** Answers the text {@code ping} with {@code pong} and nothing else. */
  static ServerListener answering(String ping, String pong) {
    ServerListener l = new ServerListener();
    l.onText =
        (ws, text) -> {
          if (text.equals(ping)) ws.send(pong);
        };
    return l;
  }

  /** Sends a close frame with {@code code} and {@code reason} as soon as the connection opens. */
  static ServerListener closingOnOpen(int code, String reason) {
    ServerListener l = new ServerListener();
    l.closeOnOpenCode = code;
    l.closeOnOpenReason = reason;
    return l;
  }

  /** Sends {@code text} as soon as the connection opens, then echoes. */
  static ServerListener greeting(String text) {
    ServerListener l = echo();
    l.greeting = text;
    return l;
  }

  @Override
  public void onOpen(WebSocket webSocket, Response response) {
    events.add("open");
    if (greeting != null) webSocket.send(greeting);
    if (closeOnOpenCode >= 0) webSocket.close(closeOnOpenCode, closeOnOpenReason);
  }

  @Override
  public void onMessage(WebSocket webSocket, String text) {
    events.add("text:" + text);
    onText.accept(webSocket, text);
  }

  @Override
  public void onMessage(WebSocket webSocket, ByteString bytes) {
    events.add("binary:" + bytes.hex());
    if (echoBinary) webSocket.send(bytes);
  }

  @Override
  public void onClosing(WebSocket webSocket, int code, String reason) {
    events.add("closing:" + code);
    webSocket.close(1000, null); // returns false when we started the close: nothing to answer
  }

  @Override
  public void onClosed(WebSocket webSocket, int code, String reason) {
    events.add("closed:" + code);
  }

  @Override
  public void onFailure(WebSocket webSocket, Throwable t, Response response) {
    events.add("failure:" + t);
  }

  /**
   * Waits up to {@code seconds} in all for {@code n} more events that start with {@code prefix},
   * skipping others; returns those that came in time.
   */
  List<String> awaitAll(String prefix, int n, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<String> matched = new ArrayList<>();
    while (matched.size() < n) {
      long left = deadline - System.nanoTime();
      String e = left <= 0 ? null : events.poll(left, TimeUnit.NANOSECONDS);
      if (e == null) break;
      if (e.startsWith(prefix)) matched.add(e);
    }
    return matched;
  }

  /**
   * Waits up to {@code seconds} for the next event that starts with {@code prefix}, skipping
   * others; returns it, or null if none came in time.
   */
  String await(String prefix, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) return null;
      String e = events.poll(left, TimeUnit.NANOSECONDS);
      if (e == null) return null;
      if (e.startsWith(prefix)) return e;
    }
  }
}
