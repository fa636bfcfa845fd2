package dev.lifeline.bench;

import static dev.lifeline.bench.Markdown.f;

import dev.lifeline.bench.Conn.Kind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Many idle sockets with a heartbeat, Lifeline against raw OkHttp: platform threads, heap, RSS,
 * time to open them all and CPU while idle, at several socket counts, with OkHttp's default
 * Dispatcher executor and with a virtual-thread one.
 *
 * <p>Every (count, dispatcher, kind) runs in a fresh JVM ({@link ScaleRun}) with the same options
 * for both kinds, so that nothing one run leaves behind (threads kept alive, heap grown, classes
 * loaded) counts against the next. Kinds take turns: raw first for one configuration, Lifeline
 * first for the next, and the other way round in the next round.
 */
final class Scale implements Workload {
  /**
   * The child JVMs' options, the same for both kinds. The heap-free ratios make G1 give back what
   * it grew into while the sockets opened, so that RSS shows what the sockets hold rather than how
   * far the heap happened to grow (without them, Δ RSS at 10 000 sockets ranged from +2.4 to +14.8
   * KiB per socket across runs of the same code). Native memory tracking splits RSS into its
   * largest parts: thread stacks and the committed heap.
   */
  private static final List<String> CHILD_JVM =
      List.of(
          "-Xmx4g",
          "-XX:+UseG1GC",
          "-XX:MinHeapFreeRatio=5",
          "-XX:MaxHeapFreeRatio=10",
          "-XX:NativeMemoryTracking=summary");

  private static final int THREAD_MARGIN = 8;
  private static final double MEMORY_MARGIN_KIB = 4;
  private static final int MEMORY_TARGET_SOCKETS = 10_000;
  private static final long CLEAN_TIMEOUT_MS = 60_000;
  private static final int MAX_RETRIES = 3;

  /** The Dispatcher's executor in the child. */
  enum Executor {
    PLATFORM("platform", "OkHttp default (platform threads)"),
    VIRTUAL("virtual", "virtual threads");

    final String arg;
    final String label;

    Executor(String arg, String label) {
      this.arg = arg;
      this.label = label;
    }
  }

  /**
   * The options that make the JIT compile a method after a few calls instead of a few hundred (and
   * more while its queue is long), for the experiment that shows where the extra stack with
   * platform threads comes from.
   */
  static final List<String> EARLY_JIT =
      List.of(
          "-XX:Tier3InvocationThreshold=10",
          "-XX:Tier3MinInvocationThreshold=5",
          "-XX:Tier3CompileThreshold=50");

  /**
   * One configuration: how many sockets, on which executor, and whether the child compiles early
   * (an experiment, not judged against the targets).
   */
  record Config(int sockets, Executor executor, boolean earlyJit) {
    String label() {
      return earlyJit ? executor.label + ", JIT compiling early" : executor.label;
    }

    List<String> jvmOptions() {
      if (!earlyJit) return CHILD_JVM;
      List<String> options = new ArrayList<>(CHILD_JVM);
      options.addAll(EARLY_JIT);
      return options;
    }

    boolean judged() {
      return sockets == MEMORY_TARGET_SOCKETS && !earlyJit;
    }
  }

  /** What one child measured. */
  record Result(
      long openNanos,
      long openAllocBytes,
      int threads,
      int taskRunnerThreads,
      long heapBytes,
      long rssKib,
      long stackKib,
      long heapCommittedKib,
      int stacks,
      long stackResidentKib,
      int deepStacks,
      long deepStackKib,
      long cpuNanos,
      long windowNanos) {
    /** KiB resident in one stack deeper than the shadow zone (NaN if none). */
    double deepStackMeanKib() {
      return deepStacks == 0 ? Double.NaN : deepStackKib / (double) deepStacks;
    }

    /** KiB resident in one of the other stacks. */
    double otherStackMeanKib() {
      return (stackResidentKib - deepStackKib) / (double) (stacks - deepStacks);
    }

    /** CPU time in ms per 10 s of idle window. */
    double cpuMsPer10s() {
      return cpuNanos / 1e6 * (ScaleRun.IDLE_WINDOW.toNanos() / (double) windowNanos);
    }
  }

