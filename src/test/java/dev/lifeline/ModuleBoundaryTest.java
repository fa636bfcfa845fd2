package dev.lifeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On the module path, {@code dev.lifeline} exports its API and hides {@code dev.lifeline.internal}:
 * an application module that uses the API compiles, one that imports an internal class does not.
 * The module under test is the build's own output, with the descriptor the jar carries in {@code
 * META-INF/versions/9}.
 */
class ModuleBoundaryTest {
  @TempDir Path work;

  @Test
  void aModuleSeesTheApiAndNotTheInternalPackage() throws IOException {
    Path classes = Paths.get("target", "classes");
    Path descriptor = classes.resolve("META-INF/versions/9/module-info.class");
    assertThat(descriptor).as("the multi-release module descriptor").exists();
    // An exploded module: the classes, with the descriptor at the root.
    Path module = work.resolve("dev.lifeline");
    copyTree(classes, module);
    Files.copy(descriptor, module.resolve("module-info.class"));

    assertThat(compileApp("dev.lifeline.ReconnectingSocket", module)).isEmpty();
    assertThat(compileApp("dev.lifeline.internal.Config", module))
        .contains("package dev.lifeline.internal is not visible");
  }

  /** Compiles a one-class application module that imports {@code type}; returns the errors. */
  private String compileApp(String type, Path lifeline) throws IOException {
    Path src = Files.createDirectories(work.resolve("app-" + type.length() + "/src/app"));
    Files.writeString(
        src.getParent().resolve("module-info.java"), "module app { requires dev.lifeline; }\n");
    Files.writeString(
        src.resolve("Main.java"),
        "package app;\nimport " + type + ";\nclass Main { " + simpleName(type) + " x; }\n");
    List<String> modulePath = new ArrayList<>();
    modulePath.add(lifeline.toString());
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.endsWith(".jar")) modulePath.add(entry);
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    StringWriter errors = new StringWriter();
    List<String> args = new ArrayList<>();
    args.add("--module-path");
    args.add(String.join(File.pathSeparator, modulePath));
    args.add("-d");
    args.add(Files.createDirectories(src.getParent().resolve("out")).toString());
    args.add(src.getParent().resolve("module-info.java").toString());
    args.add(src.resolve("Main.java").toString());
    int rc =
        javac.run(
            null,
            null,
            new java.io.PrintStream(new WriterStream(errors)),
            args.toArray(String[]::new));
    return rc == 0 ? "" : errors.toString();
  }

  private static String simpleName(String type) {
    return type.substring(type.lastIndexOf('.') + 1);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : (Iterable<Path>) paths::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else if (!p.toString().contains("META-INF")) {
          Files.copy(p, target);
        }
      }
    }
  }

  /** An OutputStream into a Writer, for javac's error stream. */
  private static final class WriterStream extends java.io.OutputStream {
    private final StringWriter out;

    WriterStream(StringWriter out) {
      this.out = out;
    }

    @Override
    public void write(int b) {
      out.write(b);
    }
  }
}
