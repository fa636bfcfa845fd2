package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static org.assertj.core.api.Assertions.fail;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.Correlation;
import dev.lifeline.GaveUpException;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import dev.lifeline.Outbox;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import dev.lifeline.internal.FakeWebSockets.FakeSocket;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.CompletableObserver;
import io.reactivex.rxjava3.core.Observer;
import io.reactivex.rxjava3.core.SingleObserver;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.functions.Consumer;
import io.reactivex.rxjava3.plugins.RxJavaPlugins;
import io.reactivex.rxjava3.subjects.CompletableSubject;
import java.io.IOException;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import okhttp3.Headers;
import okio.ByteString;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A seeded, replayable randomized test of the whole socket in virtual time, against the fake
 * transport. Each seed makes a {@link Schedule}: a {@link Setup} (outbox limits and policy,
 * time-to-live, high-water mark, heartbeat, ready hook, retry policy, reply timeout) and a list of
 * steps that freely interleave
 *
 * <ul>
 *   <li>the application: {@code send}, {@code sendWritten}, {@code sendAcknowledged} and {@code
 *       request} from several logical producers (payloads carry producer and sequence number),
 *       {@code connect}, {@code disconnect}, {@code reconnectNow}, disposing a pending send, and
 *       subscribers that throw or are slow (they let virtual time pass inside the callback);
 *   <li>the "server": opening, failing and dropping connections at any point (before open, during a
 *       ready hook, with frames still unwritten), close frames, answering some acknowledged
 *       messages (sometimes twice, sometimes late) and never others, events, heartbeat pongs, late
 *       callbacks of abandoned connections;
 *   <li>OkHttp's writer ({@code writeFrames}) and the clock (retries, attempt deadlines, reply
 *       timeouts, outbox expiry, heartbeat kills).
 * </ul>
 *
 * After the steps, every schedule settles the socket on a connection (connect, open, complete the
 * hook, let the writer empty every queue), checks that nothing is stuck, closes the socket, lets
 * OkHttp finish the graceful closes and checks what users are promised; {@link Run} lists the
 * invariants. The socket is driven only through {@link ReconnectingSocket} and the fakes.
 *
 * <p>A failure reports each broken invariant with its first seed, a minimal schedule (steps deleted
 * while the same invariant still breaks) with a trace of what happened, and a command that replays
 * it ({@code -Dmodel.seed=SEED}).
 */
class SocketModelTest {
  private static final long DEFAULT_BASE_SEED = 0x5EED_2026L;
  private static final long SOAK_BASE_SEED = 0x50A4_2026L;

  /** How many invariants a failing run shrinks and reports (each costs some replays). */
  private static final int MAX_REPORTED = 12;

  private static final long SHRINK_BUDGET_NANOS = 20_000_000_000L;

  /** How many values a slow observer takes its time over before it keeps up. */
  private static final int SLOW_VALUES = 8;

  @Test
  @Timeout(600)
  void randomSchedulesKeepEveryPromise() {
    String seed = System.getProperty("model.seed");
    if (seed != null) {
      replay(Long.parseLong(seed.trim()), System.getProperty("model.invariant"));
    } else {
      explore(
          Long.getLong("model.base", DEFAULT_BASE_SEED), Long.getLong("model.schedules", 10_000));
    }
  }

  @Test
  @Tag("soak")
  @Timeout(7_200)
  void aMillionRandomSchedulesKeepEveryPromise() {
    explore(Long.getLong("model.base", SOAK_BASE_SEED), Long.getLong("model.schedules", 1_000_000));
  }

  // --- Driving -----------------------------------------------------------------------------------

  private static void explore(long base, long count) {
    Map<String, Found> found = new TreeMap<>();
    long failing = 0;
    long started = System.nanoTime();
    Quiet quiet = new Quiet();
    try {
      for (long i = 0; i < count; i++) {
        long seed = seedOf(base, i);
        Schedule schedule = Generator.generate(seed);
        Run run = new Run(schedule, false);
        run.execute();
        if (run.violations.isEmpty()) continue;
        failing++;
        for (Violation v : run.violations.values()) {
          found.computeIfAbsent(v.invariant(), k -> new Found(schedule, v)).count++;
        }
      }
      long elapsed = System.nanoTime() - started;
      String rate =
          String.format(
              Locale.ROOT,
              "SocketModelTest: %d schedules in %.1f s (%.0f schedules/s), base seed %d, %d failing",
              count,
              elapsed / 1e9,
              count / (elapsed / 1e9),
              base,
              failing);
      System.out.println(rate);
      if (found.isEmpty()) return;
      StringBuilder report = new StringBuilder();
      report.append(rate).append("; broken invariants (schedules, first seed):\n");
      for (Map.Entry<String, Found> e : found.entrySet()) {
        report
            .append(String.format(Locale.ROOT, "  %-28s %7d  ", e.getKey(), e.getValue().count))
            .append(e.getValue().schedule.seed())
            .append('\n');
      }
      long shrinkDeadline = System.nanoTime() + SHRINK_BUDGET_NANOS;
      int reported = 0;
      for (Map.Entry<String, Found> e : found.entrySet()) {
        if (reported++ == MAX_REPORTED) {
          report.append("\n(further invariants not shrunk; replay their seeds)\n");
          break;
        }
        Found f = e.getValue();
        report
            .append('\n')
            .append(
                describeFailure(
                    f.schedule, e.getKey(), shrinkDeadline + SHRINK_BUDGET_NANOS / MAX_REPORTED));
      }
      System.out.println(report);
      fail(report.toString());
    } finally {
      quiet.close();
    }
  }

  private static void replay(long seed, @Nullable String invariant) {
    Quiet quiet = new Quiet();
    try {
      Schedule schedule = Generator.generate(seed);
      Run run = new Run(schedule, true);
      run.execute();
      if (run.violations.isEmpty()) {
        System.out.println("seed " + seed + " keeps every promise:\n" + schedule.describe());
        System.out.println(String.join("\n", run.trace));
        return;
      }
      String which = invariant != null ? invariant : run.violations.keySet().iterator().next();
      if (!run.violations.containsKey(which)) {
        fail(
            "seed " + seed + " does not break " + which + " but breaks " + run.violations.keySet());
      }
      String report =
          "seed "
              + seed
              + " breaks "
              + run.violations.keySet()
              + "\n\n"
              + describeFailure(schedule, which, System.nanoTime() + SHRINK_BUDGET_NANOS);
      System.out.println(report);
      fail(report);
    } finally {
      quiet.close();
    }
  }

  /** Shrinks {@code schedule} for {@code invariant} and describes the result, with its trace. */
  private static String describeFailure(Schedule schedule, String invariant, long deadline) {
    Schedule minimal = shrink(schedule, invariant, deadline);
    Run run = new Run(minimal, true);
    run.execute();
    Violation v = run.violations.get(invariant);
    StringBuilder out = new StringBuilder();
    out.append("=== ")
        .append(invariant)
        .append(" === seed ")
        .append(schedule.seed())
        .append(": ")
        .append(v != null ? v.detail() : "(did not reproduce)")
        .append('\n');
    out.append("minimal schedule (")
        .append(minimal.steps().size())
        .append(" of ")
        .append(schedule.steps().size())
        .append(" steps, then the fixed ending: settle on a connection, close, flush):\n");
    out.append(minimal.describe());
    out.append("trace of the minimal schedule:\n");
    List<String> trace = run.trace;
    int limit = 150;
    for (int i = 0; i < Math.min(limit, trace.size()); i++)
      out.append("  ").append(trace.get(i)).append('\n');
    if (trace.size() > limit) out.append("  ... ").append(trace.size() - limit).append(" more\n");
    out.append(
            "replay: mvn -B -q test -Dtest=SocketModelTest -Dsurefire.failIfNoSpecifiedTests=false")
        .append(" -Dmodel.seed=")
        .append(schedule.seed())
        .append(" -Dmodel.invariant=")
        .append(invariant)
        .append('\n');
    return out.toString();
  }

  /**
   * Deletes steps while {@code invariant} still breaks: chunks of halving size, then single steps,
   * until no single deletion keeps it broken (or the time budget is spent).
   */
  private static Schedule shrink(Schedule schedule, String invariant, long deadline) {
    Predicate<List<Step>> fails =
        steps -> {
          Run run = new Run(schedule.withSteps(steps), false);
          run.execute();
          return run.violations.containsKey(invariant);
        };
    List<Step> steps = new ArrayList<>(schedule.steps());
    for (int chunk = Math.max(1, steps.size() / 2); chunk >= 1; chunk /= 2) {
      boolean progress = true;
      while (progress && System.nanoTime() < deadline) {
        progress = false;
        for (int i = 0; i + chunk <= steps.size() && System.nanoTime() < deadline; ) {
          List<Step> candidate = new ArrayList<>(steps.subList(0, i));
          candidate.addAll(steps.subList(i + chunk, steps.size()));
          if (fails.test(candidate)) {
            steps = candidate;
            progress = true;
          } else {
            i += chunk;
          }
        }
        if (chunk > 1) break; // a finer pass follows
      }
    }
    return schedule.withSteps(steps);
  }