  private final List<Config> configs = new ArrayList<>();
  private final List<String> repeated = new ArrayList<>();

  /**
   * Rounds elsewhere: three, so that one outlier does not move the median. The thread count moves
   * by up to ±10 from one run to the next with the size OkHttp's TaskRunner pool grew to during the
   * opening burst.
   */
  private final int rounds;

  /**
   * Rounds at the memory target's socket count: RSS per socket there moved by up to ±10 KiB between
   * rounds of the same code, more than the 4 KiB target, so its median needs more rounds.
   */
  private final int targetRounds;

  Scale(boolean quick) {
    for (int sockets : quick ? List.of(100, 300) : List.of(1_000, 5_000, 10_000)) {
      for (Executor e : Executor.values()) configs.add(new Config(sockets, e, false));
    }
    configs.add(new Config(quick ? 300 : MEMORY_TARGET_SOCKETS, Executor.PLATFORM, true));
    rounds = quick ? 1 : 3;
    targetRounds = quick ? 1 : 5;
  }

  @Override
  public String name() {
    return "scale";
  }

  private int roundsOf(Config config) {
    return config.judged() ? targetRounds : rounds;
  }

  @Override
  public String run(Bench bench) throws Exception {
    Map<Config, Map<Kind, List<Result>>> results = new LinkedHashMap<>();
    int allRounds = Math.max(rounds, targetRounds);
    for (int round = 0; round < allRounds; round++) {
      for (int i = 0; i < configs.size(); i++) {
        Config config = configs.get(i);
        if (round >= roundsOf(config)) continue;
        List<Kind> order =
            (i + round) % 2 == 0
                ? List.of(Kind.RAW, Kind.LIFELINE)
                : List.of(Kind.LIFELINE, Kind.RAW);
        for (Kind kind : order) {
          long t0 = System.nanoTime();
          Result r = measureUntilValid(bench, config, kind);
          results
              .computeIfAbsent(config, c -> new EnumMap<>(Kind.class))
              .computeIfAbsent(kind, k -> new ArrayList<>())
              .add(r);
          bench.progress(
              f(
                  "scale: round %d/%d, %d sockets, %s, %s: opened in %.1f s, run took %.0f s",
                  round + 1,
                  roundsOf(config),
                  config.sockets(),
                  config.earlyJit() ? config.executor().arg + " early JIT" : config.executor().arg,
                  kind.label,
                  r.openNanos() / 1e9,
                  (System.nanoTime() - t0) / 1e9));
        }
      }
    }
    awaitNoConnections(bench.server());
    return report(results);
  }

