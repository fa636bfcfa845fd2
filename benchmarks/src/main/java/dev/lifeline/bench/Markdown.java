package dev.lifeline.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A Markdown table, built row by row. */
final class Markdown {
  private final List<String> header;
  private final List<List<String>> rows = new ArrayList<>();

  private Markdown(List<String> header) {
    this.header = header;
  }

  static Markdown table(String... header) {
    return new Markdown(List.of(header));
  }

  Markdown row(Object... cells) {
    if (cells.length != header.size()) {
      throw new IllegalArgumentException(cells.length + " cells for " + header.size() + " columns");
    }
    List<String> row = new ArrayList<>();
    for (Object c : cells) row.add(String.valueOf(c).replace("|", "\\|"));
    rows.add(row);
    return this;
  }

  @Override
  public String toString() {
    StringBuilder out = new StringBuilder();
    out.append("| ").append(String.join(" | ", header)).append(" |\n");
    out.append("|").append("---|".repeat(header.size())).append("\n");
    for (List<String> row : rows) out.append("| ").append(String.join(" | ", row)).append(" |\n");
    return out.toString();
  }

  static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
