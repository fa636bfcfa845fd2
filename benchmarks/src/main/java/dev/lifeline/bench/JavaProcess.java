package dev.lifeline.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds a command line that runs a main class in a new JVM, the same java, the same classpath. */
final class JavaProcess {
  private JavaProcess() {}

  static ProcessBuilder builder(Class<?> main, List<String> jvmOptions, List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(args);
    return new ProcessBuilder(command);
  }
}