  /**
   * Runs one child after the server has no connection open, checks at the server that all its
   * sockets opened and stayed open through the idle window with no new handshake, and returns what
   * the child measured.
   */
  private static Result measure(ServerProcess server, Config config, Kind kind) throws Exception {
    awaitNoConnections(server);
    Process child =
        JavaProcess.builder(
                ScaleRun.class,
                config.jvmOptions(),
                List.of(
                    kind.name(),
                    config.executor().arg,
                    Integer.toString(config.sockets()),
                    server.url("/idle")))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      expect(out, "opened", child);
      requireOpen(server, config.sockets(), "after opening");
      long handshakes = Long.parseLong(server.command("handshakes"));
      Map<String, Long> values = parse(expect(out, "result", child));
      requireOpen(server, config.sockets(), "after the idle window");
      long reconnects = Long.parseLong(server.command("handshakes")) - handshakes;
      if (reconnects != 0) {
        throw new DroppedWhileIdle(
            f("%d handshakes while the sockets were idle (a socket reconnected)", reconnects));
      }
      return new Result(
          values.get("openNanos"),
          values.get("openAllocBytes"),
          Math.toIntExact(values.get("threads")),
          Math.toIntExact(values.get("taskRunnerThreads")),
          values.get("heapBytes"),
          values.get("rssKib"),
          values.get("stackKib"),
          values.get("heapCommittedKib"),
          Math.toIntExact(values.get("stacks")),
          values.get("stackResidentKib"),
          Math.toIntExact(values.get("deepStacks")),
          values.get("deepStackKib"),
          values.get("cpuNanos"),
          values.get("windowNanos"));
    } finally {
      child.getOutputStream().close(); // the child exits when its stdin closes
      if (!child.waitFor(30, TimeUnit.SECONDS)) child.destroyForcibly().waitFor();
    }
  }

  /** A run in which not every socket stayed open: its numbers would not be of N idle sockets. */
  static final class DroppedWhileIdle extends Exception {
    private static final long serialVersionUID = 1L;

    DroppedWhileIdle(String message) {
      super(message);
    }
  }

  /**
   * Measures one run; a run in which a socket dropped is repeated, up to twice, and listed in the
   * report. Both kinds use OkHttp's pong check, which fails a connection whose pong is one
   * heartbeat late; one run in many saw a socket drop on this 2-core machine.
   */
  private Result measureUntilValid(Bench bench, Config config, Kind kind) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return measure(bench.server(), config, kind);
      } catch (DroppedWhileIdle e) {
        String what =
            f(
                "%,d sockets, %s, %s: %s",
                config.sockets(), config.label(), kind.label, e.getMessage());
        if (attempt == MAX_RETRIES) throw new IllegalStateException(what, e);
        repeated.add(what);
        bench.progress("scale: repeating a run: " + what);
      }
    }
  }

  /** Reads the child's next line, which must start with {@code word}. */
  private static String expect(BufferedReader out, String word, Process child)
      throws IOException, InterruptedException {
    String line = out.readLine();
    if (line == null) {
      throw new IOException(
          "scale child exited with " + child.waitFor() + " before printing '" + word + "'");
    }
    if (!line.startsWith(word)) throw new IOException("scale child printed: " + line);
    return line;
  }

  /** {@code result key=value key=value ...} as a map. */
  private static Map<String, Long> parse(String line) {
    Map<String, Long> values = new HashMap<>();
    for (String field : line.substring(line.indexOf(' ') + 1).split(" ")) {
      int eq = field.indexOf('=');
      values.put(field.substring(0, eq), Long.parseLong(field.substring(eq + 1)));
    }
    return values;
  }

  private static void requireOpen(ServerProcess server, int expected, String when)
      throws IOException, DroppedWhileIdle {
    int open = Integer.parseInt(server.command("open"));
    if (open != expected) {
      throw new DroppedWhileIdle(
          f("%d connections open at the server %s, expected %d", open, when, expected));
    }
  }

  /** Waits until the server has no connection open: the previous child's sockets are gone. */
  private static void awaitNoConnections(ServerProcess server)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLEAN_TIMEOUT_MS);
    int open;
    while ((open = Integer.parseInt(server.command("open"))) != 0) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(open + " connections still open at the server");
      }
      Thread.sleep(100);
    }
  }

  private String report(Map<Config, Map<Kind, List<Result>>> results) {
    StringBuilder out = new StringBuilder();
    out.append("### Scale: idle sockets with a heartbeat\n\n");
    out.append(
        f(
            "N idle sockets to the echo server, all opened at once, each with a %d s heartbeat"
                + " (raw OkHttp: `pingInterval(%1$d s)`; Lifeline: `Heartbeat.protocol(%1$d s, %1$d"
                + " s)`),"
                + " on the same `OkHttpClient` configuration with either OkHttp's default"
                + " Dispatcher executor (a platform thread per open socket, for its reader) or"
                + " `new Dispatcher(Executors.newVirtualThreadPerTaskExecutor())`. Every (N,"
                + " dispatcher, kind) runs in a fresh JVM (`%s`, the same for both kinds), raw"
                + " and Lifeline in turns. Each run starts with no connection open at the server,"
                + " which then counts all N open after opening and still open after the idle"
                + " window, with no handshake in between (no reconnect). %d s after the last"
                + " socket opened, the child measures its platform threads"
                + " (`ThreadMXBean.getThreadCount()`, which does not count virtual threads), heap"
                + " used after two `System.gc()`, RSS (`VmRSS`; the heap-free ratios make G1 give"
                + " back after those collections what it grew into while the sockets opened, so"
                + " that RSS shows what the sockets hold, not how far the heap happened to grow),"
                + " then its CPU time over an idle"
                + " %d s window (two pings per socket). Each cell is the median over %d round%s"
                + " (%d at %,d sockets) (min–max); Δ is Lifeline − raw within each round, per"
                + " socket for memory."
                + " Targets: platform threads ≤ raw + %d at every N; heap and RSS ≤ raw + %.0f KiB"
                + " per socket at %,d sockets.\n\n",
            ScaleRun.HEARTBEAT.toSeconds(),
            String.join(" ", CHILD_JVM),
            ScaleRun.SETTLE.toSeconds(),
            ScaleRun.IDLE_WINDOW.toSeconds(),
            rounds,
            rounds == 1 ? "" : "s",
            targetRounds,
            MEMORY_TARGET_SOCKETS,
            THREAD_MARGIN,
            MEMORY_MARGIN_KIB,
            MEMORY_TARGET_SOCKETS));

    out.append(
        repeated.isEmpty()
            ? "Runs repeated because a socket dropped while idle: none.\n\n"
            : "Runs repeated because a socket dropped while idle (the numbers are of N sockets"
                + " open throughout): "
                + String.join("; ", repeated)
                + ".\n\n");
    out.append(
        "Platform threads in the client JVM, and how many of them are OkHttp's TaskRunner threads:"
            + " its WebSocket writers and pingers, a pool both kinds share, which keeps an idle"
            + " thread for 60 s, so that their number is the most tasks that ran at once lately,"
            + " the opening burst included. The target is judged on Δ, all threads.\n\n");
    Markdown threads =
        Markdown.table(
            "Sockets",
            "Dispatcher",
            "raw OkHttp",
            "Lifeline",
            "Δ",
            "TaskRunner raw",
            "TaskRunner Lifeline",
            "Δ without TaskRunner",
            "Target met");
    for (Map.Entry<Config, Map<Kind, List<Result>>> e : results.entrySet()) {
      Runs runs = new Runs(e.getValue());
      Stats delta = runs.delta(Result::threads);
      threads.row(
          f("%,d", e.getKey().sockets()),
          e.getKey().label(),
          runs.of(Kind.RAW, Result::threads).format(0),
          runs.of(Kind.LIFELINE, Result::threads).format(0),
          delta.formatSigned(1),
          runs.of(Kind.RAW, Result::taskRunnerThreads).format(0),
          runs.of(Kind.LIFELINE, Result::taskRunnerThreads).format(0),
          runs.delta(r -> r.threads() - r.taskRunnerThreads()).formatSigned(1),
          e.getKey().earlyJit()
              ? "(experiment)"
              : delta.median() <= THREAD_MARGIN ? "yes" : "**no**");
    }
    out.append(threads).append('\n');

    out.append("Memory of the client JVM: heap used after GC and resident set size.\n\n");
    Markdown memory =
        Markdown.table(
            "Sockets",
            "Dispatcher",
            "raw heap MiB",
            "Lifeline heap MiB",
            "Δ heap KiB/socket",
            "raw RSS MiB",
            "Lifeline RSS MiB",
            "Δ RSS KiB/socket",
            "Target met");
    for (Map.Entry<Config, Map<Kind, List<Result>>> e : results.entrySet()) {
      int sockets = e.getKey().sockets();
      Runs runs = new Runs(e.getValue());
      Stats heap = runs.delta(r -> r.heapBytes() / 1024.0 / sockets);
      Stats rss = runs.delta(r -> r.rssKib() / (double) sockets);
      String met;
      if (e.getKey().earlyJit()) {
        met = "(experiment)";
      } else if (sockets != MEMORY_TARGET_SOCKETS) {
        met = "(no target)";
      } else if (heap.median() <= MEMORY_MARGIN_KIB && rss.median() <= MEMORY_MARGIN_KIB) {
        met = "yes";
      } else {
        met = "**no**";
      }
      memory.row(
          f("%,d", sockets),
          e.getKey().label(),
          runs.of(Kind.RAW, r -> r.heapBytes() / 1048576.0).format(1),
          runs.of(Kind.LIFELINE, r -> r.heapBytes() / 1048576.0).format(1),
          heap.formatSigned(2),
          runs.of(Kind.RAW, r -> r.rssKib() / 1024.0).format(0),
          runs.of(Kind.LIFELINE, r -> r.rssKib() / 1024.0).format(0),
          rss.formatSigned(2),
          met);
    }
    out.append(memory).append('\n');

    out.append(
        "Where the resident memory goes, per socket, Lifeline − raw (native memory tracking):"
            + " thread stacks committed (the stack pages threads have touched: with platform"
            + " threads, every socket's reader thread), the Java heap committed (what G1 holds,"
            + " used or not), and the rest of RSS (code, metaspace, GC and malloc'd structures,"
            + " and pages NMT counts as committed that are not resident). No targets: this"
            + " explains the RSS column above.\n\n");
    Markdown parts =
        Markdown.table(
            "Sockets",
            "Dispatcher",
            "Δ RSS KiB/socket",
            "Δ thread stacks KiB/socket",
            "Δ committed heap KiB/socket",
            "Δ rest KiB/socket");
    for (Map.Entry<Config, Map<Kind, List<Result>>> e : results.entrySet()) {
      int sockets = e.getKey().sockets();
      Runs runs = new Runs(e.getValue());
      parts.row(
          f("%,d", sockets),
          e.getKey().label(),
          runs.delta(r -> r.rssKib() / (double) sockets).formatSigned(2),
          runs.delta(r -> r.stackKib() / (double) sockets).formatSigned(2),
          runs.delta(r -> r.heapCommittedKib() / (double) sockets).formatSigned(2),
          runs.delta(r -> (r.rssKib() - r.stackKib() - r.heapCommittedKib()) / (double) sockets)
              .formatSigned(2));
    }
    out.append(parts).append('\n');
    out.append(
        f(
            "Thread stacks as the kernel sees them (`/proc/self/smaps`: the private writable"
                + " mappings of a thread stack's size, so platform threads only): how many hold"
                + " more than the JVM's stack shadow zone (%d KiB) resident, and how much a stack"
                + " of each sort holds. No targets: this explains the Δ thread stacks above.\n\n",
            ScaleRun.shadowZoneKib()));
    Markdown stacks =
        Markdown.table(
            "Sockets",
            "Dispatcher",
            "stacks raw",
            "stacks Lifeline",
            "deeper than the zone: raw",
            "deeper: Lifeline",
            "Δ deeper",
            "KiB in one deeper: raw",
            "KiB in one deeper: Lifeline",
            "KiB in one other: raw",
            "KiB in one other: Lifeline");
    for (Map.Entry<Config, Map<Kind, List<Result>>> e : results.entrySet()) {
      Runs runs = new Runs(e.getValue());
      stacks.row(
          f("%,d", e.getKey().sockets()),
          e.getKey().label(),
          runs.of(Kind.RAW, Result::stacks).format(0),
          runs.of(Kind.LIFELINE, Result::stacks).format(0),
          runs.of(Kind.RAW, Result::deepStacks).format(0),
          runs.of(Kind.LIFELINE, Result::deepStacks).format(0),
          runs.delta(Result::deepStacks).formatSigned(0),
          runs.of(Kind.RAW, Result::deepStackMeanKib).format(1),
          runs.of(Kind.LIFELINE, Result::deepStackMeanKib).format(1),
          runs.of(Kind.RAW, Result::otherStackMeanKib).format(1),
          runs.of(Kind.LIFELINE, Result::otherStackMeanKib).format(1));
    }
    out.append(stacks).append('\n');
    out.append(
        f(
            "Why the reader threads' stacks differ with platform threads. The JVM's interpreter"
                + " touches every page of the shadow zone below each frame it enters; compiled"
                + " code touches one page there. A thread that ever ran interpreted code therefore"
                + " keeps its deepest frames plus the whole zone resident for as long as it lives,"
                + " and a thread that only ran compiled code keeps little more than its frames:"
                + " the two sorts of stack in the table above, each about the same size for both"
                + " kinds. So Δ thread stacks is not Lifeline's frames but how many more reader"
                + " threads ran interpreted code (Δ deeper), at about 60 KiB each. Reader threads"
                + " run interpreted code mostly while the JVM is still compiling the code of the"
                + " opening, when N sockets open at once in a fresh JVM: thousands of raw OkHttp's"
                + " own reader threads do. Lifeline runs code of its own on that thread once per"
                + " connection (it handles the opening and emits `Connected` there, as raw OkHttp"
                + " runs `onOpen` there), which is compiled after a few hundred connections, later"
                + " while the compile queue is long; how many more reader threads that leaves with"
                + " interpreted code varies widely from run to run (Δ deeper, min–max). The row"
                + " \"JIT compiling early\" adds `%s` to both kinds' JVM options, so that code is"
                + " compiled after a few calls: fewer reader threads of either kind keep the zone,"
                + " which shows that it is a warm-up cost of opening thousands of sockets at once"
                + " in a cold JVM, not a cost of each socket; its rounds still vary widely."
                + " Moving the opening to another thread would avoid Lifeline's share, at the"
                + " price of a thread hop before `Connected` and the ready hook. Virtual threads"
                + " keep only the frames in use (in the heap) while parked.\n\n",
            String.join(" ", EARLY_JIT)));

    out.append(
        f(
            "Time from the first connect to the last socket open, bytes allocated meanwhile by"
                + " all threads of the client JVM (`getTotalThreadAllocatedBytes`) per socket, and"
                + " CPU time of the client JVM per %d s while idle (ms). No targets.\n\n",
            ScaleRun.IDLE_WINDOW.toSeconds()));
    Markdown time =
        Markdown.table(
            "Sockets",
            "Dispatcher",
            "raw open s",
            "Lifeline open s",
            "raw KiB/socket allocated",
            "Lifeline KiB/socket allocated",
            "raw CPU ms",
            "Lifeline CPU ms");
    for (Map.Entry<Config, Map<Kind, List<Result>>> e : results.entrySet()) {
      int sockets = e.getKey().sockets();
      Runs runs = new Runs(e.getValue());
      time.row(
          f("%,d", sockets),
          e.getKey().label(),
          runs.of(Kind.RAW, r -> r.openNanos() / 1e9).format(2),
          runs.of(Kind.LIFELINE, r -> r.openNanos() / 1e9).format(2),
          runs.of(Kind.RAW, r -> r.openAllocBytes() / 1024.0 / sockets).format(1),
          runs.of(Kind.LIFELINE, r -> r.openAllocBytes() / 1024.0 / sockets).format(1),
          runs.of(Kind.RAW, Result::cpuMsPer10s).format(0),
          runs.of(Kind.LIFELINE, Result::cpuMsPer10s).format(0));
    }
    out.append(time);
    return out.toString();
  }

  /** The rounds of one configuration, both kinds. */
  private record Runs(Map<Kind, List<Result>> byKind) {
    Stats of(Kind kind, ToDoubleFunction<Result> value) {
      return Stats.of(byKind.get(kind).stream().map(value::applyAsDouble).toList());
    }

    /** Per round: value(Lifeline) − value(raw). */
    Stats delta(ToDoubleFunction<Result> value) {
      List<Result> raw = byKind.get(Kind.RAW);
      List<Result> lifeline = byKind.get(Kind.LIFELINE);
      List<Double> deltas = new ArrayList<>();
      for (int i = 0; i < raw.size(); i++) {
        deltas.add(value.applyAsDouble(lifeline.get(i)) - value.applyAsDouble(raw.get(i)));
      }
      return Stats.of(deltas);
    }
  }
}