  /** SplitMix64 of the i-th schedule: neighbouring indices give unrelated seeds. */
  static long seedOf(long base, long i) {
    long z = base + (i + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static final class Found {
    final Schedule schedule;
    final Violation first;
    long count;

    Found(Schedule schedule, Violation first) {
      this.schedule = schedule;
      this.first = first;
    }
  }

  /**
   * Lifeline's log off while schedules run (at TRACE, as the tests configure it, a schedule writes
   * hundreds of lines), and RxJava's undeliverable errors collected instead of printed.
   */
  private static final class Quiet implements AutoCloseable {
    private final @Nullable Object logger;
    private final @Nullable Field level;
    private final int previousLevel;
    private final @Nullable Consumer<? super Throwable> previousHandler;

    Quiet() {
      Object l = LoggerFactory.getLogger(ReconnectingSocket.class);
      Field f = null;
      int previous = 0;
      for (Class<?> c = l.getClass(); c != null && f == null; c = c.getSuperclass()) {
        try {
          f = c.getDeclaredField("currentLogLevel");
          f.setAccessible(true);
          previous = f.getInt(l);
          f.setInt(l, 50); // SimpleLogger's LOG_LEVEL_OFF
        } catch (ReflectiveOperationException | RuntimeException e) {
          f = null;
        }
      }
      logger = l;
      level = f;
      previousLevel = previous;
      previousHandler = RxJavaPlugins.getErrorHandler();
      RxJavaPlugins.setErrorHandler(Run::undeliverable);
    }

    @Override
    public void close() {
      RxJavaPlugins.setErrorHandler(previousHandler);
      if (level != null) {
        try {
          level.setInt(logger, previousLevel);
        } catch (ReflectiveOperationException e) {
          // leave it off
        }
      }
    }
  }

  // --- Schedules ---------------------------------------------------------------------------------

  enum HookMode {
    NONE,
    IMMEDIATE,
    PENDING
  }

  /** Everything about a schedule that is not a step. */
  record Setup(
      int producers,
      int outboxMessages,
      long outboxBytes,
      boolean dropOldest,
      long ttlMs,
      long highWaterMark,
      long heartbeatIntervalMs,
      long heartbeatTimeoutMs,
      HookMode hook,
      long replyTimeoutMs,
      int maxRetries,
      long initialBackoffMs,
      long maxBackoffMs,
      long attemptTimeoutMs,
      long stableAfterMs) {

    boolean heartbeat() {
      return heartbeatIntervalMs > 0;
    }

    Outbox outbox() {
      Outbox o = Outbox.bounded(outboxMessages, outboxBytes);
      if (dropOldest) o = o.dropOldest();
      if (ttlMs > 0) o = o.timeToLive(ofMillis(ttlMs));
      return o;
    }

    @Override
    public String toString() {
      return "producers="
          + producers
          + ", "
          + outbox()
          + ", highWaterMark="
          + highWaterMark
          + ", heartbeat="
          + (heartbeat()
              ? "application(" + heartbeatIntervalMs + "ms, " + heartbeatTimeoutMs + "ms)"
              : "none")
          + ", readyHook="
          + hook
          + ", replyTimeout="
          + replyTimeoutMs
          + "ms, retry=exponential("
          + initialBackoffMs
          + "ms, "
          + maxBackoffMs
          + "ms)"
          + (maxRetries >= 0 ? ".maxRetries(" + maxRetries + ")" : "")
          + ", attemptTimeout="
          + attemptTimeoutMs
          + "ms, stableAfter="
          + stableAfterMs
          + "ms";
    }
  }

  enum Op {
    CONNECT,
    DISCONNECT,
    RECONNECT_NOW,
    SEND,
    OPEN,
    FAIL_ATTEMPT,
    DROP,
    SERVER_CLOSE,
    HOOK_COMPLETE,
    HOOK_FAIL,
    WRITE,
    ADVANCE,
    ACK,
    EVENT,
    PONG,
    REFUSE,
    LATE_CALLBACK,
    DISPOSE,
    THROWING_OBSERVER,
    SLOW_OBSERVER
  }

  enum Kind {
    PLAIN("m", "send"),
    WRITTEN("w", "sendWritten"),
    ACKED("req", "sendAcknowledged"),
    REQUEST("req", "request");

    final String prefix;
    final String call;

    Kind(String prefix, String call) {
      this.prefix = prefix;
      this.call = call;
    }

    boolean tracked() {
      return this != PLAIN;
    }

    boolean replied() {
      return this == ACKED || this == REQUEST;
    }
  }

  static final int[] CLOSE_CODES = {1000, 1001, 1011, 4000, 4001, 1002};
  static final String[] STREAMS = {"states()", "messages()", "undelivered()"};

  /**
   * One step. Its arguments pick among what exists when it runs ("the n-th pending reply"), so that
   * a step still means something after others were deleted; a step that finds nothing to act on
   * does nothing.
   */
  record Step(Op op, int a, int b, int c, int d) {
    String describe() {
      switch (op) {
        case SEND:
          {
            Kind kind = Kind.values()[b];
            return kind.call
                + " from producer "
                + a
                + ", "
                + c
                + " bytes of padding"
                + (kind == Kind.PLAIN && (d & 1) != 0 ? ", binary" : "")
                + (kind.replied() && (d & 2) != 0 ? ", never answered" : "");
          }
        case FAIL_ATTEMPT:
          return "the server fails the pending attempt: " + attemptFailure(a);
        case SERVER_CLOSE:
          return "the server sends a close frame, code " + CLOSE_CODES[a % CLOSE_CODES.length];
        case HOOK_COMPLETE:
          return "a pending ready hook completes (pick " + a + ")";
        case HOOK_FAIL:
          return "a pending ready hook fails (pick " + a + ")";
        case WRITE:
          return "OkHttp's writer writes "
              + a
              + " frame(s) of "
              + (b % 4 != 0 ? "the newest connection with some queued" : "connection pick " + b)
              + (c > 0 ? ", then " + c + "ms pass" : "");
        case ADVANCE:
          return a + "ms pass";
        case ACK:
          return b % 5 == 0
              ? "the server answers an already answered or finished message again (pick " + a + ")"
              : "the server answers a message it received (pick " + a + ")";
        case EVENT:
          return "the server sends an event";
        case PONG:
          return "the server sends a heartbeat pong";
        case REFUSE:
          return "OkHttp starts refusing sends on the newest connection (it is closing)";
        case LATE_CALLBACK:
          return "a late callback of an abandoned or closing connection (pick " + a + ")";
        case DISPOSE:
          return "a pending sendWritten/sendAcknowledged/request is disposed (pick " + a + ")";
        case THROWING_OBSERVER:
          return "an Observer whose onNext throws subscribes to " + STREAMS[a % STREAMS.length];
        case SLOW_OBSERVER:
          return "a slow Observer (" + b + "ms per value) subscribes to " + STREAMS[a % 3];
        case CONNECT:
          return "connect()";
        case DISCONNECT:
          return "disconnect()";
        case RECONNECT_NOW:
          return "reconnectNow()";
        case OPEN:
          return "the server accepts the pending attempt (101)";
        case DROP:
          return "the newest connection drops (reset)";
      }
      throw new AssertionError(op);
    }
  }

  static String attemptFailure(int a) {
    switch (a % 6) {
      case 0:
      case 1:
        return "connect failed (IOException)";
      case 2:
      case 3:
        return "HTTP 503";
      case 4:
        return "HTTP 429, Retry-After: 1";
      default:
        return "HTTP 401 (terminal)";
    }
  }

  record Schedule(long seed, Setup setup, List<Step> steps) {
    Schedule withSteps(List<Step> steps) {
      return new Schedule(seed, setup, List.copyOf(steps));
    }

    String describe() {
      StringBuilder out = new StringBuilder();
      out.append("  setup: ").append(setup).append('\n');
      for (int i = 0; i < steps.size(); i++) {
        out.append(String.format(Locale.ROOT, "  %3d. ", i + 1))
            .append(steps.get(i).describe())
            .append('\n');
      }
      return out.toString();
    }
  }

  /** Makes a schedule from a seed; the same seed always makes the same schedule. */
  static final class Generator {
    private static final Op[] TABLE;

    static {
      Map<Op, Integer> weights = new LinkedHashMap<>();
      weights.put(Op.SEND, 60);
      weights.put(Op.WRITE, 24);
      weights.put(Op.ADVANCE, 28);
      weights.put(Op.OPEN, 16);
      weights.put(Op.ACK, 16);
      weights.put(Op.HOOK_COMPLETE, 8);
      weights.put(Op.DROP, 8);
      weights.put(Op.CONNECT, 6);
      weights.put(Op.FAIL_ATTEMPT, 6);
      weights.put(Op.EVENT, 4);
      weights.put(Op.PONG, 4);
      weights.put(Op.SERVER_CLOSE, 4);
      weights.put(Op.RECONNECT_NOW, 4);
      weights.put(Op.DISCONNECT, 3);
      weights.put(Op.LATE_CALLBACK, 2);
      weights.put(Op.DISPOSE, 2);
      weights.put(Op.HOOK_FAIL, 2);
      weights.put(Op.REFUSE, 1);
      weights.put(Op.THROWING_OBSERVER, 1);
      weights.put(Op.SLOW_OBSERVER, 2);
      List<Op> table = new ArrayList<>();
      weights.forEach((op, w) -> table.addAll(Collections.nCopies(w, op)));
      TABLE = table.toArray(new Op[0]);
    }

    static Schedule generate(long seed) {
      Random r = new Random(seed);
      Setup setup = setup(r);
      int length = r.nextInt(5) == 0 ? 5 + r.nextInt(20) : 20 + r.nextInt(120);
      List<Step> steps = new ArrayList<>(length);
      if (r.nextInt(10) != 0) steps.add(new Step(Op.CONNECT, 0, 0, 0, 0));
      while (steps.size() < length) steps.add(step(r, setup));
      return new Schedule(seed, setup, List.copyOf(steps));
    }

    private static Setup setup(Random r) {
      long initialBackoff = 50 + r.nextInt(2_000);
      boolean heartbeat = r.nextInt(3) == 0;
      int hook = r.nextInt(5);
      return new Setup(
          1 + r.nextInt(4),
          r.nextInt(3) != 0 ? 1 + r.nextInt(8) : 1_000,
          r.nextInt(3) == 0 ? 100 + r.nextInt(900) : 4L << 20,
          r.nextInt(3) == 0,
          r.nextInt(3) == 0 ? 200 + r.nextInt(8_000) : 0,
          r.nextInt(3) == 0 ? 1L << 20 : 32 + r.nextInt(480),
          heartbeat ? 1_000 + r.nextInt(9_000) : 0,
          heartbeat ? 500 + r.nextInt(4_500) : 0,
          hook < 2 ? HookMode.NONE : hook == 2 ? HookMode.IMMEDIATE : HookMode.PENDING,
          1_000 + r.nextInt(19_000),
          r.nextInt(3) == 0 ? r.nextInt(4) : -1,
          initialBackoff,
          initialBackoff + r.nextInt(30_000),
          1_000 + r.nextInt(19_000),
          200 + r.nextInt(4_800));
    }

    private static Step step(Random r, Setup setup) {
      Op op = TABLE[r.nextInt(TABLE.length)];
      switch (op) {
        case SEND:
          {
            int size = r.nextInt(8) == 0 ? 200 + r.nextInt(400) : r.nextInt(80);
            int kind = r.nextInt(10);
            return new Step(
                op,
                r.nextInt(setup.producers()),
                kind < 5 ? 0 : kind < 7 ? 1 : kind < 9 ? 2 : 3,
                size,
                (r.nextInt(4) == 0 ? 1 : 0) | (r.nextInt(4) == 0 ? 2 : 0));
          }
        case WRITE:
          return new Step(
              op,
              r.nextInt(6) == 0 ? 5 + r.nextInt(10) : 1 + r.nextInt(3),
              r.nextInt(100),
              r.nextInt(4) == 0 ? 0 : 10,
              0);
        case ADVANCE:
          {
            int p = r.nextInt(100);
            int ms =
                p < 50
                    ? 1 + r.nextInt(50)
                    : p < 85 ? 100 + r.nextInt(1_900) : 2_000 + r.nextInt(28_000);
            return new Step(op, ms, 0, 0, 0);
          }
        case SLOW_OBSERVER:
          return new Step(op, r.nextInt(3), 1 + r.nextInt(r.nextBoolean() ? 20 : 3_000), 0, 0);
        default:
          return new Step(op, r.nextInt(100), r.nextInt(100), 0, 0);
      }
    }
  }

  record Violation(String invariant, String detail) {}

  // --- One run -----------------------------------------------------------------------------------

  /**
   * Runs a schedule and checks, during and after it, what users are promised:
   *
   * <ul>
   *   <li><b>plain-lost / plain-duplicated / rejected-leaked</b>: each accepted {@code send} (SENT
   *       or QUEUED) is, exactly once, either written on some connection or reported on {@code
   *       undelivered()}; a rejected one neither;
   *   <li><b>tracked-reported</b>: messages of {@code sendWritten}/{@code sendAcknowledged}/{@code
   *       request} are never reported on {@code undelivered()}: their own call fails instead;
   *   <li><b>written-early / written-twice</b>: {@code sendWritten} completes only once its message
   *       has left OkHttp's queue, which happens at most once;
   *   <li><b>ack-without-reply / reply-mismatch</b>: acknowledged sends complete only after the
   *       server answered them, a request with the answer;
   *   <li><b>terminal-twice / signal-after-dispose / unterminated-after-close / error-type</b>:
   *       every Completable/Single terminates exactly once (unless disposed), by close() at the
   *       latest, with one of the documented errors;
   *   <li><b>reply-timeout-early / reply-timeout-late</b>: a reply timeout fires when it is due;
   *   <li><b>expired-early / ttl-late / expired-sent-late / overflow-without-dropOldest /
   *       dropOldest-refused / send-result</b>: the outbox's documented behaviour;
   *   <li><b>order / retransmission-order / order-across-connections</b>: on every connection each
   *       producer's frames are in send order, retransmissions come before messages first sent on
   *       that connection, and first sends keep each producer's order across connections;
   *   <li><b>state-transition / state-mismatch / observer-starved</b>: only legal transitions with
   *       consistent attempt numbers, {@code state()} agrees with {@code states()}, and an observer
   *       that throws does not starve the others;
   *   <li><b>emission-after-terminal / stream-not-completed / messages-error / reply-emitted /
   *       inbound</b>: stream contracts; replies and pongs are not emitted; events of the current
   *       connection are emitted once, in order;
   *   <li><b>liveness / resend</b>: settled on a connection whose writer has emptied its queue, no
   *       message still waits and every unanswered acknowledged message was resent on it;
   *   <li><b>pending-tasks / connection-leak / after-close / undeliverable / api-threw</b>: close()
   *       leaves no timer and no open connection, later calls are refused, no callback's error is
   *       lost, and no API call throws.
   * </ul>
   */
  static final class Run {
    /** The run on this thread, for RxJava's global error handler. */
    private static final ThreadLocal<Run> CURRENT = new ThreadLocal<>();

    private final Schedule schedule;
    private final Setup setup;
    private final boolean tracing;
    final List<String> trace = new ArrayList<>();
    final Map<String, Violation> violations = new LinkedHashMap<>();

    private final Harness h = new Harness();
    private ReconnectingSocket socket;
    private final List<Msg> msgs = new ArrayList<>();
    private final Map<String, Msg> byPayload = new HashMap<>();
    private final int[] nextSeq;
    private final List<Hook> hooks = new ArrayList<>();
    private final Set<String> answered = new HashSet<>();
    private final Set<FakeSocket> serverClosed = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<FakeSocket> finished = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Integer> scanned = new ArrayList<>();

    private final List<ConnectionState> stateLog = new ArrayList<>();
    private final List<Message> inboundLog = new ArrayList<>();
    private final List<NotDeliveredException> undeliveredLog = new ArrayList<>();
    private final List<Late<?>> lates = new ArrayList<>();
    private Recorder<Message> messages;
    private Recorder<ConnectionState> states;
    private Recorder<NotDeliveredException> undelivered;
    private Recorder<Duration> roundTrips;

    private int eventsSent;
    private int lastEventSeen = -1;
    private int lastConnectingAttempt = -1;
    private @Nullable FakeSocket writing;
    private @Nullable FakeSocket opening;
    private int pongsSent;

    /**
     * Virtual time spent inside slow subscribers so far. The socket runs its events one at a time,
     * so while a subscriber holds its thread, work the socket schedules for itself (expiring the
     * outbox) waits: by at most this much.
     */
    private long slowMillis;

    private boolean closeCalled;
    private boolean messagesGaveUp;
    private String where = "setup";

    Run(Schedule schedule, boolean tracing) {
      this.schedule = schedule;
      this.setup = schedule.setup();
      this.tracing = tracing;
      this.nextSeq = new int[setup.producers()];
    }

    static void undeliverable(Throwable e) {
      Run run = CURRENT.get();
      if (run != null) {
        run.violate(
            "undeliverable", "RxJava could not deliver an error (a second terminal?): " + e);
      }
    }

    void execute() {
      CURRENT.set(this);
      try {
        build();
        List<Step> steps = schedule.steps();
        for (int i = 0; i < steps.size(); i++) {
          Step step = steps.get(i);
          where = "step " + (i + 1) + " (" + step.describe() + ")";
          String what;
          try {
            what = apply(step);
          } catch (Throwable t) {
            what = "threw " + t;
            violate("api-threw", "the step threw " + t);
          }
          if (tracing)
            trace(String.format(Locale.ROOT, "%3d. %s: %s", i + 1, step.describe(), what));
          afterStep();
        }
        where = "the ending";
        finish();
      } catch (Throwable t) {
        violate("api-threw", "threw " + stackOf(t));
      } finally {
        CURRENT.remove();
      }
    }

    private static String stackOf(Throwable t) {
      StringBuilder out = new StringBuilder(t.toString());
      StackTraceElement[] stack = t.getStackTrace();
      for (int i = 0; i < Math.min(8, stack.length); i++)
        out.append("\n      at ").append(stack[i]);
      return out.toString();
    }

    static @Nullable Reason reasonOf(@Nullable Throwable e) {
      return e instanceof NotDeliveredException n ? n.reason() : null;
    }

    static boolean isRefusal(@Nullable Reason reason) {
      return reason == Reason.OUTBOX_FULL || reason == Reason.TOO_LARGE;
    }

    void violate(String invariant, String detail) {
      if (violations.containsKey(invariant)) return;
      String full = detail + " [at t=" + now() + "ms, during " + where + "]";
      violations.put(invariant, new Violation(invariant, full));
      if (tracing) trace("     !! " + invariant + ": " + full);
    }

    private void trace(String line) {
      trace.add(line);
    }

    private long now() {
      return h.scheduler.nowMillis();
    }

    // --- Setup ---

    private void build() {
      h.outbox = setup.outbox();
      h.highWaterMark = setup.highWaterMark();
      h.heartbeat =
          setup.heartbeat()
              ? Heartbeat.application(
                  ofMillis(setup.heartbeatIntervalMs()),
                  ofMillis(setup.heartbeatTimeoutMs()),
                  "ping",
                  "pong")
              : Heartbeat.none();
      Backoff backoff =
          Backoff.exponential(ofMillis(setup.initialBackoffMs()), ofMillis(setup.maxBackoffMs()))
              .jitter(0);
      h.retryPolicy = setup.maxRetries() >= 0 ? backoff.maxRetries(setup.maxRetries()) : backoff;
      h.attemptTimeout = ofMillis(setup.attemptTimeoutMs());
      h.stableAfter = ofMillis(setup.stableAfterMs());
      h.correlation =
          Correlation.by(Run::idOfOutgoing, Run::idOfIncoming)
              .timeout(ofMillis(setup.replyTimeoutMs()));
      if (setup.hook() == HookMode.IMMEDIATE) {
        h.onReady =
            session -> {
              session.send("hook:hello");
              return Completable.complete();
            };
      } else if (setup.hook() == HookMode.PENDING) {
        h.onReady =
            session -> {
              session.send("hook:hello");
              FakeSocket fake = opening != null ? opening : h.fakes.last();
              Hook hook = new Hook(fake, CompletableSubject.create());
              hooks.add(hook);
              if (tracing) trace("     ready hook started on connection #" + index(fake));
              return hook.subject;
            };
      }
      h.fakes.queueGrows = true;
      h.fakes.clock = h.scheduler::nowMillis;
      socket = h.build();
      states = new Recorder<>("states()", stateLog, this::checkState, null);
      socket.states().subscribe(states);
      messages = messagesRecorder();
      socket.messages().subscribe(messages);
      undelivered = new Recorder<>("undelivered()", undeliveredLog, this::checkUndelivered, null);
      socket.undelivered().subscribe(undelivered);
      roundTrips = new Recorder<>("roundTripTimes()", new ArrayList<>(), this::checkRtt, null);
      socket.roundTripTimes().subscribe(roundTrips);
    }

    private Recorder<Message> messagesRecorder() {
      return new Recorder<>(
          "messages()",
          inboundLog,
          this::checkInbound,
          e -> {
            if (!(e instanceof GaveUpException)) {
              violate("messages-error", "messages() signalled " + e + ", not a GaveUpException");
            }
            if (!(socket.state() instanceof ConnectionState.Failed)) {
              violate(
                  "messages-error",
                  "messages() signalled " + e + " while the state is " + socket.state());
            }
            // A subscriber who arrives while the socket is Failed learns of the give-up at once;
            // the next connect() starts the stream the model subscribes to again.
            List<Object> late = new ArrayList<>();
            socket.messages().subscribe(late::add, late::add).dispose();
            if (late.size() != 1 || late.get(0) != e)
              violate(
                  "messages-error",
                  "a messages() subscriber arriving after the give-up got "
                      + late
                      + ", not the give-up");
            messagesGaveUp = true;
          });
    }

    /** {@code connect()}, then a new messages() subscriber if the last one saw a give-up. */
    private void connect() {
      socket.connect();
      if (messagesGaveUp) {
        messagesGaveUp = false;
        messages = messagesRecorder();
        socket.messages().subscribe(messages);
      }
    }

    static @Nullable String field(Message m, int i) {
      if (!(m instanceof Message.Text t)) return null;
      String[] parts = t.text().split(":", 4);
      return parts.length > i ? parts[i] : null;
    }

    static @Nullable String idOfOutgoing(Message m) {
      return "req".equals(field(m, 0)) ? field(m, 1) : null;
    }

    static @Nullable String idOfIncoming(Message m) {
      String kind = field(m, 0);
      return "ack".equals(kind) || "reply".equals(kind) ? field(m, 1) : null;
    }

    static String text(Object frame) {
      if (frame instanceof String s) return s;
      if (frame instanceof ByteString b) return b.utf8();
      if (frame instanceof Message.Text t) return t.text();
      return ((Message.Binary) frame).bytes().utf8();
    }

    private int index(FakeSocket fake) {
      List<FakeSocket> created = h.fakes.created;
      for (int i = 0; i < created.size(); i++) if (created.get(i) == fake) return i + 1;
      return -1;
    }

    private @Nullable FakeSocket last() {
      return h.fakes.created.isEmpty() ? null : h.fakes.last();
    }

    private static boolean dead(FakeSocket f) {
      return f.failed || f.cancelled;
    }

    /** The newest connection if it is open and neither side has started closing it. */
    private @Nullable FakeSocket serverSide() {
      FakeSocket f = last();
      return f != null && f.opened && !dead(f) && f.closeCode == null && !serverClosed.contains(f)
          ? f
          : null;
    }

    private String fate(FakeSocket f) {
      if (f.failed) return "failed by the server";
      if (f.cancelled) return "cancelled by the socket";
      if (serverClosed.contains(f)) return "closed by the server";
      if (f.closeCode != null) return "closed by the socket (" + f.closeCode + ")";
      return "still open";
    }

    // --- Steps ---

    private String apply(Step step) {
      FakeSocket f;
      switch (step.op()) {
        case CONNECT:
          connect();
          return "state " + socket.state();
        case DISCONNECT:
          socket.disconnect();
          return "state " + socket.state();
        case RECONNECT_NOW:
          socket.reconnectNow();
          return "state " + socket.state();
        case SEND:
          return send(step);
        case OPEN:
          f = last();
          if (f == null || f.opened || dead(f)) return "nothing to open";
          open(f);
          return "opened #" + index(f) + ", state " + socket.state();
        case FAIL_ATTEMPT:
          f = last();
          if (f == null || f.opened || dead(f)) return "no pending attempt";
          failAttempt(f, step.a());
          return "failed #" + index(f) + ", state " + socket.state();
        case DROP:
          f = last();
          if (f == null || dead(f) || f.closeCode != null || serverClosed.contains(f)) {
            return "nothing to drop";
          }
          {
            int unwritten = f.sent.size() - f.writtenCount;
            f.drop();
            return "dropped #"
                + index(f)
                + (f.opened ? "" : " before it opened")
                + " with "
                + unwritten
                + " frame(s) unwritten, state "
                + socket.state();
          }
        case SERVER_CLOSE:
          f = serverSide();
          if (f == null) return "no open connection";
          serverClosed.add(f);
          f.serverClose(CLOSE_CODES[step.a() % CLOSE_CODES.length], "bye");
          return "closed #" + index(f) + ", state " + socket.state();
        case HOOK_COMPLETE:
        case HOOK_FAIL:
          {
            Hook hook = pickHook(step.a());
            if (hook == null) return "no pending hook";
            if (step.op() == Op.HOOK_COMPLETE) {
              hook.subject.onComplete();
            } else {
              hook.subject.onError(new IllegalStateException("subscription refused"));
            }
            return "hook of #" + index(hook.fake) + ", state " + socket.state();
          }
        case WRITE:
          {
            String what = writeStep(step);
            if (step.c() > 0) h.scheduler.advanceMonotonic(ofMillis(step.c()));
            return what;
          }
        case ADVANCE:
          h.scheduler.advanceMonotonic(ofMillis(step.a()));
          return "t=" + now() + "ms, state " + socket.state();
        case ACK:
          return ack(step);
        case EVENT:
          return event();
        case PONG:
          f = serverSide();
          if (f == null || !setup.heartbeat()) return "no open connection or no heartbeat";
          f.receive("pong");
          pongsSent++;
          return "pong on #" + index(f);
        case REFUSE:
          f = serverSide();
          if (f == null) return "no open connection";
          f.accepting = false;
          return "#" + index(f) + " refuses sends";
        case LATE_CALLBACK:
          return late(step.a());
        case DISPOSE:
          {
            List<Msg> pending = new ArrayList<>();
            for (Msg m : msgs) if (m.tracked != null && m.tracked.pending()) pending.add(m);
            if (pending.isEmpty()) return "nothing pending";
            Msg m = pending.get(step.a() % pending.size());
            m.tracked.dispose();
            return "disposed " + m.payload;
          }
        case THROWING_OBSERVER:
          return subscribe(step.a() % 3, true, 0);
        case SLOW_OBSERVER:
          return subscribe(step.a() % 3, false, step.b());
      }
      throw new AssertionError(step.op());
    }

    private void open(FakeSocket f) {
      opening = f;
      try {
        f.open();
      } finally {
        opening = null;
      }
    }

    private void failAttempt(FakeSocket f, int variant) {
      switch (variant % 6) {
        case 0:
        case 1:
          f.fail(new IOException("connect failed"));
          break;
        case 2:
        case 3:
          f.rejectHandshake(503, Headers.of());
          break;
        case 4:
          f.rejectHandshake(429, Headers.of("Retry-After", "1"));
          break;
        default:
          f.rejectHandshake(401, Headers.of());
      }
    }

    private @Nullable Hook pickHook(int a) {
      List<Hook> pending = new ArrayList<>();
      for (Hook hook : hooks)
        if (!hook.subject.hasComplete() && !hook.subject.hasThrowable()) pending.add(hook);
      if (pending.isEmpty()) return null;
      Hook newest = pending.get(pending.size() - 1);
      if (a % 3 != 0 && newest.fake == last()) return newest;
      return pending.get(a % pending.size());
    }

    private String send(Step step) {
      int producer = step.a() % setup.producers();
      Kind kind = Kind.values()[step.b() % 4];
      int seq = nextSeq[producer]++;
      String id = producer + "." + seq;
      String payload =
          kind.prefix
              + ":"
              + id
              + ":"
              + (kind == Kind.REQUEST ? "r" : "a")
              + ":"
              + "x".repeat(step.c());
      boolean binary = kind == Kind.PLAIN && (step.d() & 1) != 0;
      Msg m = new Msg(kind, payload, id, producer, seq, now(), (step.d() & 2) == 0, binary);
      msgs.add(m);
      byPayload.put(payload, m);
      switch (kind) {
        case PLAIN:
          m.result = binary ? socket.send(ByteString.encodeUtf8(payload)) : socket.send(payload);
          checkSendResult(m);
          return payload(m) + " -> " + m.result;
        case WRITTEN:
          m.tracked = new Tracked(m);
          socket.sendWritten(Message.text(payload)).subscribe(m.tracked);
          break;
        case ACKED:
          m.tracked = new Tracked(m);
          h.replies.sendAcknowledged(Message.text(payload)).subscribe(m.tracked);
          break;
        case REQUEST:
          m.tracked = new Tracked(m);
          h.replies.request(Message.text(payload)).subscribe(m.tracked);
          break;
      }
      return payload(m) + (m.tracked.terminals > 0 ? " -> " + m.tracked.outcome() : " subscribed");
    }

    private static String payload(Msg m) {
      int cut = m.payload.lastIndexOf(':');
      return m.payload.substring(0, cut) + "+" + (m.payload.length() - cut - 1) + "B";
    }

    private void checkSendResult(Msg m) {
      SendResult r = m.result;
      boolean fitsTheOutbox = m.payload.length() <= setup.outboxBytes();
      if (r == SendResult.REJECTED_CLOSED
          || (r == SendResult.REJECTED_TOO_LARGE && fitsTheOutbox)) {
        violate("send-result", payload(m) + " -> " + r + " before close(), for a small message");
      }
      if (r == SendResult.REJECTED_OUTBOX_FULL
          && setup.dropOldest()
          && setup.outboxMessages() > 0
          && fitsTheOutbox
          && !outboxMayHoldOnlyMessagesAConnectionTook()) {
        violate(
            "dropOldest-refused",
            payload(m)
                + " -> REJECTED_OUTBOX_FULL although the outbox drops its oldest messages to make"
                + " room and the message fits in it alone");
      }
    }

    /**
     * dropOldest never drops a message a connection already took (a retransmission, or one back
     * from a dead connection's queue): while any such message is unresolved, a full outbox may
     * refuse a new one.
     */
    private boolean outboxMayHoldOnlyMessagesAConnectionTook() {
      for (Msg other : msgs) {
        boolean unresolved =
            other.tracked != null
                ? other.tracked.pending()
                : other.written == 0 && other.reported == 0;
        if (unresolved && !other.sentOn.isEmpty()) return true;
      }
      return false;
    }

    private String writeStep(Step step) {
      List<FakeSocket> candidates = new ArrayList<>();
      for (FakeSocket f : h.fakes.created) {
        if (!dead(f) && f.writtenCount < f.sent.size()) candidates.add(f);
      }
      if (candidates.isEmpty()) return "nothing queued";
      FakeSocket f =
          step.b() % 4 != 0
              ? candidates.get(candidates.size() - 1)
              : candidates.get(step.b() % candidates.size());
      int n = write(f, step.a());
      return "wrote " + n + " on #" + index(f);
    }

    /** OkHttp's writer writes up to {@code frames} frames of {@code f}, one at a time. */
    private int write(FakeSocket f, int frames) {
      int n = 0;
      while (n < frames && f.writtenCount < f.sent.size() && !dead(f)) {
        Object frame = f.sent.get(f.writtenCount);
        Msg m = byPayload.get(text(frame));
        writing = f;
        try {
          f.writeFrames(1);
        } finally {
          writing = null;
        }
        if (m != null) m.written++;
        n++;
      }
      return n;
    }

    /** Whether {@code m} has left some connection's queue, or is leaving it right now. */
    private boolean writtenNow(Msg m) {
      if (m.written > 0) return true;
      FakeSocket f = writing;
      return f != null
          && f.writtenCount < f.sent.size()
          && m.payload.equals(text(f.sent.get(f.writtenCount)));
    }

    private String ack(Step step) {
      FakeSocket f = serverSide();
      if (f == null) return "no open connection";
      scanSent();
      List<Msg> candidates = new ArrayList<>();
      boolean again = step.b() % 5 == 0;
      for (Msg m : msgs) {
        if (!m.kind.replied()) continue;
        if (again
            ? answered.contains(m.id) || !m.tracked.pending()
            : m.answerable && m.written > 0 && !answered.contains(m.id)) {
          candidates.add(m);
        }
      }
      if (candidates.isEmpty()) return "nothing to answer";
      Msg m = candidates.get(step.a() % candidates.size());
      answer(f, m);
      return "answered "
          + m.id
          + " on #"
          + index(f)
          + (m.tracked.terminals > 0 ? ": " + m.tracked.outcome() : "");
    }

    private void answer(FakeSocket f, Msg m) {
      answered.add(m.id);
      f.receive(m.kind == Kind.REQUEST ? "reply:" + m.id + ":answer-" + m.id : "ack:" + m.id);
    }

    private String event() {
      FakeSocket f = serverSide();
      if (f == null) return "no open connection";
      boolean connected = socket.state() instanceof ConnectionState.Connected;
      int before = inboundLog.size();
      Recorder<Message> recorder = messages;
      int n = eventsSent++;
      f.receive("ev:" + n);
      if (connected && recorder == messages && !recorder.terminated) {
        if (inboundLog.size() == before) {
          violate(
              "inbound",
              "ev:"
                  + n
                  + " arrived on the current connection #"
                  + index(f)
                  + " while Connected, but messages() did not emit it");
        }
      }
      return "ev:" + n + " on #" + index(f);
    }

    private String late(int a) {
      List<FakeSocket> candidates = new ArrayList<>();
      for (FakeSocket f : h.fakes.created) {
        if (finished.contains(f)) continue;
        if ((f.cancelled && !f.failed) || (!dead(f) && f.closeCode != null)) candidates.add(f);
      }
      if (candidates.isEmpty()) return "no abandoned or closing connection";
      FakeSocket f = candidates.get(a % candidates.size());
      finished.add(f);
      if (f.cancelled && !f.failed && !f.opened && a % 2 == 0) {
        open(f);
        return "#" + index(f) + " opens after it was cancelled";
      }
      if (f.cancelled) {
        f.fail(new IOException("Canceled"));
        return "#" + index(f) + " reports its cancellation as a failure";
      }
      int n = f.sent.size() - f.writtenCount;
      write(f, n);
      f.closed();
      return "#" + index(f) + " wrote its last " + n + " frame(s) and finished closing";
    }

    private String subscribe(int stream, boolean throwing, int slowMs) {
      Observer<Object> observer =
          new Observer<Object>() {
            int values;

            @Override
            public void onSubscribe(Disposable d) {}

            @Override
            public void onNext(Object value) {
              values++;
              if (throwing) {
                // Not on the state replayed at subscription: that would throw out of subscribe().
                if (stream != 0 || values > 1) throw new IllegalStateException("observer bug");
              } else if (values <= SLOW_VALUES) {
                // Slow for its first values only. Virtual time passes on this thread, and the
                // timers that fire meanwhile emit more values that this same call then delivers:
                // an observer slower than the socket's own events, forever, would hold the run.
                slowMillis += slowMs;
                h.scheduler.advanceMonotonic(ofMillis(slowMs));
              }
            }

            @Override
            public void onError(Throwable e) {}

            @Override
            public void onComplete() {}
          };
      switch (stream) {
        case 0:
          socket.states().subscribe(observer);
          if (throwing)
            lates.add(new Late<>("states()", stateLog, stateLog.size() - 1, socket.states()));
          break;
        case 1:
          socket.messages().subscribe(observer);
          if (throwing)
            lates.add(new Late<>("messages()", inboundLog, inboundLog.size(), socket.messages()));
          break;
        default:
          socket.undelivered().subscribe(observer);
          if (throwing)
            lates.add(
                new Late<>(
                    "undelivered()", undeliveredLog, undeliveredLog.size(), socket.undelivered()));
      }
      return "subscribed";
    }

    // --- Checks during the run ---

    private void checkState(ConnectionState next) {
      if (tracing) trace("     state -> " + next);
      ConnectionState prev = stateLog.size() >= 2 ? stateLog.get(stateLog.size() - 2) : null;
      if (prev == null) {
        if (!(next instanceof ConnectionState.Idle))
          violate("state-transition", "the first state is " + next + ", not Idle");
        return;
      }
      String illegal = illegalTransition(prev, next);
      if (illegal != null) violate("state-transition", prev + " -> " + next + ": " + illegal);
      if (next instanceof ConnectionState.Connecting c) lastConnectingAttempt = c.retry();
    }

    private @Nullable String illegalTransition(ConnectionState prev, ConnectionState next) {
      if (prev instanceof ConnectionState.Closed) return "nothing may follow Closed";
      if (next instanceof ConnectionState.Closed) return null;
      if (prev instanceof ConnectionState.Idle || prev instanceof ConnectionState.Failed) {
        if (next instanceof ConnectionState.Connecting c) {
          return c.retry() == 0 ? null : "connect() starts with attempt 0";
        }
        return "only Connecting(0) or Closed may follow " + prev.getClass().getSimpleName();
      }
      if (prev instanceof ConnectionState.Connecting) {
        if (next instanceof ConnectionState.Connected
            || next instanceof ConnectionState.Failed
            || next instanceof ConnectionState.Idle) {
          return null;
        }
        if (next instanceof ConnectionState.WaitingToReconnect w) return checkRetryNumber(w);
        return "not a transition out of Connecting";
      }
      if (prev instanceof ConnectionState.Connected) {
        if (next instanceof ConnectionState.Failed || next instanceof ConnectionState.Idle)
          return null;
        if (next instanceof ConnectionState.WaitingToReconnect w) return checkRetryNumber(w);
        return "not a transition out of Connected";
      }
      if (prev instanceof ConnectionState.WaitingToReconnect w) {
        if (next instanceof ConnectionState.Idle) return null;
        if (next instanceof ConnectionState.Connecting c) {
          return c.retry() == w.retry()
              ? null
              : "the attempt must carry the number announced while waiting";
        }
        return "not a transition out of WaitingToReconnect";
      }
      return "unknown state";
    }

    private @Nullable String checkRetryNumber(ConnectionState.WaitingToReconnect w) {
      if (w.retry() == 1 || w.retry() == lastConnectingAttempt + 1) return null;
      return "retry "
          + w.retry()
          + " after attempt "
          + lastConnectingAttempt
          + " (expected 1 or "
          + (lastConnectingAttempt + 1)
          + ")";
    }

    private void checkInbound(Message m) {
      String t = text(m);
      if (tracing) trace("     messages() <- " + t);
      if (t.startsWith("ack:")
          || t.startsWith("reply:")
          || (setup.heartbeat() && t.equals("pong"))) {
        violate("reply-emitted", "messages() emitted " + t + ", which is a reply or a pong");
      } else if (t.startsWith("ev:")) {
        int n = Integer.parseInt(t.substring(3));
        if (n <= lastEventSeen)
          violate("inbound", "messages() emitted ev:" + n + " after ev:" + lastEventSeen);
        lastEventSeen = n;
      } else {
        violate("inbound", "messages() emitted " + t + ", which the server never sent");
      }
    }

    private void checkUndelivered(NotDeliveredException u) {
      String t = text(u.message());
      Msg m = byPayload.get(t);
      if (tracing) trace("     undelivered() <- " + t + ": " + u.reason());
      if (m == null) {
        violate("undelivered-unknown", "undelivered() reported " + t + ", which was never sent");
        return;
      }
      m.reported++;
      m.reasons.add(u.reason().name());
      if (m.kind.tracked()) {
        violate(
            "tracked-reported",
            payload(m)
                + " ("
                + m.kind.call
                + ") was reported on undelivered() with "
                + u.reason()
                + "; its own call should fail instead");
        return;
      }
      Reason reason = u.reason();
      if (reason == Reason.GAVE_UP && !(u.getCause() instanceof GaveUpException))
        violate("undelivered-reason", payload(m) + " was reported GAVE_UP without the give-up");
      if (reason == Reason.EXPIRED && (setup.ttlMs() == 0 || now() < m.at + setup.ttlMs())) {
        violate(
            "expired-early",
            payload(m)
                + " queued at t="
                + m.at
                + "ms was reported expired at t="
                + now()
                + "ms; its time-to-live is "
                + setup.ttlMs()
                + "ms");
      }
      if (reason == Reason.DROPPED_FOR_NEWER && !setup.dropOldest()) {
        violate(
            "overflow-without-dropOldest",
            payload(m)
                + " was dropped for a newer message, but the outbox refuses new ones instead");
      }
      if (reason == Reason.CLOSED && !closeCalled) {
        violate("undelivered-reason", payload(m) + " was reported CLOSED before close()");
      }
      if (reason == Reason.NO_REPLY || reason == Reason.OUTBOX_FULL || reason == Reason.TOO_LARGE) {
        violate("undelivered-reason", payload(m) + " was reported " + reason + " on undelivered()");
      }
    }

    private void checkRtt(Duration rtt) {
      if (rtt.isNegative()) violate("rtt", "negative round-trip time " + rtt);
    }

    /** Records, for every frame handed to a connection since the last look, where and when. */
    private void scanSent() {
      List<FakeSocket> created = h.fakes.created;
      while (scanned.size() < created.size()) scanned.add(0);
      for (int k = 0; k < created.size(); k++) {
        FakeSocket f = created.get(k);
        for (int i = scanned.get(k); i < f.sent.size(); i++) {
          Msg m = byPayload.get(text(f.sent.get(i)));
          if (m == null) continue;
          long at = f.sentAtMillis.get(i);
          if (m.sentOn.isEmpty()) {
            m.firstSentAt = at;
            if (m.kind == Kind.PLAIN
                && m.result == SendResult.QUEUED
                && setup.ttlMs() > 0
                && at >= m.at + setup.ttlMs()) {
              violate(
                  "expired-sent-late",
                  payload(m)
                      + " queued at t="
                      + m.at
                      + "ms with a time-to-live of "
                      + setup.ttlMs()
                      + "ms was handed to connection #"
                      + (k + 1)
                      + " at t="
                      + at
                      + "ms");
            }
          }
          m.sentOn.add(k);
        }
        scanned.set(k, f.sent.size());
      }
    }

    private void afterStep() {
      scanSent();
      ConnectionState s = socket.state();
      ConnectionState seen = stateLog.isEmpty() ? null : stateLog.get(stateLog.size() - 1);
      if (!s.equals(seen))
        violate("state-mismatch", "state() is " + s + " but states() last emitted " + seen);
      long now = now();
      for (Msg m : msgs) {
        if (m.kind.replied() && m.tracked.pending() && now >= m.at + setup.replyTimeoutMs()) {
          violate(
              "reply-timeout-late",
              payload(m)
                  + " ("
                  + m.kind.call
                  + " at t="
                  + m.at
                  + "ms, timeout "
                  + setup.replyTimeoutMs()
                  + "ms) is still pending at t="
                  + now
                  + "ms");
        }
        if (m.kind == Kind.PLAIN
            && m.result == SendResult.QUEUED
            && setup.ttlMs() > 0
            && now >= m.at + setup.ttlMs() + slowMillis
            && m.reported == 0
            && m.sentOn.isEmpty()) {
          violate(
              "ttl-late",
              payload(m)
                  + " queued at t="
                  + m.at
                  + "ms with a time-to-live of "
                  + setup.ttlMs()
                  + "ms is neither sent nor reported at t="
                  + now
                  + "ms"
                  + (slowMillis > 0
                      ? " (slow subscribers held the socket " + slowMillis + "ms)"
                      : ""));
        }
      }
    }

    // --- The ending ---

    private void finish() {
      boolean settled = settle();
      scanSent();
      if (settled) checkSettled();
      else
        violate(
            "liveness",
            "the socket did not get back to Connected on an open connection (state "
                + socket.state()
                + ") though the server accepted every attempt and every ready hook completed");

      closeCalled = true;
      where = "close()";
      socket.close();
      if (tracing) trace("     close()");
      if (h.scheduler.pendingTasks() != 0)
        violate(
            "pending-tasks",
            h.scheduler.pendingTasks() + " scheduled task(s) left right after close()");
      if (!(socket.state() instanceof ConnectionState.Closed))
        violate("after-close", "state() is " + socket.state() + " after close()");
      for (FakeSocket f : h.fakes.created) {
        if (!dead(f) && f.closeCode == null)
          violate(
              "connection-leak",
              "connection #"
                  + index(f)
                  + (f.opened ? "" : " (never opened)")
                  + " is neither closed nor cancelled after close()");
      }
      where = "after close()";
      // OkHttp writes what it holds before the close frame of a graceful close.
      writeEverything();
      h.scheduler.advanceMonotonic(Duration.ofHours(1));
      if (h.scheduler.pendingTasks() != 0)
        violate(
            "pending-tasks",
            h.scheduler.pendingTasks() + " scheduled task(s) left an hour after close()");
      afterClose();
      scanSent();
      checkMessages();
      checkOrder();
      checkStreams();
    }

    /** OkHttp's writers write every frame of every connection that has not died. */
    private void writeEverything() {
      List<FakeSocket> created = h.fakes.created;
      for (int i = 0; i < created.size(); i++) { // the socket may add connections meanwhile
        FakeSocket f = created.get(i);
        if (!dead(f)) write(f, f.sent.size() - f.writtenCount);
      }
    }

    /** Brings the socket to Connected on an open connection and lets every queue empty. */
    private boolean settle() {
      for (int round = 0; round < 3; round++) {
        if (!reachConnected()) continue;
        int quiet = 0;
        long sentBefore = -1;
        for (int i = 0; i < 1_000 && quiet < 3; i++) {
          writeEverything();
          FakeSocket f = serverSide();
          if (f == null) break;
          scanSent();
          for (Msg m : msgs) {
            if (m.kind.replied()
                && m.answerable
                && m.written > 0
                && m.tracked.pending()
                && !answered.contains(m.id)) answer(f, m);
          }
          if (setup.heartbeat() && f == serverSide()) f.receive("pong");
          h.scheduler.advanceMonotonic(ofMillis(10));
          long sent = 0;
          for (FakeSocket g : h.fakes.created) sent += g.sent.size() + g.writtenCount;
          quiet = sent == sentBefore ? quiet + 1 : 0;
          sentBefore = sent;
        }
        if (quiet >= 3
            && socket.state() instanceof ConnectionState.Connected
            && serverSide() != null) {
          return true;
        }
      }
      return false;
    }

    private boolean reachConnected() {
      for (int i = 0; i < 60; i++) {
        ConnectionState s = socket.state();
        FakeSocket f = last();
        if (s instanceof ConnectionState.Idle || s instanceof ConnectionState.Failed) {
          connect();
        } else if (s instanceof ConnectionState.WaitingToReconnect) {
          socket.reconnectNow();
        } else if (s instanceof ConnectionState.Connecting) {
          Hook hook = f == null ? null : pickHook(1);
          if (f != null && !f.opened && !dead(f)) {
            open(f);
          } else if (hook != null && hook.fake == f) {
            hook.subject.onComplete();
          } else {
            h.scheduler.advanceMonotonic(
                Duration.ofSeconds(1)); // only the attempt's deadline can help
          }
        } else if (s instanceof ConnectionState.Connected) {
          if (f == null || serverSide() != f || !f.accepting) {
            if (f != null && !dead(f) && f.closeCode == null && !serverClosed.contains(f)) {
              f.drop();
            } else {
              h.scheduler.advanceMonotonic(Duration.ofSeconds(1));
            }
          } else {
            return true;
          }
        }
      }
      return false;
    }

    private void checkSettled() {
      FakeSocket current = serverSide();
      int k = index(current) - 1;
      for (Msg m : msgs) {
        if (m.kind == Kind.PLAIN
            && m.result.isAccepted()
            && m.written == 0
            && m.reported == 0
            && m.sentOn.isEmpty()) {
          violate(
              "liveness",
              payload(m)
                  + " ("
                  + m.result
                  + " at t="
                  + m.at
                  + "ms) still waits: the socket is Connected and OkHttp's queue is empty");
        }
        if (m.kind == Kind.WRITTEN && m.tracked.pending()) {
          violate(
              "liveness",
              "sendWritten("
                  + payload(m)
                  + ") is still pending: the socket is Connected and OkHttp's queue is empty"
                  + (m.written > 0 ? " (the message was written)" : ""));
        }
        if (m.kind.replied() && m.tracked.pending()) {
          if (!m.sentOn.contains(k)) {
            violate(
                "resend",
                m.kind.call
                    + "("
                    + payload(m)
                    + ") awaits its reply but was never sent on the current connection #"
                    + (k + 1)
                    + (m.sentOn.isEmpty()
                        ? " (nor any other)"
                        : " (sent on " + connections(m.sentOn) + ")"));
          } else if (m.answerable) {
            violate(
                "liveness",
                m.kind.call
                    + "("
                    + payload(m)
                    + ") is still pending although the server answered it");
          }
        }
      }
    }

    private static String connections(List<Integer> indices) {
      StringBuilder out = new StringBuilder();
      for (int i : indices) out.append(out.length() == 0 ? "#" : ", #").append(i + 1);
      return out.toString();
    }

    private void afterClose() {
      int before = stateLog.size();
      socket.close();
      if (stateLog.size() != before)
        violate(
            "after-close", "a second close() emitted " + stateLog.subList(before, stateLog.size()));
      SendResult r = socket.send("post:close");
      if (r != SendResult.REJECTED_CLOSED) violate("after-close", "send() after close() -> " + r);
      List<Throwable> errors = new ArrayList<>();
      socket.sendWritten(Message.text("post:close")).subscribe(() -> {}, errors::add);
      if (errors.size() != 1 || reasonOf(errors.get(0)) != Reason.CLOSED)
        violate("after-close", "sendWritten() after close() signalled " + errors);
      try {
        socket.connect();
        violate("after-close", "connect() after close() did not throw");
      } catch (IllegalStateException expected) {
        // documented
      }
    }

    private void checkMessages() {
      for (Msg m : msgs) {
        switch (m.kind) {
          case PLAIN:
            {
              int outcomes = m.written + m.reported;
              if (!m.result.isAccepted()) {
                if (outcomes > 0)
                  violate("rejected-leaked", payload(m) + " was " + m.result + " yet " + story(m));
              } else if (outcomes == 0) {
                violate(
                    "plain-lost",
                    payload(m)
                        + " ("
                        + m.result
                        + " at t="
                        + m.at
                        + "ms) was neither written nor reported on undelivered(): "
                        + story(m));
              } else if (outcomes > 1) {
                violate(
                    "plain-duplicated",
                    payload(m) + " (" + m.result + " at t=" + m.at + "ms) " + story(m));
              }
              break;
            }
          case WRITTEN:
            if (m.written > 1)
              violate("written-twice", "sendWritten(" + payload(m) + ") " + story(m));
            checkTerminated(m);
            break;
          default:
            checkTerminated(m);
        }
      }
    }

    private String story(Msg m) {
      StringBuilder out = new StringBuilder();
      out.append("written ")
          .append(m.written)
          .append("x, reported ")
          .append(m.reported)
          .append("x");
      if (!m.reasons.isEmpty()) out.append(" ").append(m.reasons);
      if (m.sentOn.isEmpty()) {
        out.append("; never handed to a connection");
      } else {
        out.append("; handed to");
        for (int k : m.sentOn) {
          FakeSocket f = h.fakes.created.get(k);
          boolean unwritten = false;
          for (int i = f.writtenCount; i < f.sent.size(); i++)
            unwritten |= m.payload.equals(text(f.sent.get(i)));
          out.append(" #")
              .append(k + 1)
              .append(" (")
              .append(fate(f))
              .append(unwritten ? ", still in its queue" : "")
              .append(")");
        }
      }
      return out.toString();
    }

    private void checkTerminated(Msg m) {
      Tracked t = m.tracked;
      if (t.disposed) return;
      if (t.terminals == 0) {
        violate(
            "unterminated-after-close",
            m.kind.call
                + "("
                + payload(m)
                + ") never terminated, not even on close(); "
                + story(m));
      }
      if (isRefusal(reasonOf(t.error)) && m.written > 0) {
        violate(
            "rejected-leaked",
            m.kind.call + "(" + payload(m) + ") failed with " + t.error + " yet was written");
      }
    }

    private void checkOrder() {
      List<FakeSocket> created = h.fakes.created;
      int[] lastFirstSend = new int[setup.producers()];
      java.util.Arrays.fill(lastFirstSend, -1);
      Set<String> seenBefore = new HashSet<>();
      for (int k = 0; k < created.size(); k++) {
        FakeSocket f = created.get(k);
        int[] last = new int[setup.producers()];
        java.util.Arrays.fill(last, -1);
        String firstNew = null;
        Set<String> here = new HashSet<>();
        for (int i = 0; i < f.sent.size(); i++) {
          Msg m = byPayload.get(text(f.sent.get(i)));
          if (m == null) continue;
          boolean retransmission = seenBefore.contains(m.payload);
          if (i < f.writtenCount) {
            if (m.seq <= last[m.producer]) {
              violate(
                  "order",
                  "connection #"
                      + (k + 1)
                      + " wrote "
                      + payload(m)
                      + " after producer "
                      + m.producer
                      + "'s message "
                      + last[m.producer]);
            }
            last[m.producer] = Math.max(last[m.producer], m.seq);
            if (retransmission && firstNew != null) {
              violate(
                  "retransmission-order",
                  "connection #"
                      + (k + 1)
                      + " wrote the retransmission "
                      + payload(m)
                      + " after "
                      + firstNew
                      + ", which it sent for the first time");
            }
            if (!retransmission && firstNew == null) firstNew = payload(m);
          }
          if (!retransmission && here.add(m.payload)) {
            if (m.seq <= lastFirstSend[m.producer]) {
              violate(
                  "order-across-connections",
                  "connection #"
                      + (k + 1)
                      + " was handed "
                      + payload(m)
                      + " after producer "
                      + m.producer
                      + "'s later message "
                      + lastFirstSend[m.producer]
                      + " had gone to a connection");
            }
            lastFirstSend[m.producer] = Math.max(lastFirstSend[m.producer], m.seq);
          }
        }
        seenBefore.addAll(here);
      }
    }

    private void checkStreams() {
      if (!states.completed)
        violate(
            "stream-not-completed",
            "states() did not complete on close()"
                + (states.terminated ? " (" + states.terminal + ")" : ""));
      long closedCount = stateLog.stream().filter(s -> s instanceof ConnectionState.Closed).count();
      if (closedCount != 1
          || !(stateLog.get(stateLog.size() - 1) instanceof ConnectionState.Closed)) {
        violate(
            "state-transition",
            "states() emitted Closed "
                + closedCount
                + " times, last state "
                + stateLog.get(stateLog.size() - 1));
      }
      if (!messages.completed)
        violate(
            "stream-not-completed",
            "messages() did not complete on close()"
                + (messages.terminated ? " (" + messages.terminal + ")" : ""));
      if (!undelivered.completed)
        violate("stream-not-completed", "undelivered() did not complete on close()");
      if (!roundTrips.completed)
        violate("stream-not-completed", "roundTripTimes() did not complete on close()");
      for (Late<?> late : lates) late.check();
    }

    // --- Helpers ---

    /** A ready hook the schedule completes or fails when it likes. */
    record Hook(FakeSocket fake, CompletableSubject subject) {}

    /** One message the schedule sent. */
    static final class Msg {
      final Kind kind;
      final String payload;
      final String id;
      final int producer;
      final int seq;
      final long at;
      final boolean answerable;
      final boolean binary;
      SendResult result;
      Tracked tracked;
      int written;
      int reported;
      final List<String> reasons = new ArrayList<>(1);
      final List<Integer> sentOn = new ArrayList<>(2);
      long firstSentAt = -1;

      Msg(
          Kind kind,
          String payload,
          String id,
          int producer,
          int seq,
          long at,
          boolean answerable,
          boolean binary) {
        this.kind = kind;
        this.payload = payload;
        this.id = id;
        this.producer = producer;
        this.seq = seq;
        this.at = at;
        this.answerable = answerable;
        this.binary = binary;
      }
    }

    /** Watches the Completable or Single of one tracked send. */
    final class Tracked implements CompletableObserver, SingleObserver<Message> {
      final Msg msg;
      @Nullable Disposable upstream;
      boolean disposed;
      int terminals;
      @Nullable Throwable error;
      long terminatedAt = -1;

      Tracked(Msg msg) {
        this.msg = msg;
      }

      boolean pending() {
        return terminals == 0 && !disposed;
      }

      void dispose() {
        disposed = true;
        if (upstream != null) upstream.dispose();
      }

      String outcome() {
        return error != null ? "failed: " + error : "completed at t=" + terminatedAt + "ms";
      }

      @Override
      public void onSubscribe(Disposable d) {
        upstream = d;
      }

      @Override
      public void onComplete() {
        if (terminal(null)) completed(null);
      }

      @Override
      public void onSuccess(Message value) {
        if (terminal(null)) completed(value);
      }

      @Override
      public void onError(Throwable e) {
        if (terminal(e)) failed(e);
      }

      private boolean terminal(@Nullable Throwable e) {
        String call = msg.kind.call + "(" + payload(msg) + ")";
        if (tracing) trace("     " + call + " " + (e == null ? "completed" : "failed: " + e));
        if (disposed) {
          violate(
              "signal-after-dispose",
              call + " signalled " + (e == null ? "completion" : e) + " after it was disposed");
        }
        if (terminals++ > 0) {
          violate(
              "terminal-twice",
              call
                  + " signalled "
                  + (e == null ? "completion" : e)
                  + " after it already "
                  + outcome());
          return false;
        }
        error = e;
        terminatedAt = now();
        return true;
      }

      private void completed(@Nullable Message value) {
        String call = msg.kind.call + "(" + payload(msg) + ")";
        if (msg.kind == Kind.WRITTEN) {
          if (!writtenNow(msg)) {
            violate(
                "written-early",
                call
                    + " completed but the message has not left OkHttp's queue ("
                    + story(msg)
                    + ")");
          }
        } else if (!answered.contains(msg.id)) {
          violate("ack-without-reply", call + " completed but the server never answered " + msg.id);
        } else if (msg.kind == Kind.REQUEST) {
          String expected = "reply:" + msg.id + ":answer-" + msg.id;
          if (value == null || !expected.equals(text(value)))
            violate("reply-mismatch", call + " emitted " + value + ", not " + expected);
        }
      }

      private void failed(Throwable e) {
        String call = msg.kind.call + "(" + payload(msg) + ")";
        Reason reason = reasonOf(e);
        boolean documented =
            reason != null
                && text(((NotDeliveredException) e).message()).equals(msg.payload)
                && (reason != Reason.NO_REPLY || msg.kind != Kind.WRITTEN)
                && (reason != Reason.GAVE_UP || e.getCause() instanceof GaveUpException);
        if (!documented)
          violate("error-type", call + " failed with " + e + ", which its Javadoc does not list");
        if (reason == Reason.CLOSED && !closeCalled)
          violate("error-type", call + " failed with " + e + " before close()");
        if (reason == Reason.EXPIRED && (setup.ttlMs() == 0 || now() < msg.at + setup.ttlMs())) {
          violate(
              "expired-early",
              call
                  + " sent at t="
                  + msg.at
                  + "ms expired at t="
                  + now()
                  + "ms; the time-to-live is "
                  + setup.ttlMs()
                  + "ms");
        }
        if (reason == Reason.DROPPED_FOR_NEWER && !setup.dropOldest()) {
          violate(
              "overflow-without-dropOldest",
              call + " failed with " + e + " but the outbox refuses new messages instead");
        }
        if (reason == Reason.NO_REPLY && now() < msg.at + setup.replyTimeoutMs()) {
          violate(
              "reply-timeout-early",
              call
                  + " at t="
                  + msg.at
                  + "ms timed out at t="
                  + now()
                  + "ms; the timeout is "
                  + setup.replyTimeoutMs()
                  + "ms");
        }
      }
    }

    /** Records one stream: values into a shared log, and its terminal signal. */
    final class Recorder<T> implements Observer<T> {
      final String stream;
      final List<T> log;
      final java.util.function.Consumer<T> check;
      final java.util.function.@Nullable Consumer<Throwable> onError;
      boolean terminated;
      boolean completed;
      String terminal;

      Recorder(
          String stream,
          List<T> log,
          java.util.function.Consumer<T> check,
          java.util.function.@Nullable Consumer<Throwable> onError) {
        this.stream = stream;
        this.log = log;
        this.check = check;
        this.onError = onError;
      }

      @Override
      public void onSubscribe(Disposable d) {}

      @Override
      public void onNext(T value) {
        if (terminated)
          violate(
              "emission-after-terminal", stream + " emitted " + value + " after it " + terminal);
        log.add(value);
        check.accept(value);
      }

      @Override
      public void onError(Throwable e) {
        if (terminated)
          violate("emission-after-terminal", stream + " signalled " + e + " after it " + terminal);
        terminated = true;
        terminal = "signalled " + e;
        if (onError != null) onError.accept(e);
        else violate("stream-error", stream + " signalled " + e + "; it never signals an error");
      }

      @Override
      public void onComplete() {
        if (terminated)
          violate("emission-after-terminal", stream + " completed after it " + terminal);
        if (!closeCalled) violate("stream-completed-early", stream + " completed before close()");
        terminated = true;
        completed = true;
        terminal = "completed";
      }
    }

    /**
     * Subscribed right after an observer that throws: it must see what the first subscriber saw
     * from then on.
     */
    final class Late<T> implements Observer<T> {
      final String stream;
      final List<T> primary;
      final int from;
      final List<T> seen = new ArrayList<>();
      int until = -1;

      Late(
          String stream,
          List<T> primary,
          int from,
          io.reactivex.rxjava3.core.Observable<T> source) {
        this.stream = stream;
        this.primary = primary;
        this.from = Math.max(0, from);
        source.subscribe(this);
      }

      void check() {
        int end = until >= 0 ? until : primary.size();
        List<T> expected = primary.subList(Math.min(from, end), end);
        if (!expected.equals(seen)) {
          violate(
              "observer-starved",
              "an observer of "
                  + stream
                  + " subscribed after one that throws saw "
                  + seen.size()
                  + " of the "
                  + expected.size()
                  + " values the first subscriber saw since (first missed: "
                  + firstDifference(expected, seen)
                  + ")");
        }
      }

      private String firstDifference(List<T> expected, List<T> got) {
        for (int i = 0; i < expected.size(); i++) {
          if (i >= got.size() || !expected.get(i).equals(got.get(i)))
            return String.valueOf(expected.get(i));
        }
        return "none";
      }

      @Override
      public void onSubscribe(Disposable d) {}

      @Override
      public void onNext(T value) {
        seen.add(value);
      }

      @Override
      public void onError(Throwable e) {
        until = primary.size();
      }

      @Override
      public void onComplete() {
        until = primary.size();
      }
    }
  }
}
