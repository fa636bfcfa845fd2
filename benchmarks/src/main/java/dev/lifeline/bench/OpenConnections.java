package dev.lifeline.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** The check every outage workload ends with: the next workload must start with no connection. */
final class OpenConnections {
  private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(15);

  private OpenConnections() {}

  /**
   * Waits until the server holds no connection (closes finish asynchronously on its side); throws
   * if some are still open after 15 s.
   */
  static void awaitNone(ServerProcess server) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT_NANOS;
    String open;
    while (!(open = server.command("open")).equals("0")) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(open + " connections still open on the server");
      }
      Thread.sleep(50);
    }
  }
}
