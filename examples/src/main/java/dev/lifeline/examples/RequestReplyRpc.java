/*
 * Request/reply over one WebSocket, with correlation ids and timeouts: the replyTo/correlationId
 * pattern of message brokers such as RabbitMQ, where many requests share one connection and each
 * reply names the request it answers. Correlation.by(...) tells the socket where the id is in a
 * request and in a reply; request(...) sends and emits the matching reply, or fails with
 * NotDeliveredException (reason NO_REPLY) when none comes in time. A request whose reply has not arrived
 * when the connection drops is sent again, with the same id, on the next connection; the server
 * recognises the id and does not apply the request twice.
 *
 * The protocol is text: "req:<id>:<operation>" and "rep:<id>:<result>". Without arguments an
 * embedded server (MockWebServer on loopback) answers: two requests succeed, one is ignored and
 * times out after 2 s, and one ("transfer 10") is applied, then the server closes the connection
 * (1011) before the reply; the client resends it after the reconnect, and the server answers from
 * its record of ids.
 *
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.RequestReplyRpc
 *   mvn -q -Pdemo -Ddemo.mainClass=dev.lifeline.examples.RequestReplyRpc \
 *       -Ddemo.args="--url ws://host/rpc"
 */
package dev.lifeline.examples;

import dev.lifeline.Backoff;
import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

public final class RequestReplyRpc {
  private static final AtomicLong NEXT_ID = new AtomicLong(1);

  public static void main(String[] args) throws Exception {
    String logLevel = "org.slf4j.simpleLogger.log.dev.lifeline"; // quiet unless asked for
    if (System.getProperty(logLevel) == null) System.setProperty(logLevel, "warn");

    String url = null;
    if (args.length == 2 && args[0].equals("--url")) {
      url = args[1];
    } else if (args.length != 0) {
      System.err.println("usage: RequestReplyRpc [--url ws://host/path]");
      System.exit(2);
    }
    MockWebServer server = null;
    if (url == null) {
      server = new MockWebServer();
      server.setDispatcher(new RpcServer());
      server.start(InetAddress.getLoopbackAddress(), 0);
      url = "ws://127.0.0.1:" + server.getPort() + "/rpc";
    }

    ReconnectingSocket socket =
        ReconnectingSocket.builder(url)
            .retryPolicy(Backoff.exponential(Duration.ofMillis(300), Duration.ofSeconds(5)))
            .build();
    Replies rpc =
        socket.replies(
            Correlation.by(
                    out -> field(out, "req:"), // the id a request carries
                    in -> field(in, "rep:")) // the id a reply answers; null: not a reply
                .timeout(Duration.ofSeconds(2)));
    socket.states().skip(1).subscribe(state -> System.out.println("           state: " + state));
    socket.connect();

    int failures = 0;
    for (String operation : List.of("add 2 3", "add 40 2", "ignore me", "transfer 10")) {
      String id = Long.toString(NEXT_ID.getAndIncrement());
      System.out.println("request  " + id + ": " + operation);
      try {
        Message reply =
            rpc.request(Message.text("req:" + id + ":" + operation), id)
                .timeout(10, TimeUnit.SECONDS) // a local safety net; the correlation's is 2 s
                .blockingGet();
        System.out.println("reply    " + id + ": " + reply.text());
      } catch (NotDeliveredException e) {
        if (e.reason() != NotDeliveredException.Reason.NO_REPLY) throw e;
        failures++;
        System.out.println("timeout  " + id + ": " + e.getMessage());
      }
    }

    socket.close();
    if (server != null) server.close();
    System.out.println("done: 3 replies, " + failures + " timeout");
  }

  /** The id of "req:<id>:..." (with prefix "req:") or "rep:<id>:..." (with "rep:"), or null. */
  static String field(Message message, String prefix) {
    if (!(message instanceof Message.Text t) || !t.text().startsWith(prefix)) return null;
    int end = t.text().indexOf(':', prefix.length());
    return end < 0 ? null : t.text().substring(prefix.length(), end);
  }

  /**
   * Executes "add a b" and "transfer n"; ignores anything else. Remembers the reply of each id, so
   * a request sent again after a reconnect is answered from the record and not applied twice. The
   * first "transfer" is applied and then the connection drops before the reply goes out.
   */
  static final class RpcServer extends Dispatcher {
    private final Map<String, String> replies = new ConcurrentHashMap<>();
    private final AtomicLong balance = new AtomicLong();
    private volatile boolean dropped;

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      return new MockResponse.Builder()
          .webSocketUpgrade(
              new WebSocketListener() {
                @Override
                public void onMessage(WebSocket ws, String text) {
                  String[] parts = text.split(":", 3);
                  if (parts.length < 3 || !parts[0].equals("req")) return;
                  String id = parts[1];
                  String known = replies.get(id);
                  if (known != null) {
                    System.out.println("server   id " + id + " seen before: not applied again");
                    ws.send(known);
                    return;
                  }
                  String[] op = parts[2].split(" ");
                  String result;
                  if (op[0].equals("add") && op.length == 3) {
                    result = Long.toString(Long.parseLong(op[1]) + Long.parseLong(op[2]));
                  } else if (op[0].equals("transfer") && op.length == 2) {
                    result = "balance=" + balance.addAndGet(Long.parseLong(op[1]));
                  } else {
                    System.out.println("server   ignores request " + id);
                    return;
                  }
                  String reply = "rep:" + id + ":" + result;
                  replies.put(id, reply);
                  if (op[0].equals("transfer") && !dropped) {
                    dropped = true;
                    System.out.println(
                        "server   applied " + id + " (" + result + "), drops before replying");
                    ws.close(1011, "internal error");
                    return;
                  }
                  ws.send(reply);
                }

                @Override
                public void onClosing(WebSocket ws, int code, String reason) {
                  ws.close(1000, null);
                }
              })
          .build();
    }
  }

  private RequestReplyRpc() {}
}
