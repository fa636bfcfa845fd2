package dev.lifeline.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A program that closes its sockets can exit: with the default client, the JVM ends as soon as
 * {@code main} returns after {@code close()}, not a minute later when OkHttp's idle dispatcher
 * threads time out. Measured in a child JVM, waiting on its exit (no sleeps).
 */
class JvmExitTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  @Timeout(60)
  void aProgramThatClosesItsSocketExitsWithinTwoSecondsOfClose() throws Exception {
    server.enqueue(new MockResponse.Builder().webSocketUpgrade(ServerListener.echo()).build());
    String java =
        System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    Process child =
        new ProcessBuilder(
                List.of(
                    java,
                    "-cp",
                    System.getProperty("java.class.path"),
                    ExitAfterClose.class.getName(),
                    server.url("/feed").toString()))
            .redirectErrorStream(true)
            .start();
    long closedAt = -1;
    StringBuilder output = new StringBuilder();
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        output.append(line).append('\n');
        if (line.equals("closed")) closedAt = System.nanoTime();
      }
    }
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("the child exited: %s", output).isTrue();
    long exitedAt = System.nanoTime();
    assertThat(closedAt).as("the child printed 'closed': %s", output).isPositive();
    long ms = TimeUnit.NANOSECONDS.toMillis(exitedAt - closedAt);
    System.out.println("JVM exit after close(): " + ms + " ms");
    assertThat(child.exitValue()).as(output.toString()).isZero();
    assertThat(ms).as("milliseconds from close() to the JVM's exit").isLessThan(2_000);
  }
}
