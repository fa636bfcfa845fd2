package dev.lifeline.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

/**
 * The {@link Demo}'s server: answers each WebSocket handshake with the next act of its script and,
 * once the script has run out, accepts every connection and drops it at once. On every connection
 * it acknowledges each {@code "order:<n>"} with {@code "ack:<n>"} and counts the copies of each
 * order id, so that a resent order is recognised as a duplicate and processed once.
 */
final class MisbehavingServer extends Dispatcher {
  private static final long TICK_MS = 600;

  private final ScheduledExecutorService clock =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "server-script");
            t.setDaemon(true);
            return t;
          });
  private final Queue<Supplier<MockResponse>> script = new ConcurrentLinkedQueue<>();
  private final AtomicInteger ticks = new AtomicInteger();
  private final Map<String, Integer> copiesById = new ConcurrentHashMap<>();
  private final AtomicInteger copies = new AtomicInteger();
  private final int batch;

  /** {@code batch}: how many orders the crashing act waits for before it crashes. */
  MisbehavingServer(int batch) {
    this.batch = batch;
    script.add(() -> feed(4, true)); // (a) healthy, then (b) silent
    script.add(
        () -> { // (c)
          say("answers the handshake with 503, Retry-After: 1");
          return new MockResponse.Builder().code(503).addHeader("Retry-After", "1").build();
        });
    script.add(this::takeOrdersThenCrash); // (c) continued
    script.add(() -> feed(3, false)); // (d)
    for (int i = 0; i < 3; i++) script.add(this::acceptThenDrop); // (e)
    script.add(() -> feed(3, false)); // (e) a healthy connection restores the budget
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    Supplier<MockResponse> next = script.poll();
    return next != null ? next.get() : acceptThenDrop(); // (f)
  }

  @Override
  public void close() {
    clock.shutdownNow();
  }

  /** Every copy of an order that arrived, the first and any resent ones. */
  int orderCopies() {
    return copies.get();
  }

  /** Copies received per order id, in id order: "1:1, 2:1, 3:2". */
  String copiesPerOrder() {
    return new TreeMap<>(copiesById).toString().replaceAll("[{}]", "").replace('=', ':');
  }

  /** How many different order ids arrived. */
  int distinctOrders() {
    return copiesById.size();
  }

  /** Counts one copy of order {@code id}; returns how many copies of it have arrived. */
  private int record(String id) {
    copies.incrementAndGet();
    return copiesById.merge(id, 1, Integer::sum);
  }

  /** What every connection does with what the client sends: acks orders, logs plain notes. */
  private class Receiver extends WebSocketListener {
    volatile boolean answering = true;

    @Override
    public void onMessage(WebSocket ws, String text) {
      if (text.equals("ping")) {
        if (answering) ws.send("pong");
      } else if (text.startsWith("order:")) {
        String id = text.substring("order:".length());
        int seen = record(id);
        say(
            seen == 1
                ? "order " + id + ": new, processed; acks it"
                : "order "
                    + id
                    + " again (copy "
                    + seen
                    + "): a duplicate by its id, not processed twice; acks it");
        ws.send("ack:" + id);
      } else {
        say("receives \"" + text + "\" (a plain send: nothing to ack)");
      }
    }
  }

  /**
   * Accepts and stores orders, holding their acks until {@code batch} have arrived; then acks all
   * but the last and crashes. The client resends the unacknowledged one on its next connection.
   */
  private MockResponse takeOrdersThenCrash() {
    say("accepts: stores orders, acks them in a batch of " + batch);
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new Receiver() {
              final List<String> held = new ArrayList<>();
              volatile ScheduledFuture<?> fallback;

              @Override
              public void onOpen(WebSocket ws, Response response) {
                fallback =
                    clock.schedule(
                        () -> {
                          say("closes the connection: no orders came");
                          ws.close(1011, "no orders");
                        },
                        3 * TICK_MS,
                        TimeUnit.MILLISECONDS);
              }

              @Override
              public void onMessage(WebSocket ws, String text) {
                if (!text.startsWith("order:")) {
                  super.onMessage(ws, text);
                  return;
                }
                String id = text.substring("order:".length());
                record(id);
                held.add(id);
                if (held.size() < batch) return;
                fallback.cancel(false);
                List<String> acked = held.subList(0, held.size() - 1);
                say(
                    "stores orders "
                        + String.join(", ", held)
                        + "; acks "
                        + String.join(", ", acked)
                        + ", then crashes before acking "
                        + id
                        + ": 1011");
                for (String a : acked) ws.send("ack:" + a);
                ws.close(1011, "crashed before acking order " + id);
              }
            })
        .build();
  }

  /** Accepts, sends {@code count} ticks and answers pings; then goes silent or closes. */
  private MockResponse feed(int count, boolean thenGoSilent) {
    say(
        "accepts: "
            + count
            + " ticks, answering pings, then "
            + (thenGoSilent ? "silence" : "a close"));
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new Receiver() {
              @Override
              public void onOpen(WebSocket ws, Response response) {
                for (int i = 1; i <= count; i++) {
                  boolean last = i == count;
                  clock.schedule(
                      () -> {
                        String tick = "tick " + ticks.incrementAndGet();
                        if (last && thenGoSilent) { // said first, so it is printed before the tick
                          answering = false; // and the TCP connection stays open: a half-dead link
                          say(
                              "sends "
                                  + tick
                                  + ", then goes silent: answers nothing, keeps the TCP"
                                  + " connection open");
                        }
                        ws.send(tick);
                      },
                      i * TICK_MS,
                      TimeUnit.MILLISECONDS);
                }
                if (!thenGoSilent) {
                  clock.schedule(
                      () -> {
                        say("closes the connection: 1001 going away");
                        ws.close(1001, "going away");
                      },
                      // halfway between the last tick's heartbeat round trip and the next ping
                      count * TICK_MS + 750,
                      TimeUnit.MILLISECONDS);
                }
              }
            })
        .build();
  }

  private MockResponse acceptThenDrop() {
    say("accepts, then drops at once: 1011 backend unavailable");
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new Receiver() {
              @Override
              public void onOpen(WebSocket ws, Response response) {
                ws.close(1011, "backend unavailable");
              }
            })
        .build();
  }

  private static void say(String what) {
    Demo.say(Demo.GREY, "server   " + what);
  }
}
