package dev.lifeline.bench;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.lifeline.bench.Conn.Kind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.ObjectName;
import okhttp3.Dispatcher;
import okio.ByteString;

/**
 * One measurement of {@link Scale}, in a JVM of its own: opens N idle sockets of one kind with a
 * heartbeat, then measures the process. Arguments: {@code RAW|LIFELINE}, {@code platform|virtual}
 * (the Dispatcher's executor), N, the server's URL.
 *
 * <p>Talks to {@link Scale} on stdout and stdin: prints {@code opened} once every socket is open
 * (the parent then counts them at the server), then {@code result key=value …} after the idle
 * window, and exits when the parent writes a line or closes stdin. It does not close its sockets:
 * the kernel closes them when the process exits.
 */
public final class ScaleRun {
  /** The heartbeat of both kinds: OkHttp pings every 5 s. */
  static final Duration HEARTBEAT = Duration.ofSeconds(5);

  /** Time after the last socket opened before anything is measured. */
  static final Duration SETTLE = Duration.ofSeconds(2);

  /** The window over which idle CPU time is measured: two heartbeats per socket. */
  static final Duration IDLE_WINDOW = Duration.ofSeconds(10);

  private ScaleRun() {}

  public static void main(String[] args) throws Exception {
    Kind kind = Kind.valueOf(args[0]);
    boolean virtual =
        switch (args[1]) {
          case "platform" -> false;
          case "virtual" -> true;
          default -> throw new IllegalArgumentException("unknown dispatcher " + args[1]);
        };
    int n = Integer.parseInt(args[2]);
    String url = args[3];

    Dispatcher dispatcher =
        virtual ? new Dispatcher(Executors.newVirtualThreadPerTaskExecutor()) : new Dispatcher();
    Conn.Clients clients = Conn.Clients.of(Bench.client(dispatcher), HEARTBEAT);
    Receiver ignore =
        new Receiver() {
          @Override
          public void onText(String text) {}

          @Override
          public void onBinary(ByteString bytes) {}
        };

    List<Conn> conns = new ArrayList<>(n);
    long alloc0 = Overhead.allocatedBytes();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) conns.add(Conn.start(kind, clients, url, ignore));
    for (Conn conn : conns) conn.awaitOpen();
    long openNanos = System.nanoTime() - t0;
    long openAlloc = Overhead.allocatedBytes() - alloc0;
    System.out.println("opened");
    System.out.flush();

    Thread.sleep(SETTLE);
    System.gc();
    System.gc();
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    long rssKib = rssKib();
    NativeMemory nmt = NativeMemory.now();
    ThreadStacks stacks = ThreadStacks.now();
    int threads = ManagementFactory.getThreadMXBean().getThreadCount();
    long taskRunners =
        Arrays.stream(ManagementFactory.getThreadMXBean().dumpAllThreads(false, false))
            .map(ThreadInfo::getThreadName)
            .filter(ScaleRun::isTaskRunner)
            .count();

    long cpu0 = Overhead.processCpuNanos();
    long w0 = System.nanoTime();
    Thread.sleep(IDLE_WINDOW);
    long cpu1 = Overhead.processCpuNanos();
    long w1 = System.nanoTime();

