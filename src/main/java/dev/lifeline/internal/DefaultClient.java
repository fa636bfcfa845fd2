package dev.lifeline.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;

/**
 * The client shared by every socket built without one. OkHttp's dispatcher counts each open
 * WebSocket against {@code maxRequests} (64 by default) for the socket's whole life; this client
 * lifts that cap so that any number of sockets can be open at once.
 *
 * <p>Its dispatcher's threads are daemon threads. OkHttp's own are not, and an idle one lingers for
 * 60 s, so a program that closed every socket and returned from {@code main} would not exit for a
 * minute. These are still OkHttp's threads (its reader loops run on them), made by the same kind of
 * pool; only the daemon flag differs.
 */
public final class DefaultClient {
  private DefaultClient() {}

  private static final class Holder {
    static final OkHttpClient CLIENT = create();
  }

  /** Returns the shared client, creating it on first use. */
  public static OkHttpClient get() {
    return Holder.CLIENT;
  }

  static OkHttpClient create() {
    AtomicInteger count = new AtomicInteger();
    ThreadFactory daemons =
        runnable -> {
          Thread t =
              new Thread(runnable, "OkHttp Dispatcher (Lifeline) " + count.incrementAndGet());
          t.setDaemon(true);
          return t;
        };
    // OkHttp's own dispatcher pool, but with daemon threads.
    ExecutorService executor =
        new ThreadPoolExecutor(
            0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), daemons);
    Dispatcher dispatcher = new Dispatcher(executor);
    dispatcher.setMaxRequests(Integer.MAX_VALUE);
    dispatcher.setMaxRequestsPerHost(Integer.MAX_VALUE);
    return new OkHttpClient.Builder().dispatcher(dispatcher).build();
  }
}
