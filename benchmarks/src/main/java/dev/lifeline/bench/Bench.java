package dev.lifeline.bench;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;

/**
 * What every workload shares: the echo server's process, the number of rounds, and the one {@link
 * OkHttpClient} configuration both kinds of client are built on.
 */
record Bench(ServerProcess server, int warmupRounds, int rounds, boolean quick) {
  /**
   * The client configuration both kinds use: OkHttp's defaults, except a dispatcher with no limit
   * on concurrent calls (OkHttp counts an open WebSocket against {@code maxRequests}, 64 by
   * default, so raw OkHttp could not open more sockets than that) and no read timeout (WebSockets
   * ignore it anyway).
   */
  OkHttpClient client() {
    return client(new Dispatcher());
  }

  static OkHttpClient client(Dispatcher dispatcher) {
    dispatcher.setMaxRequests(Integer.MAX_VALUE);
    dispatcher.setMaxRequestsPerHost(Integer.MAX_VALUE);
    return new OkHttpClient.Builder()
        .dispatcher(dispatcher)
        .connectionPool(new ConnectionPool(5, 1, TimeUnit.MINUTES))
        .readTimeout(Duration.ZERO)
        .build();
  }

  void progress(String line) {
    System.err.println("[bench] " + line);
  }
}
