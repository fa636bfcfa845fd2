package dev.lifeline.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.jetbrains.kotlin.cli.common.ExitCode;
import org.jetbrains.kotlin.cli.jvm.K2JVMCompiler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} and {@code ```kotlin} block in {@code README.md} and {@code docs/*.md}
 * compiles against the library and the test class path, so a snippet cannot drift from the API.
 *
 * <p>The conventions a snippet follows:
 *
 * <ul>
 *   <li>A Java block with a top-level {@code package}, {@code import} or type declaration is a
 *       whole source file and is compiled as written (in a package of its own).
 *   <li>Any other Java block is a list of statements. It becomes the body of a method {@code void
 *       snippet() throws Exception} in a class that extends {@link DocSnippet} (which declares the
 *       helpers snippets call, such as {@code handle(message)}, and a {@code socket} field), with
 *       the imports in {@link #STATEMENT_IMPORTS}.
 *   <li>A statement block may be preceded by a hidden HTML comment that starts with {@code <!--
 *       snippet-context}: its {@code import} lines are added to the imports and its other lines to
 *       the class's members (what the snippet needs but the reader does not).
 *   <li>A Kotlin block is always a whole file: imports, and no statement outside a function.
 *   <li>Android classes a snippet names are stand-ins under {@code src/test/snippet-stubs}.
 * </ul>
 *
 * Other fences ({@code xml}, {@code groovy}, {@code kts}, {@code sh}, none) are not compiled.
 */
class DocSnippetsTest {
  static final List<String> STATEMENT_IMPORTS =
      List.of(
          "dev.lifeline.*",
          "io.reactivex.rxjava3.core.*",
          "io.reactivex.rxjava3.schedulers.Schedulers",
          "java.time.*",
          "java.util.*",
          "java.util.concurrent.*",
          "okhttp3.*",
          "okio.ByteString");

  private static final Path STUBS = Path.of("src", "test", "snippet-stubs");
  private static final Pattern FENCE = Pattern.compile("^(\\s*)```\\s*([\\w-]*)\\s*$");
  private static final Pattern WHOLE_FILE =
      Pattern.compile(
          "^(package |import |(public |final |abstract |sealed )*(class|interface|record|enum) )",
          Pattern.MULTILINE);
  private static final Pattern PUBLIC_TYPE =
      Pattern.compile("^public (final |abstract |sealed )*(class|interface|record|enum) (\\w+)");

  /** A fenced block: where it is, its language, its code and its hidden context, if any. */
  record Snippet(String file, int firstLine, String language, String code, String context) {
    String id() {
      return file.replaceAll("\\W", "_").toLowerCase(Locale.ROOT) + "_" + firstLine;
    }

    String where() {
      return file + ":" + firstLine;
    }
  }

  @Test
  void theDocsHaveSnippets() throws IOException {
    List<Snippet> all = snippets();
    assertThat(all.stream().filter(s -> s.file().equals("README.md")).count()).isPositive();
    assertThat(all.stream().filter(s -> s.language().equals("java")).count()).isGreaterThan(10);
    assertThat(all.stream().filter(s -> s.language().equals("kotlin")).count()).isPositive();
  }

  @Test
  void everyJavaSnippetCompiles(@TempDir Path out) throws IOException {
    List<Snippet> java = snippets().stream().filter(s -> s.language().equals("java")).toList();
    List<JavaFileObject> units = new ArrayList<>();
    List<Snippet> owners = new ArrayList<>();
    List<Integer> offsets = new ArrayList<>(); // generated lines before the snippet's first line
    for (Snippet s : java) {
      String pkg = "snippets." + s.id();
      String source;
      String className;
      int offset;
      if (WHOLE_FILE.matcher(s.code()).find()) {
        boolean hasPackage = s.code().startsWith("package ");
        source = hasPackage ? s.code() : "package " + pkg + ";\n" + s.code();
        offset = hasPackage ? 0 : 1;
        Matcher m = PUBLIC_TYPE.matcher("");
        className = "Snippet";
        for (String line : s.code().split("\n")) {
          if (m.reset(line).find()) {
            className = m.group(3);
            break;
          }
        }
      } else {
        StringBuilder header = new StringBuilder("package " + pkg + ";\n");
        for (String i : STATEMENT_IMPORTS) header.append("import ").append(i).append(";\n");
        StringBuilder members = new StringBuilder();
        for (String line : s.context().split("\n")) {
          if (line.isBlank()) continue;
          (line.startsWith("import ") ? header : members).append(line).append('\n');
        }
        header
            .append("class Snippet extends dev.lifeline.docs.DocSnippet {\n")
            .append(members)
            .append("void snippet() throws Exception {\n");
        offset = (int) header.chars().filter(c -> c == '\n').count();
        source = header + s.code() + "\n}\n}\n";
        className = "Snippet";
      }
      units.add(new Source(pkg.replace('.', '/') + "/" + className + ".java", source));
      owners.add(s);
      offsets.add(offset);
    }

    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
      List<JavaFileObject> all = new ArrayList<>(units);
      try (Stream<Path> stubs = Files.walk(STUBS)) {
        stubs
            .filter(p -> p.toString().endsWith(".java"))
            .forEach(p -> files.getJavaFileObjects(p.toFile()).forEach(all::add));
      }
      List<String> options =
          List.of("--release", "17", "-proc:none", "-classpath", classPath(), "-d", out.toString());
      StringWriter output = new StringWriter();
      boolean ok = javac.getTask(output, files, diagnostics, options, null, all).call();
      List<String> errors = new ArrayList<>();
      for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
        if (d.getKind() != Diagnostic.Kind.ERROR) continue;
        int unit = units.indexOf(d.getSource());
        String where =
            unit < 0
                ? String.valueOf(d.getSource())
                : owners.get(unit).file()
                    + ":"
                    + (owners.get(unit).firstLine() + d.getLineNumber() - 1 - offsets.get(unit));
        errors.add(where + ": " + d.getMessage(Locale.ROOT));
      }
      assertThat(errors)
          .as("Java snippets that do not compile (markdown file:line)\n" + output)
          .isEmpty();
      assertThat(ok).as("javac failed without an error diagnostic:\n" + output).isTrue();
    }
  }

  @Test
  void everyKotlinSnippetCompiles(@TempDir Path dir) throws IOException {
    List<Snippet> kotlin = snippets().stream().filter(s -> s.language().equals("kotlin")).toList();
    List<String> args =
        new ArrayList<>(
            List.of(
                "-no-stdlib",
                "-no-reflect",
                "-jvm-target",
                "17",
                "-classpath",
                classPath(),
                "-d",
                dir.resolve("classes").toString()));
    StringBuilder legend = new StringBuilder();
    for (Snippet s : kotlin) {
      assertThat(s.context()).as(s.where() + ": a Kotlin snippet is a whole file").isEmpty();
      Path file = dir.resolve(s.id() + ".kt");
      boolean hasPackage = s.code().startsWith("package ");
      Files.writeString(
          file, (hasPackage ? "" : "package snippets." + s.id() + "\n") + s.code() + "\n");
      legend
          .append(file.getFileName())
          .append(" line ")
          .append(hasPackage ? 1 : 2)
          .append(" is ")
          .append(s.where())
          .append('\n');
      args.add(file.toString());
    }
    ByteArrayOutputStream messages = new ByteArrayOutputStream();
    ExitCode exit;
    try (PrintStream err = new PrintStream(messages, true, StandardCharsets.UTF_8)) {
      exit = new K2JVMCompiler().exec(err, args.toArray(String[]::new));
    }
    assertThat(exit)
        .as(
            "Kotlin snippets that do not compile:\n"
                + messages.toString(StandardCharsets.UTF_8)
                + legend)
        .isEqualTo(ExitCode.OK);
  }

  /** The fenced blocks of README.md and docs/*.md, in order. */
  static List<Snippet> snippets() throws IOException {
    List<Path> markdown = new ArrayList<>(List.of(Path.of("README.md")));
    try (Stream<Path> docs = Files.list(Path.of("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(markdown::add);
    }
    List<Snippet> found = new ArrayList<>();
    for (Path md : markdown) found.addAll(parse(md.toString(), Files.readAllLines(md)));
    return found;
  }

  static List<Snippet> parse(String file, List<String> lines) {
    List<Snippet> found = new ArrayList<>();
    String context = "";
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.strip().startsWith("<!-- snippet-context")) {
        StringBuilder c = new StringBuilder();
        while (!lines.get(++i).strip().equals("-->")) c.append(lines.get(i)).append('\n');
        context = c.toString();
        continue;
      }
      Matcher fence = FENCE.matcher(line);
      if (!fence.matches()) {
        if (!line.isBlank()) context = ""; // a context belongs to the block right after it
        continue;
      }
      int indent = fence.group(1).length();
      String language = fence.group(2);
      int first = i + 2; // 1-based number of the block's first line
      StringBuilder code = new StringBuilder();
      while (!lines.get(++i).strip().equals("```")) {
        String l = lines.get(i);
        code.append(
                l.length() >= indent && l.substring(0, indent).isBlank() ? l.substring(indent) : l)
            .append('\n');
      }
      if (language.equals("java") || language.equals("kotlin")) {
        found.add(new Snippet(file, first, language, code.toString(), context));
      }
      context = "";
    }
    return found;
  }

  private static String classPath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp == null || cp.isBlank() ? System.getProperty("java.class.path") : cp;
  }

  /** A source held in memory, named so that javac accepts its public class. */
  private static final class Source extends SimpleJavaFileObject {
    private final String code;

    Source(String path, String code) {
      super(URI.create("string:///" + path), Kind.SOURCE);
      this.code = code;
    }

    @Override
    public CharSequence getCharContent(boolean ignoreEncodingErrors) {
      return code;
    }
  }
}
