package dev.lifeline.fault;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * One line per fault scenario, so that a reader sees measured values and their margins, not only
 * green ticks. Each row goes to {@code System.out} (Surefire puts it in {@code
 * target/surefire-reports/<class>-output.txt}) and to {@code target/fault-report.md}, a Markdown
 * table that the first row written in a JVM starts afresh.
 *
 * <pre>{@code
 * ScenarioReport.row("black hole, client→server only")
 *     .detection(detectedMs, boundMs)
 *     .reconnect(backMs)
 *     .handshakes(server.getRequestCount())
 *     .note("cause HeartbeatTimeoutException")
 *     .write();
 * }</pre>
 *
 * Cells left unset print as "–".
 */
final class ScenarioReport {
  private static final String HEADER =
      "| Scenario | Detection | Reconnect | Handshakes | Messages (sent / received / lost / dup) | Notes |\n"
          + "|---|---|---|---|---|---|\n";
  private static final Object LOCK = new Object();
  private static boolean started; // guarded by LOCK: whether this JVM has (re)written the header

  private final String scenario;
  private String detection = "–";
  private String reconnect = "–";
  private String handshakes = "–";
  private String events = "–";
  private final StringBuilder notes = new StringBuilder();

  private ScenarioReport(String scenario) {
    this.scenario = scenario;
  }

  /** Starts the row of {@code scenario}. */
  static ScenarioReport row(String scenario) {
    return new ScenarioReport(scenario);
  }

  /** Detection time against the bound it must meet: prints the margin left. */
  ScenarioReport detection(long measuredMs, long boundMs) {
    detection = measuredMs + " ms (bound " + boundMs + ", margin " + (boundMs - measuredMs) + ")";
    return this;
  }

  /** Detection time with no bound to meet (free text, e.g. "none in 5 s"). */
  ScenarioReport detection(String text) {
    detection = text;
    return this;
  }

  /** Time until the socket was connected again, against a bound. */
  ScenarioReport reconnect(long measuredMs, long boundMs) {
    reconnect = measuredMs + " ms (bound " + boundMs + ", margin " + (boundMs - measuredMs) + ")";
    return this;
  }

  /** Time until the socket was connected again, or free text. */
  ScenarioReport reconnect(String text) {
    reconnect = text;
    return this;
  }

  /** Handshakes (or TCP connections) the server side counted. */
  ScenarioReport handshakes(String text) {
    handshakes = text;
    return this;
  }

  ScenarioReport handshakes(long count) {
    return handshakes(Long.toString(count));
  }

  /**
   * Numbered messages one way ({@code "server→client"}, {@code "client→server"}…): how many were
   * sent, received, lost and duplicated. Several directions share the cell.
   */
  ScenarioReport messages(String direction, long sent, long received, long lost, long duplicated) {
    String entry = direction + " " + sent + " / " + received + " / " + lost + " / " + duplicated;
    events = events.equals("–") ? entry : events + "; " + entry;
    return this;
  }

  ScenarioReport note(String format, Object... args) {
    if (notes.length() > 0) notes.append("; ");
    notes.append(String.format(Locale.ROOT, format, args));
    return this;
  }

  /** Prints the row and appends it to {@code target/fault-report.md}. */
  void write() {
    String line =
        "| "
            + String.join(
                " | ",
                cell(scenario),
                cell(detection),
                cell(reconnect),
                cell(handshakes),
                cell(events),
                cell(notes.length() == 0 ? "–" : notes.toString()))
            + " |\n";
    System.out.print("[fault-report] " + line);
    synchronized (LOCK) {
      Path file = reportFile();
      try {
        Files.createDirectories(file.getParent());
        if (!started) {
          started = true;
          Files.writeString(file, HEADER, StandardCharsets.UTF_8);
        }
        Files.writeString(
            file,
            line,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      } catch (IOException e) {
        throw new UncheckedIOException("writing " + file, e);
      }
    }
  }

  private static Path reportFile() {
    // Surefire sets basedir to the module's directory; an IDE usually runs there anyway.
    String base = System.getProperty("basedir", System.getProperty("user.dir"));
    return Path.of(base, "target", "fault-report.md");
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }
}
