package dev.lifeline.fault;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Closed;
import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.ReconnectingSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 9: nothing leaks. Thousands of reconnect cycles, and hundreds of sockets opened and
 * closed, leave thread count and heap where they were.
 *
 * <p><b>Which threads are counted.</b> Every live thread of the JVM except the fixtures' own:
 * MockWebServer's ({@code "MockWebServer ..."}) and the fault proxy's ({@code "fault-proxy-..."}),
 * which the fixtures stop when the test ends. Counting everything else, not only threads named
 * {@code "OkHttp..."} and {@code "RxComputation..."}, also catches a thread Lifeline might start
 * under any other name. The report breaks the OkHttp and RxComputation threads down by name.
 *
 * <p><b>Idle pool threads.</b> OkHttp keeps idle dispatcher and task-runner threads for 60 s. A
 * warm-up before the baseline fills those pools, so the reconnect-cycle test can compare totals.
 * With 500 sockets at once, the task runner's pool grows by however many close-time tasks happened
 * to overlap (measured: 12 to 44 threads from one round to the next), so that test counts the
 * <em>working</em> threads, those not parked waiting for work in a pool, and reports the idle ones.
 *
 * <p><b>Heap</b> is the used heap after {@link System#gc()}, measured while the closed socket is
 * still referenced, so anything it retained from its past connections is counted. The 16 MiB bound
 * catches a leak of about 16 KiB per cycle over 1 000 cycles (1.6 KiB over the 10 000 of the soak).
 */
class LeakTest {
  private static final int THREAD_SLACK = 2;
  private static final long HEAP_SLACK_BYTES = 16L * 1024 * 1024;
  private static final Backoff FAST = Backoff.exponential(ofMillis(5), ofMillis(10)); // unlimited

  @StartStop private final MockWebServer server = new MockWebServer();
  private final List<ReconnectingSocket> sockets = new ArrayList<>();

  @AfterEach
  void closeAll() {
    for (ReconnectingSocket socket : sockets) socket.close();
  }

  @Test
  @Timeout(120)
  void aThousandReconnectCyclesLeaveThreadsAndHeapAtBaseline() {
    reconnectCycles(1_000);
  }

  @Test
  @Tag("soak")
  @Timeout(900)
  void tenThousandReconnectCyclesLeaveThreadsAndHeapAtBaseline() {
    reconnectCycles(10_000);
  }

  @Test
  @Timeout(120)
  void fiveHundredSocketsOpenedAndClosedThreeTimesLeaveNoThreadBehind() {
    new ServerSide().quiet().serveOn(server);
    int perRound = 500;
    List<Census> after = new ArrayList<>();
    List<Long> roundMs = new ArrayList<>();
    Census before = Census.take();
    for (int round = 1; round <= 3; round++) {
      long start = System.nanoTime();
      CountDownLatch connected = new CountDownLatch(perRound);
      CountDownLatch closed = new CountDownLatch(perRound);
      List<ReconnectingSocket> opened = new ArrayList<>();
      for (int i = 0; i < perRound; i++) {
        ReconnectingSocket socket = track(build("/many"));
        opened.add(socket);
        socket
            .states()
            .filter(Connected.class::isInstance)
            .take(1)
            .subscribe(s -> connected.countDown());
        socket.states().filter(Closed.class::isInstance).subscribe(s -> closed.countDown());
        socket.connect();
      }
      await(connected, ofSeconds(60), "connected in round " + round);
      for (ReconnectingSocket socket : opened) socket.close();
      await(closed, ofSeconds(10), "closed in round " + round);
      awaitNoReaderThreads(ofSeconds(10));
      sockets.removeAll(opened);
      after.add(awaitWorkingAtMost(before.working() + THREAD_SLACK, ofSeconds(5)));
      roundMs.add(StateLog.millisBetween(start, System.nanoTime()));
    }

    assertThat(server.getRequestCount()).isEqualTo(3 * perRound);
    for (int round = 1; round <= 3; round++) {
      assertThat(after.get(round - 1).working())
          .as("threads still working after round %d (before: %s; after: %s)", round, before, after)
          .isLessThanOrEqualTo(before.working() + THREAD_SLACK);
    }

    ScenarioReport.row("9b. 500 sockets opened and closed, 3 rounds")
        .detection("–")
        .reconnect("–")
        .handshakes(server.getRequestCount())
        .note(
            "working threads %d before, %s after each round (bound +%d); idle pool threads"
                + " (OkHttp keeps them 60 s) %d before, %s after; no reader left; rounds took %s"
                + " ms; after round 3: %s",
            before.working(),
            after.stream().map(Census::working).collect(Collectors.toList()),
            THREAD_SLACK,
            before.idle(),
            after.stream().map(Census::idle).collect(Collectors.toList()),
            roundMs,
            after.get(2).byName())
        .write();
  }

  private void reconnectCycles(int cycles) {
    // Every connection is dropped by the server as soon as it opens: alternately a close frame
    // (1001) and an abrupt cancel, so both ways a link ends run every other cycle.
    AtomicInteger opens = new AtomicInteger();
    new ServerSide()
        .quiet()
        .onOpen(
            ws -> {
              if (opens.incrementAndGet() % 2 == 0) ws.cancel();
              else ws.close(1001, "going away");
            })
        .serveOn(server);

    // Warm-up: fill OkHttp's pools and load every class before taking the baseline.
    ReconnectingSocket warmUp = track(build("/warm-up"));
    Cycles warm = Cycles.of(warmUp, 50);
    warmUp.connect();
    await(warm.done, ofSeconds(30), "warm-up cycles");
    warmUp.close();
    await(warm.closed, ofSeconds(5), "warm-up closed");
    awaitNoReaderThreads(ofSeconds(10));
    drainRecordedRequests();
    Census threadsBefore = Census.take();
    long heapBefore = usedHeapAfterGc();

    ReconnectingSocket socket = track(build("/cycles"));
    Cycles counted = Cycles.of(socket, cycles);
    long start = System.nanoTime();
    socket.connect();
    await(counted.done, ofSeconds(cycles / 20 + 30), cycles + " reconnect cycles");
    long tookMs = StateLog.millisBetween(start, System.nanoTime());
    socket.close();
    await(counted.closed, ofSeconds(5), "closed");
    awaitNoReaderThreads(ofSeconds(10));
    drainRecordedRequests();
    Census threadsAfter = Census.take();
    long heapAfter = usedHeapAfterGc();

    assertThat(counted.afterClosed).as("states after Closed").hasValue(0);
    assertThat(counted.completed).as("states() completed").isTrue();
    assertThat(socket.state()).isEqualTo(ConnectionState.CLOSED);
    assertThat(threadsAfter.total())
        .as(
            "live threads after %d cycles and close(), fixtures' left out: %s, before %s",
            cycles, threadsAfter.byName(), threadsBefore.byName())
        .isLessThanOrEqualTo(threadsBefore.total() + THREAD_SLACK);
    assertThat(heapAfter - heapBefore)
        .as("heap growth after %d cycles, bytes", cycles)
        .isLessThanOrEqualTo(HEAP_SLACK_BYTES);

    ScenarioReport.row("9a. " + cycles + " reconnect cycles (server drops at once)")
        .detection("–")
        .reconnect(String.format("%.1f ms per cycle", (double) tookMs / cycles))
        .handshakes(server.getRequestCount() + " (incl. 50 warm-up)")
        .note(
            "live threads %d → %d (bound +%d; %d → %d working); heap %+.1f MiB (bound +16);"
                + " last retry number %d; 0 states after Closed",
            threadsBefore.total(),
            threadsAfter.total(),
            THREAD_SLACK,
            threadsBefore.working(),
            threadsAfter.working(),
            (heapAfter - heapBefore) / 1048576.0,
            counted.lastAttempt.get())
        .write();
  }

  private ReconnectingSocket build(String path) {
    return ReconnectingSocket.builder(Fixtures.wsUrl(server, path))
        .heartbeat(Fixtures.heartbeat())
        .retryPolicy(FAST)
        .random(new Random(1))
        .build();
  }

  private ReconnectingSocket track(ReconnectingSocket socket) {
    sockets.add(socket);
    return socket;
  }

  /**
   * Counts a socket's cycles without keeping its states (thousands of causes with stack traces
   * would themselves look like a leak).
   */
  private static final class Cycles {
    final CountDownLatch done;
    final CountDownLatch closed = new CountDownLatch(1);
    final AtomicInteger afterClosed = new AtomicInteger();
    final AtomicInteger lastAttempt = new AtomicInteger();
    final AtomicBoolean completed = new AtomicBoolean();

    private Cycles(int cycles) {
      done = new CountDownLatch(cycles);
    }

    static Cycles of(ReconnectingSocket socket, int cycles) {
      Cycles c = new Cycles(cycles);
      socket
          .states()
          .subscribe(
              s -> {
                if (c.closed.getCount() == 0) c.afterClosed.incrementAndGet();
                if (s instanceof WaitingToReconnect w) {
                  c.lastAttempt.set(w.retry());
                  c.done.countDown();
                }
                if (s instanceof Closed) c.closed.countDown();
              },
              e -> {},
              () -> c.completed.set(true));
      return c;
    }
  }

  private static void await(CountDownLatch latch, Duration within, String what) {
    try {
      assertThat(latch.await(within.toMillis(), MILLISECONDS))
          .as("%s within %s (%d missing)", what, within, latch.getCount())
          .isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /**
   * MockWebServer keeps every request it served; they are the fixture's memory, not the client's.
   */
  private void drainRecordedRequests() {
    try {
      while (server.takeRequest(1, MILLISECONDS) != null) {
        // dropped
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /**
   * Waits, within a bound, until no OkHttp dispatcher thread runs a call to this server: while it
   * runs a call (for a WebSocket: its reader loop), a dispatcher thread is named {@code "OkHttp "}
   * plus the call's URL, {@code "OkHttp http://localhost:PORT/..."}. A pool thread going back to
   * idle fires no event, so this polls.
   *
   * <p>Task runner threads are not readers and are left out here (they are in the thread count): an
   * idle one that waits for a timer keeps the name of the last task it ran, e.g. {@code "OkHttp
   * WebSocket http://localhost:PORT/... writer close"}, for as long as the timer is pending.
   */
  private void awaitNoReaderThreads(Duration within) {
    String marker = "OkHttp " + server.url("/"); // "OkHttp http://localhost:PORT/"
    long deadline = System.nanoTime() + within.toNanos();
    while (!threadsNamedWith(marker).isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(MILLISECONDS.toNanos(5));
    }
    assertThat(threadsNamedWith(marker)).as("reader threads still running after close()").isEmpty();
  }

  private static List<String> threadsNamedWith(String marker) {
    List<String> names = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith(marker)) names.add(t.getName());
    }
    return names;
  }

  /**
   * Polls, within a bound, until at most {@code limit} threads are working: a pool thread that
   * finished its task goes idle without an event.
   */
  private static Census awaitWorkingAtMost(int limit, Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    Census census = Census.take();
    while (census.working() > limit && System.nanoTime() < deadline) {
      LockSupport.parkNanos(MILLISECONDS.toNanos(10));
      census = Census.take();
    }
    return census;
  }

  /**
   * The live threads of the JVM except the fixtures' own ({@code "MockWebServer ..."}, {@code
   * "fault-proxy-..."}), split into idle pool threads (parked waiting for work in a {@code
   * ThreadPoolExecutor}, OkHttp's task runner or a fork-join pool; OkHttp's expire after 60 s idle)
   * and working ones (everything else: readers, timers, the JVM's and the test's own threads).
   */
  record Census(int total, int working, Map<String, Integer> byName) {
    int idle() {
      return total - working;
    }

    static Census take() {
      int total = 0;
      int working = 0;
      Map<String, Integer> byName = new TreeMap<>();
      for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
        Thread t = e.getKey();
        String name = t.getName();
        if (!t.isAlive() || name.startsWith("MockWebServer") || name.startsWith("fault-proxy-")) {
          continue;
        }
        total++;
        boolean idle = isIdle(e.getValue());
        if (!idle) working++;
        if (name.startsWith("OkHttp") || name.startsWith("RxComputation")) {
          byName.merge(name.replaceAll("\\d+", "#") + (idle ? " (idle)" : ""), 1, Integer::sum);
        }
      }
      return new Census(total, working, byName);
    }

    private static boolean isIdle(StackTraceElement[] stack) {
      for (StackTraceElement f : stack) {
        String at = f.getClassName() + "." + f.getMethodName();
        if (at.equals("java.util.concurrent.ThreadPoolExecutor.getTask")
            || at.equals("okhttp3.internal.concurrent.TaskRunner.awaitTaskToRun")
            || at.equals("java.util.concurrent.ForkJoinPool.awaitWork")) {
          return true;
        }
      }
      return false;
    }

    @Override
    public String toString() {
      return total + " threads, " + working + " working";
    }
  }

  private static long usedHeapAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) { // until it stops shrinking: finalizers and soft references settle
      System.gc();
      long now = rt.totalMemory() - rt.freeMemory();
      if (now >= used) break;
      used = now;
    }
    return used;
  }
}
