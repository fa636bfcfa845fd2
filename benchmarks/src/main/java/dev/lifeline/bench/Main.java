package dev.lifeline.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Runs every benchmark and writes the report. Arguments: {@code --out FILE} (default {@code
 * BENCHMARKS.md}), {@code --only name,name} (a subset, for working on one), {@code --quick} (fewer
 * rounds and messages: a smoke run, not a measurement), {@code --case TEXT} (only the overhead
 * throughput cases whose name contains TEXT, for working on one row).
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of("BENCHMARKS.md");
    Set<String> only = new LinkedHashSet<>();
    boolean quick = false;
    String caseFilter = "";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Path.of(args[++i]);
        case "--only" -> only.addAll(Arrays.asList(args[++i].split(",")));
        case "--quick" -> quick = true;
        case "--case" -> caseFilter = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    List<Workload> workloads =
        List.of(
            new Overhead(quick, caseFilter),
            new Scale(quick),
            new Detection(quick),
            new Recovery(quick),
            new Herd(quick));
    List<String> sections = new ArrayList<>();
    long started = System.nanoTime();
    try (ServerProcess server = ServerProcess.start()) {
      Bench bench = new Bench(server, quick ? 1 : 2, quick ? 2 : 10, quick);
      for (Workload w : workloads) {
        if (!only.isEmpty() && !only.contains(w.name())) continue;
        bench.progress("running " + w.name());
        long t0 = System.nanoTime();
        String section = w.run(bench);
        bench.progress(w.name() + " took " + (System.nanoTime() - t0) / 1_000_000_000 + " s");
        System.out.println(section);
        sections.add(section);
      }
    }
    long minutes = Math.round((System.nanoTime() - started) / 60e9);
    Files.writeString(out, report(sections, minutes, quick), StandardCharsets.UTF_8);
    System.err.println("[bench] wrote " + out.getFileName());
    System.exit(0); // OkHttp's idle dispatcher threads would keep this JVM up for another minute
  }

  private static String report(List<String> sections, long minutes, boolean quick)
      throws IOException {
    StringBuilder md = new StringBuilder();
    md.append("# Benchmarks\n\n");
    if (quick) md.append("**Smoke run (`--quick`): too few rounds to be a measurement.**\n\n");
    try (var in = Main.class.getResourceAsStream("/method.md")) {
      if (in == null) throw new IOException("method.md missing from the classpath");
      md.append(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    md.append("\n## Machine\n\n");
    md.append(machine()).append(f("- This run took %d min.\n", minutes));
    md.append("\n## Results\n\n");
    for (String s : sections) md.append(s).append('\n');
    return md.toString();
  }

  private static String machine() throws IOException {
    String cpu = "unknown";
    Path cpuinfo = Path.of("/proc/cpuinfo");
    if (Files.exists(cpuinfo)) {
      for (String line : Files.readAllLines(cpuinfo)) {
        if (line.startsWith("model name")) {
          cpu = line.substring(line.indexOf(':') + 1).trim();
          break;
        }
      }
    }
    long memKib = 0;
    Path meminfo = Path.of("/proc/meminfo");
    if (Files.exists(meminfo)) {
      for (String line : Files.readAllLines(meminfo)) {
        if (line.startsWith("MemTotal:")) memKib = Long.parseLong(line.replaceAll("\\D", ""));
      }
    }
    return f("- Date: %s\n", LocalDate.now(ZoneOffset.UTC))
        + f(
            "- CPU: %s, %d cores visible to the JVM\n",
            cpu, Runtime.getRuntime().availableProcessors())
        + f("- Memory: %.0f GiB\n", memKib / 1024.0 / 1024.0)
        + f(
            "- OS: %s %s (%s)\n",
            System.getProperty("os.name"),
            System.getProperty("os.version").replaceFirst("-.*", ""), // the release, not the build
            System.getProperty("os.arch"))
        + f(
            "- JDK: %s (%s %s)\n",
            System.getProperty("java.version"),
            System.getProperty("java.vm.name"),
            System.getProperty("java.vm.version"))
        + f(
            "- OkHttp %s; both kinds of client on the same `OkHttpClient` configuration\n",
            okhttp3.OkHttp.VERSION);
  }

  private static String f(String format, Object... args) {
    return Markdown.f(format, args);
  }
}
