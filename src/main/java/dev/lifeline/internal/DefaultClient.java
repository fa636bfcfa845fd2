package dev.lifeline.internal;

import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;

/**
 * The client shared by every socket built without one. OkHttp's dispatcher counts each open
 * WebSocket against {@code maxRequests} (64 by default) for the socket's whole life; this client
 * lifts that cap so that any number of sockets can be open at once.
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
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(Integer.MAX_VALUE);
    dispatcher.setMaxRequestsPerHost(Integer.MAX_VALUE);
    return new OkHttpClient.Builder().dispatcher(dispatcher).build();
  }
}
