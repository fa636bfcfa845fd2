package dev.lifeline.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The echo server's process, started from the benchmark's JVM and driven by its commands. */
final class ServerProcess implements AutoCloseable {
  private final Process process;
  private final PrintStream commands;
  private final BufferedReader answers;
  final int port;

  private ServerProcess(Process process) throws IOException {
    this.process = process;
    this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    this.answers =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.port = Integer.parseInt(command("port"));
  }

  /** Starts {@link EchoServer} in a new JVM on this JVM's classpath. */
  static ServerProcess start() throws IOException {
    return new ServerProcess(
        JavaProcess.builder(EchoServer.class, List.of("-Xmx1g", "-XX:+UseParallelGC"), List.of())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start());
  }

  String url(String path) {
    return "ws://127.0.0.1:" + port + path;
  }

  /** Sends one command and returns what follows {@code ok}. */
  synchronized String command(String command) throws IOException {
    commands.println(command);
    String line = answers.readLine();
    if (line == null || !line.startsWith("ok")) {
      throw new IOException("echo server answered " + line + " to " + command);
    }
    return line.length() > 2 ? line.substring(3) : "";
  }

  long commandNanos(String command) throws IOException {
    return Long.parseLong(command(command));
  }

  long cpuNanos() throws IOException {
    return commandNanos("cpu");
  }

  @Override
  public void close() throws Exception {
    try {
      command("quit");
    } catch (IOException ignored) {
      // already gone
    }
    if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
  }
}
