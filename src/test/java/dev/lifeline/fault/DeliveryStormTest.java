package dev.lifeline.fault;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import io.reactivex.rxjava3.core.Completable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Acknowledged sends from many threads while the connection is cut every 200 ms by the proxy and
 * after every 1 500 requests by the server (so cuts fall mid-stream on a fast machine too): every
 * message is acknowledged exactly once, none is lost, and each thread's messages reach the server
 * in the order it sent them (the first time each arrives; retransmissions may repeat a message).
 */
class DeliveryStormTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  /** Message ids the server received, in arrival order, per sending thread. */
  private final Map<Integer, ConcurrentLinkedQueue<Integer>> received = new ConcurrentHashMap<>();

  private final java.util.Set<String> seenAtServer = ConcurrentHashMap.newKeySet();
  private final AtomicInteger duplicates = new AtomicInteger();

  /**
   * Every this many requests the server kills the connection, so cuts fall mid-stream however fast.
   */
  private static final int CUT_EVERY = 1_500;

  private static final int WINDOW = 100;
  private final AtomicInteger requests = new AtomicInteger();
  private volatile FaultProxy proxy;

  @Test
  @Timeout(90)
  void eightThreadsOfAcknowledgedSendsThroughCutsEveryTwoHundredMillis() throws Exception {
    storm(8, 1_000);
  }

  @Test
  @Tag("soak")
  @Timeout(600)
  void eightThreadsOfTenThousandAcknowledgedSendsThroughCuts() throws Exception {
    storm(8, 10_000);
  }

  private void storm(int threads, int perThread) throws Exception {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return new MockResponse.Builder().webSocketUpgrade(new AckingServer()).build();
          }
        });
    ScheduledExecutorService cutter = Executors.newSingleThreadScheduledExecutor();
    try (FaultProxy proxy = FaultProxy.start(server.getSocketAddress())) {
      this.proxy = proxy;
      ReconnectingSocket socket =
          Fixtures.socketThrough(proxy, "/orders")
              .retryPolicy(Backoff.exponential(ofMillis(10), ofMillis(50)))
              .outbox(Outbox.bounded(threads * perThread, 64L << 20))
              .build();
      Replies replies = socket.replies(Fixtures.acknowledgements().timeout(ofSeconds(60)));
      AtomicInteger drops = new AtomicInteger();
      socket.states().ofType(WaitingToReconnect.class).subscribe(w -> drops.incrementAndGet());
      socket.connect();
      cutter.scheduleAtFixedRate(proxy::cutWithRst, 200, 200, MILLISECONDS);

      List<Completable> acks = new ArrayList<>();
      CountDownLatch allSent = new CountDownLatch(threads);
      List<Thread> senders = new ArrayList<>();
      List<List<Completable>> perThreadAcks = new ArrayList<>();
      for (int t = 0; t < threads; t++) perThreadAcks.add(new ArrayList<>());
      for (int t = 0; t < threads; t++) {
        int thread = t;
        senders.add(
            new Thread(
                () -> {
                  // Like a real client: at most WINDOW messages awaiting their ack at a time.
                  java.util.ArrayDeque<Completable> window = new java.util.ArrayDeque<>();
                  for (int n = 0; n < perThread; n++) {
                    if (window.size() == WINDOW && !window.poll().blockingAwait(60, SECONDS)) break;
                    Completable ack =
                        replies.sendAcknowledged(Message.text("req:" + thread + "-" + n)).cache();
                    ack.subscribe(() -> {}, e -> {});
                    window.add(ack);
                    perThreadAcks.get(thread).add(ack);
                  }
                  allSent.countDown();
                },
                "sender-" + t));
      }
      senders.forEach(Thread::start);
      assertThat(allSent.await(120, SECONDS)).isTrue();
      perThreadAcks.forEach(acks::addAll);

      var all = Completable.merge(acks).test();
      all.await(75, SECONDS);
      cutter.shutdownNow();
      socket.close();

      all.assertComplete(); // every acknowledged send completed, none failed
      assertThat(drops.get())
          .as("connections really were cut mid-stream")
          .isGreaterThanOrEqualTo(threads * perThread / CUT_EVERY / 2);
      for (int t = 0; t < threads; t++) {
        List<Integer> firstArrivals = new ArrayList<>();
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int n : received.getOrDefault(t, new ConcurrentLinkedQueue<>())) {
          if (seen.add(n)) firstArrivals.add(n);
        }
        assertThat(firstArrivals)
            .as("thread %d: all its messages, in its order", t)
            .hasSize(perThread)
            .isSorted();
      }
      System.out.printf(
          "delivery storm: %d threads x %d acknowledged sends (window %d), connection cut every"
              + " 200 ms and every %d requests: %d drops, 0 lost, %d duplicates at the server"
              + " (resent after a cut), order kept%n",
          threads, perThread, WINDOW, CUT_EVERY, drops.get(), duplicates.get());
    } finally {
      cutter.shutdownNow();
    }
  }

  /** Acknowledges every request and answers the heartbeat. */
  private final class AckingServer extends WebSocketListener {
    @Override
    public void onMessage(WebSocket webSocket, String text) {
      if (text.equals("ping")) {
        webSocket.send("pong");
        return;
      }
      String id = text.substring(4);
      int dash = id.indexOf('-');
      int thread = Integer.parseInt(id.substring(0, dash));
      int n = Integer.parseInt(id.substring(dash + 1));
      ConcurrentLinkedQueue<Integer> q =
          received.computeIfAbsent(thread, k -> new ConcurrentLinkedQueue<>());
      if (!seenAtServer.add(id)) duplicates.incrementAndGet();
      q.add(n);
      if (requests.incrementAndGet() % CUT_EVERY == 0) {
        proxy.cutWithRst(); // received, never acknowledged: the client must resend it
        return;
      }
      webSocket.send("ack:" + id);
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      webSocket.close(1000, null);
    }
  }
}
