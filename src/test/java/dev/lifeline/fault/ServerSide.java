package dev.lifeline.fault;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

/**
 * The server's side of every WebSocket a scenario opens: one listener shared by all connections,
 * installed on a MockWebServer so that every request is upgraded ({@link #serveOn}).
 *
 * <ul>
 *   <li>Answers the heartbeat's {@code "ping"} with {@code "pong"}, unless {@link #hang(boolean)
 *       hung}: then the application answers nothing, while OkHttp underneath still answers protocol
 *       pings (as a server whose application thread is stuck would).
 *   <li>Remembers the connection that opened last ({@link #current()}), so a test can push on it.
 *   <li>Runs {@link #onOpen(Consumer)} on every new connection (close at once, greet…).
 *   <li>Records "open", "closing:CODE", "closed:CODE" and "failure" in {@link #events}.
 *   <li>Records every other text the client sends, in arrival order, in {@link #fromClient}, and
 *       answers a {@code "req:ID"} with {@code "ack:ID"} (the acknowledgement a {@code Correlation}
 *       by those prefixes waits for).
 * </ul>
 */
final class ServerSide extends WebSocketListener {
  final BlockingQueue<String> events = new LinkedBlockingQueue<>();
  final AtomicInteger opened = new AtomicInteger();
  final BlockingQueue<String> fromClient = new LinkedBlockingQueue<>();
  private final AtomicReference<WebSocket> current = new AtomicReference<>();
  private volatile boolean hung;
  private volatile boolean recordEvents = true;
  private volatile Consumer<WebSocket> onOpen = ws -> {};

  /** Upgrades every request to {@code server} with this listener. */
  ServerSide serveOn(MockWebServer server) {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return new MockResponse.Builder().webSocketUpgrade(ServerSide.this).build();
          }
        });
    return this;
  }

  /** While true, application pings get no answer. */
  ServerSide hang(boolean hung) {
    this.hung = hung;
    return this;
  }

  /** Runs on every connection as soon as it opens, on MockWebServer's thread. */
  ServerSide onOpen(Consumer<WebSocket> action) {
    this.onOpen = action;
    return this;
  }

  /** Stops recording events (for soak runs, where nobody reads them). */
  ServerSide quiet() {
    recordEvents = false;
    return this;
  }

  /** The connection that opened last, while it is open; null otherwise. */
  WebSocket current() {
    return current.get();
  }

  @Override
  public void onOpen(WebSocket webSocket, Response response) {
    opened.incrementAndGet();
    current.set(webSocket);
    record("open");
    onOpen.accept(webSocket);
  }

  @Override
  public void onMessage(WebSocket webSocket, String text) {
    if (text.equals("ping")) {
      if (!hung) webSocket.send("pong");
      return;
    }
    fromClient.add(text);
    if (text.startsWith("req:")) webSocket.send("ack:" + text.substring(4));
  }

  /**
   * Waits until the client's {@code text} has arrived and returns everything the client sent up to
   * and including it, in arrival order; fails after {@code seconds}.
   */
  List<String> awaitFromClient(String text, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<String> all = new ArrayList<>();
    while (true) {
      String next = fromClient.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (next == null) {
        throw new AssertionError(
            "\"" + text + "\" not received within " + seconds + " s; received " + all);
      }
      all.add(next);
      if (next.equals(text)) return all;
    }
  }

  @Override
  public void onClosing(WebSocket webSocket, int code, String reason) {
    current.compareAndSet(webSocket, null);
    record("closing:" + code);
    webSocket.close(1000, null); // false when we started the close: nothing to answer
  }

  @Override
  public void onClosed(WebSocket webSocket, int code, String reason) {
    current.compareAndSet(webSocket, null);
    record("closed:" + code);
  }

  @Override
  public void onFailure(WebSocket webSocket, Throwable t, Response response) {
    current.compareAndSet(webSocket, null);
    record("failure");
  }

  private void record(String event) {
    if (recordEvents) events.add(event);
  }
}
