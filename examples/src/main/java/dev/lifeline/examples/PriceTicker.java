/*
 * A price feed that needs a subscription on every connection. A server forgets what a client
 * subscribed to when the connection ends, so the client must subscribe again after each reconnect,
 * and should not report itself Connected before the server confirmed. The ready hook (onReady) does
 * exactly that: it sends "subscribe:<channel>" for each channel through the Session and completes
 * when a "subscribed:<channel>" reply has come back for every one of them. Only then does the
 * socket emit Connected. If the confirmation does not come, the attempt fails and is retried.
 *
 * Without arguments an embedded MockWebServer on loopback pushes prices every 200 ms, drops the
 * first connection after a few prices, and the ticker resubscribes on the new one; it exits after
 * a few prices on the second connection.
 *
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.PriceTicker
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.PriceTicker \
 *       -Ddemo.args="--url ws://host/prices"
 *
 * With --url it runs until Ctrl-C against a server that speaks the same small protocol.
 */
package dev.lifeline.examples;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Completable;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

public final class PriceTicker {
  private static final List<String> CHANNELS = List.of("EURUSD", "BTCUSD");

  public static void main(String[] args) throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline"; // quiet unless asked for
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");

    String url = null;
    if (args.length == 2 && args[0].equals("--url")) {
      url = args[1];
    } else if (args.length != 0) {
      System.err.println("usage: PriceTicker [--url ws://host/path]");
      System.exit(2);
    }
    PriceServer prices = null;
    MockWebServer server = null;
    if (url == null) {
      prices = new PriceServer();
      server = new MockWebServer();
      server.setDispatcher(prices);
      server.start(InetAddress.getLoopbackAddress(), 0);
      url = "ws://127.0.0.1:" + server.getPort() + "/prices";
    }

    ReconnectingSocket socket =
        ReconnectingSocket.builder(url)
            .retryPolicy(Backoff.exponential(Duration.ofMillis(300), Duration.ofSeconds(10)))
            .onReady(PriceTicker::subscribe) // runs on every connection, before Connected
            .build();

    socket.states().subscribe(state -> System.out.println("state    " + state));
    CountDownLatch pricesAfterReconnect = new CountDownLatch(4);
    AtomicInteger connections = new AtomicInteger();
    socket
        .states()
        .filter(s -> s instanceof Connected)
        .subscribe(s -> connections.incrementAndGet());
    socket
        .messages()
        .subscribe(
            m -> {
              String text = m instanceof Message.Text t ? t.text() : m.toString();
              if (text.startsWith("price:")) {
                System.out.println("price    " + text.substring("price:".length()));
                if (connections.get() >= 2) pricesAfterReconnect.countDown();
              }
            },
            e -> System.out.println("gave up: " + e));
    socket.connect();

    if (server == null) {
      Runtime.getRuntime().addShutdownHook(new Thread(socket::close));
      Thread.currentThread().join(); // until Ctrl-C
    }
    boolean finished = pricesAfterReconnect.await(12, TimeUnit.SECONDS);
    socket.close();
    server.close();
    prices.close();
    System.out.println(finished ? "done: resubscribed after the drop" : "did not finish in time");
    if (!finished) System.exit(1); // the exit code is the result; on success main just returns
  }

  /**
   * The ready hook: subscribes to every channel on this connection, and completes once the server
   * confirmed each one (or fails after 3 s, which fails the attempt: the socket retries).
   */
  static Completable subscribe(Session session) {
    Completable confirmed =
        session
            .messages()
            .filter(m -> m instanceof Message.Text t && t.text().startsWith("subscribed:"))
            .take(CHANNELS.size())
            .ignoreElements()
            .timeout(3, TimeUnit.SECONDS);
    Completable send =
        Completable.fromAction(
            () -> {
              for (String channel : CHANNELS) {
                System.out.println("hook     subscribe:" + channel);
                session.send("subscribe:" + channel);
              }
            });
    // Listen first, then send: mergeArray subscribes in order, so no reply can slip past.
    return Completable.mergeArray(confirmed, send)
        .doOnComplete(() -> System.out.println("hook     all channels confirmed"));
  }

  /**
   * Answers "subscribe:X" with "subscribed:X", then pushes "price:X=..." every 200 ms on that
   * connection. Drops the first connection (1001, going away) after its fifth price.
   */
  static final class PriceServer extends Dispatcher {
    private final ScheduledExecutorService clock =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "price-server");
              t.setDaemon(true);
              return t;
            });
    private final AtomicInteger connections = new AtomicInteger();

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      int connection = connections.incrementAndGet();
      return new MockResponse.Builder()
          .webSocketUpgrade(
              new WebSocketListener() {
                final Set<String> subscribed = ConcurrentHashMap.newKeySet();
                final AtomicInteger sent = new AtomicInteger();
                volatile ScheduledFuture<?> pusher;

                @Override
                public void onOpen(WebSocket ws, Response response) {
                  pusher =
                      clock.scheduleAtFixedRate(() -> push(ws), 200, 200, TimeUnit.MILLISECONDS);
                }

                @Override
                public void onMessage(WebSocket ws, String text) {
                  if (text.startsWith("subscribe:")) {
                    String channel = text.substring("subscribe:".length());
                    subscribed.add(channel);
                    ws.send("subscribed:" + channel);
                  }
                }

                private void push(WebSocket ws) {
                  for (String channel : subscribed) {
                    double price = channel.startsWith("BTC") ? 60_000 + Math.random() * 100 : 1.08;
                    ws.send(String.format(Locale.ROOT, "price:%s=%.4f", channel, price));
                  }
                  if (!subscribed.isEmpty() && sent.incrementAndGet() == 3 && connection == 1) {
                    System.out.println("server   drops the connection: 1001 going away");
                    stop();
                    ws.close(1001, "going away");
                  }
                }

                @Override
                public void onClosing(WebSocket ws, int code, String reason) {
                  stop();
                  ws.close(1000, null);
                }

                @Override
                public void onFailure(WebSocket ws, Throwable t, Response response) {
                  stop();
                }

                private void stop() {
                  ScheduledFuture<?> p = pusher;
                  if (p != null) p.cancel(false);
                }
              })
          .build();
    }

    @Override
    public void close() {
      clock.shutdownNow();
    }
  }

  private PriceTicker() {}
}
