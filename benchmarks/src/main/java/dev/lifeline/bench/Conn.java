package dev.lifeline.bench;

import dev.lifeline.ConnectionState;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.disposables.Disposable;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;

/**
 * One open WebSocket, either raw OkHttp or Lifeline over the same {@link OkHttpClient}, so that a
 * workload runs the same code against both. Messages reach the {@link Receiver} on OkHttp's reader
 * thread in both cases (Lifeline adds no thread hop).
 */
abstract class Conn implements AutoCloseable {
  enum Kind {
    RAW("raw OkHttp"),
    LIFELINE("Lifeline");

    final String label;

    Kind(String label) {
      this.label = label;
    }
  }

  abstract boolean send(ByteString bytes);

  abstract boolean send(String text);

  @Override
  public abstract void close();

  /**
   * The client both kinds use: {@code base} for Lifeline, which asks for {@code
   * Heartbeat.protocol(heartbeat, heartbeat)} (its default kind of heartbeat); raw OkHttp gets the
   * same client with {@code pingInterval(heartbeat)}, its only liveness check, built once.
   */
  record Clients(OkHttpClient base, Duration heartbeat, OkHttpClient pinging) {
    static Clients of(OkHttpClient base, Duration heartbeat) {
      return new Clients(base, heartbeat, base.newBuilder().pingInterval(heartbeat).build());
    }
  }

  /** Opens a connection of {@code kind} and waits until it is open. */
  static Conn open(Kind kind, Clients clients, String url, Receiver r)
      throws IOException, InterruptedException {
    Conn conn = start(kind, clients, url, r);
    conn.awaitOpen();
    return conn;
  }

  /** Starts opening a connection of {@code kind}; {@link #awaitOpen()} waits for it. */
  static Conn start(Kind kind, Clients clients, String url, Receiver r) {
    return kind == Kind.RAW
        ? new Raw(clients.pinging(), url, r)
        : new Lifeline(clients.base(), url, clients.heartbeat(), r);
  }

  /** Waits until the connection is open; throws if it failed. */
  abstract void awaitOpen() throws IOException, InterruptedException;

  /** Raw OkHttp: {@code newWebSocket} and a listener. */
  static final class Raw extends Conn {
    private final CountDownLatch opened = new CountDownLatch(1);
    private volatile Throwable failure;
    private final WebSocket webSocket;

    Raw(OkHttpClient client, String url, Receiver receiver) {
      webSocket =
          client.newWebSocket(
              new Request.Builder().url(url).build(),
              new WebSocketListener() {
                @Override
                public void onOpen(WebSocket webSocket, Response response) {
                  opened.countDown();
                }

                @Override
                public void onMessage(WebSocket webSocket, String text) {
                  receiver.onText(text);
                }

                @Override
                public void onMessage(WebSocket webSocket, ByteString bytes) {
                  receiver.onBinary(bytes);
                }

                @Override
                public void onFailure(WebSocket webSocket, Throwable t, Response response) {
                  failure = t;
                  opened.countDown();
                }
              });
    }

    @Override
    void awaitOpen() throws IOException, InterruptedException {
      if (!opened.await(30, TimeUnit.SECONDS)) throw new IOException("raw socket not open in 30 s");
      if (failure != null) throw new IOException("raw socket failed", failure);
    }

    @Override
    boolean send(ByteString bytes) {
      return webSocket.send(bytes);
    }

    @Override
    boolean send(String text) {
      return webSocket.send(text);
    }

    @Override
    public void close() {
      webSocket.close(1000, null);
    }
  }

  /** Lifeline: a {@link ReconnectingSocket} on the same client. */
  static final class Lifeline extends Conn {
    private final ReconnectingSocket socket;
    private final Disposable subscription;
    private final CountDownLatch settled = new CountDownLatch(1);
    private final Disposable stateWatch;

    Lifeline(OkHttpClient client, String url, Duration heartbeat, Receiver receiver) {
      socket =
          ReconnectingSocket.builder(url)
              .client(client)
              .heartbeat(Heartbeat.protocol(heartbeat, heartbeat))
              .build();
      subscription =
          socket
              .messages()
              .subscribe(
                  m -> {
                    if (m instanceof Message.Binary b) receiver.onBinary(b.bytes());
                    else receiver.onText(((Message.Text) m).text());
                  });
      stateWatch =
          socket
              .states()
              .subscribe(
                  s -> {
                    if (s instanceof ConnectionState.Connected
                        || s instanceof ConnectionState.Failed) {
                      settled.countDown();
                    }
                  });
      socket.connect();
    }

    @Override
    void awaitOpen() throws IOException, InterruptedException {
      // A latch, as for raw OkHttp, so that waiting costs both kinds the same.
      if (!settled.await(30, TimeUnit.SECONDS)) throw new IOException("not connected in 30 s");
      stateWatch.dispose();
      ConnectionState state = socket.state();
      if (!(state instanceof ConnectionState.Connected)) {
        throw new IOException("Lifeline socket not connected: " + state);
      }
    }

    @Override
    boolean send(ByteString bytes) {
      return accepted(socket.send(bytes));
    }

    @Override
    boolean send(String text) {
      return accepted(socket.send(text));
    }

    /** Above the high-water mark a send is queued, and still goes out in order. */
    private static boolean accepted(SendResult result) {
      return result == SendResult.SENT || result == SendResult.QUEUED;
    }

    @Override
    public void close() {
      subscription.dispose();
      stateWatch.dispose();
      socket.close();
    }
  }
}
