package dev.lifeline.examples;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
 * once the script has run out, accepts every connection and drops it at once.
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

  MisbehavingServer() {
    script.add(() -> feed(4, true)); // (a) healthy, then (b) silent
    script.add(
        () -> { // (c)
          say("answers the handshake with 503, Retry-After: 1");
          return new MockResponse.Builder().code(503).addHeader("Retry-After", "1").build();
        });
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

  /** Accepts, sends {@code count} ticks and answers pings; then goes silent or closes. */
  private MockResponse feed(int count, boolean thenGoSilent) {
    say(
        "accepts: "
            + count
            + " ticks, answering pings, then "
            + (thenGoSilent ? "silence" : "a close"));
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new WebSocketListener() {
              volatile boolean answering = true;

              @Override
              public void onOpen(WebSocket ws, Response response) {
                for (int i = 1; i <= count; i++) {
                  boolean last = i == count;
                  clock.schedule(
                      () -> {
                        ws.send("tick " + ticks.incrementAndGet());
                        if (last && thenGoSilent) {
                          answering = false; // and the TCP connection stays open: a half-dead link
                          say("goes silent: answers nothing, keeps the TCP connection open");
                        }
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
                      (count + 1) * TICK_MS,
                      TimeUnit.MILLISECONDS);
                }
              }

              @Override
              public void onMessage(WebSocket ws, String text) {
                if (answering && text.equals("ping")) ws.send("pong");
              }
            })
        .build();
  }

  private MockResponse acceptThenDrop() {
    say("accepts, then drops at once: 1011 backend unavailable");
    return new MockResponse.Builder()
        .webSocketUpgrade(
            new WebSocketListener() {
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