    System.out.printf(
        "result openNanos=%d openAllocBytes=%d threads=%d taskRunnerThreads=%d heapBytes=%d"
            + " rssKib=%d stackKib=%d heapCommittedKib=%d stacks=%d stackResidentKib=%d"
            + " deepStacks=%d deepStackKib=%d cpuNanos=%d windowNanos=%d%n",
        openNanos,
        openAlloc,
        threads,
        taskRunners,
        heap,
        rssKib,
        nmt.stackCommittedKib(),
        nmt.heapCommittedKib(),
        stacks.count(),
        stacks.residentKib(),
        stacks.deep(),
        stacks.deepResidentKib(),
        cpu1 - cpu0,
        w1 - w0);
    System.out.flush();
    Reference.reachabilityFence(conns); // every socket's objects count until the end
    new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    System.exit(0);
  }

  /**
   * Whether a thread is one of OkHttp's TaskRunner threads: so named while idle, and named after a
   * WebSocket's task (its pings, its writer) while it runs one.
   */
  private static boolean isTaskRunner(String name) {
    return name.startsWith("OkHttp TaskRunner") || name.startsWith("OkHttp WebSocket ");
  }

  /**
   * What native memory tracking ({@code -XX:NativeMemoryTracking=summary}) counts as committed for
   * thread stacks (the stack pages threads have touched) and for the Java heap.
   */
  record NativeMemory(long stackCommittedKib, long heapCommittedKib) {
    private static final Pattern STACK =
        Pattern.compile("\\(stack: reserved=\\d+KB, committed=(\\d+)KB");
    private static final Pattern HEAP =
        Pattern.compile("Java Heap \\(reserved=\\d+KB, committed=(\\d+)KB\\)");

    static NativeMemory now() throws Exception {
      String summary =
          (String)
              ManagementFactory.getPlatformMBeanServer()
                  .invoke(
                      new ObjectName("com.sun.management:type=DiagnosticCommand"),
                      "vmNativeMemory",
                      new Object[] {new String[] {"summary", "scale=KB"}},
                      new String[] {String[].class.getName()});
      return new NativeMemory(find(STACK, summary), find(HEAP, summary));
    }

    private static long find(Pattern pattern, String summary) {
      Matcher m = pattern.matcher(summary);
      if (!m.find()) {
        throw new IllegalStateException(
            "no "
                + pattern
                + " in the native memory summary (is NativeMemoryTracking on?):\n"
                + summary);
      }
      return Long.parseLong(m.group(1));
    }
  }

  /**
   * The platform threads' stacks as the kernel sees them: the private writable mappings of a thread
   * stack's size in {@code /proc/self/smaps}, and how many of them have more resident than the
   * JVM's stack shadow zone. The interpreter touches every page of the shadow zone below a frame it
   * enters; compiled code touches one page there. So a thread that ever ran interpreted code keeps
   * its deepest frames plus the whole zone resident, and one that only ran compiled code keeps
   * little more than its frames.
   */
  record ThreadStacks(int count, long residentKib, int deep, long deepResidentKib) {
    static ThreadStacks now() throws IOException {
      long stackKib = Long.parseLong(vmOption("ThreadStackSize"));
      long shadowKib = shadowZoneKib();
      int count = 0;
      long residentKib = 0;
      int deep = 0;
      long deepKib = 0;
      boolean candidate = false;
      long sizeKib = 0;
      for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
        String[] f = line.split("\\s+");
        if (f.length >= 5 && f[0].contains("-") && f[3].contains(":")) {
          // A mapping's header: address range, permissions, offset, device, inode[, path].
          candidate = f.length == 5 && f[1].startsWith("rw") && f[4].equals("0");
        } else if (f[0].equals("Size:")) {
          sizeKib = Long.parseLong(f[1]);
        } else if (f[0].equals("Rss:") && candidate) {
          // Less the JVM's guard zones (their own mapping) for a Java thread, plus glibc's guard
          // page for some of the JVM's own threads.
          if (sizeKib >= stackKib - 64 && sizeKib <= stackKib + 16) {
            long rss = Long.parseLong(f[1]);
            count++;
            residentKib += rss;
            if (rss > shadowKib) {
              deep++;
              deepKib += rss;
            }
          }
        }
      }
      return new ThreadStacks(count, residentKib, deep, deepKib);
    }
  }

  /** The JVM's stack shadow zone in KiB (4 KiB pages). */
  static long shadowZoneKib() {
    return Long.parseLong(vmOption("StackShadowPages")) * 4;
  }

  private static String vmOption(String name) {
    return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
        .getVMOption(name)
        .getValue();
  }

  /** This process's resident set size in KiB ({@code VmRSS} in {@code /proc/self/status}). */
  private static long rssKib() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
    }
    throw new IOException("no VmRSS in /proc/self/status");
  }
}
