package dev.lifeline.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ProtocolException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import okhttp3.Headers;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;
import org.jspecify.annotations.Nullable;

/**
 * A {@link WebSocket.Factory} whose sockets the test drives by hand: open them, push messages, fail
 * them, close them from the "server". Everything runs on the test thread, so together with a {@code
 * TestScheduler} the whole state machine is deterministic. The sockets' own state is synchronized
 * (as OkHttp's is), so that a stress test may send from several threads while another one plays
 * OkHttp's writer; their listener callbacks are made with no lock held, as OkHttp makes them.
 */
final class FakeWebSockets implements WebSocket.Factory {
  final List<FakeSocket> created = new ArrayList<>();

  /** Where the "socket" reports the bytes of the 101 response, as counted sockets do; or null. */
  LinkActivity handshakeBytesTo;

  /** When true, every new socket starts with {@link FakeSocket#queueGrows} set. */
  boolean queueGrows;

  /** When set, every new socket stamps each accepted send with this clock's time (ms). */
  LongSupplier clock;

  @Override
  public synchronized WebSocket newWebSocket(Request request, WebSocketListener listener) {
    // As OkHttp's RealWebSocket does, synchronously.
    if (!"GET".equals(request.method())) {
      throw new IllegalArgumentException("Request must be GET: " + request.method());
    }
    FakeSocket socket = new FakeSocket(request, listener, handshakeBytesTo);
    socket.queueGrows = queueGrows;
    socket.clock = clock;
    created.add(socket);
    return socket;
  }

  /** The most recent socket. */
  synchronized FakeSocket last() {
    assertThat(created).as("sockets created").isNotEmpty();
    return created.get(created.size() - 1);
  }

  int count() {
    return created.size();
  }

  static final class FakeSocket implements WebSocket {
    final Request request;
    final WebSocketListener listener;
    final List<Object> sent = new ArrayList<>();
    long queueSize;
    boolean cancelled;
    Integer closeCode;
    boolean accepting = true;

    /**
     * When true, {@link #cancel()} does not stop sends: like OkHttp, whose {@code send} keeps
     * returning true after {@code cancel()} until the failure it causes has been processed. What is
     * sent then is lost with the connection.
     */
    boolean sendsAfterCancel;

    /** Whether {@link #open} was called. */
    boolean opened;

    /**
     * Whether the "server" failed this socket ({@link #fail}, {@link #rejectHandshake}): like
     * OkHttp's after a failure, it then refuses sends, and its unwritten messages are lost.
     */
    boolean failed;

    /** With a {@link FakeWebSockets#clock}: when each of {@link #sent} was accepted, in ms. */
    final List<Long> sentAtMillis = new ArrayList<>();

    LongSupplier clock;

    /** When true, sends add their size to {@link #queueSize}, as OkHttp's queue does. */
    boolean queueGrows;

    long maxQueueSize;

    /** How often Lifeline asked for {@link #queueSize()} (OkHttp takes its lock to answer). */
    int queueSizeCalls;

    /**
     * With {@link #queueGrows}: how many of {@link #sent} have left the queue (OkHttp's writer took
     * them, oldest first); the rest are still queued. Without it, everything sent counts as
     * written.
     */
    int writtenCount;

    private final LinkActivity handshakeBytesTo;

    FakeSocket(Request request, WebSocketListener listener, LinkActivity handshakeBytesTo) {
      this.request = request;
      this.listener = listener;
      this.handshakeBytesTo = handshakeBytesTo;
    }

    // --- the "server" side ---

    FakeSocket open() {
      opened = true;
      if (handshakeBytesTo != null) handshakeBytesTo.onRead(129); // the 101 response
      listener.onOpen(this, response(101, "Switching Protocols", Headers.of()));
      return this;
    }

    FakeSocket receive(String text) {
      listener.onMessage(this, text);
      return this;
    }

    FakeSocket receive(ByteString bytes) {
      listener.onMessage(this, bytes);
      return this;
    }

    void fail(Throwable t) {
      failed = true;
      listener.onFailure(this, t, null);
    }

    void drop() {
      fail(new IOException("connection reset"));
    }

    void rejectHandshake(int code, Headers headers) {
      failed = true;
      listener.onFailure(
          this,
          new ProtocolException("Expected HTTP 101 response but was '" + code + "'"),
          response(code, "Status " + code, headers));
    }

    void serverClose(int code, String reason) {
      listener.onClosing(this, code, reason);
    }

    /**
     * The closing handshake finished: OkHttp reports {@code onClosed} with the code this side sent,
     * after writing everything that was queued before the close frame.
     */
    void closed() {
      writeAll();
      listener.onClosed(this, closeCode != null ? closeCode : 1000, "");
    }

    /**
     * OkHttp's writer writes the {@code frames} oldest queued messages to the network, as the real
     * one does: the socket's byte count first ({@code onWrite}, where counted), then the queue size
     * shrinks. Needs {@link #queueGrows}.
     */
    synchronized FakeSocket writeFrames(int frames) {
      assertThat(queueGrows).as("writeFrames needs queueGrows").isTrue();
      if (cancelled || failed) return this; // OkHttp writes nothing after a connection ended
      for (int i = 0; i < frames && writtenCount < sent.size(); i++) {
        long size = sizeOf(sent.get(writtenCount));
        if (handshakeBytesTo != null) handshakeBytesTo.onWrite((int) Math.min(size + 6, 1 << 30));
        writtenCount++;
        queueSize -= size;
      }
      return this;
    }

    /** {@link #writeFrames} for everything still queued. */
    FakeSocket writeAll() {
      return writeFrames(sent.size() - writtenCount);
    }

    /** What left the queue: written to the "network", in order. */
    synchronized List<Object> written() {
      return queueGrows ? new ArrayList<>(sent.subList(0, writtenCount)) : new ArrayList<>(sent);
    }

    /** What is still in the queue: lost with the connection if it dies now. */
    synchronized List<Object> unwritten() {
      return queueGrows
          ? new ArrayList<>(sent.subList(writtenCount, sent.size()))
          : new ArrayList<>();
    }

    static long sizeOf(Object frame) {
      return frame instanceof String s
          ? ByteString.encodeUtf8(s).size()
          : ((ByteString) frame).size();
    }

    List<String> sentTexts() {
      List<String> out = new ArrayList<>();
      for (Object o : sent) if (o instanceof String s) out.add(s);
      return out;
    }

    private Response response(int code, String message, Headers headers) {
      return new Response.Builder()
          .request(request)
          .protocol(Protocol.HTTP_1_1)
          .code(code)
          .message(message)
          .headers(headers)
          .build();
    }

    // --- WebSocket ---

    @Override
    public Request request() {
      return request;
    }

    /** Run once, just after the {@link #afterQueueSizeCall}-th {@link #queueSize()} is read. */
    @Nullable Runnable afterQueueSize;

    int afterQueueSizeCall;

    @Override
    public synchronized long queueSize() {
      queueSizeCalls++;
      long answer = queueSize;
      Runnable then = afterQueueSize;
      if (then != null && queueSizeCalls == afterQueueSizeCall) {
        afterQueueSize = null;
        then.run(); // OkHttp's writer moves on while the caller still holds this answer
      }
      return answer;
    }

    @Override
    public synchronized boolean send(String text) {
      if (!accepting || (cancelled && !sendsAfterCancel) || failed || closeCode != null) {
        return false;
      }
      sent.add(text);
      grow(ByteString.encodeUtf8(text).size());
      return true;
    }

    @Override
    public synchronized boolean send(ByteString bytes) {
      if (!accepting || (cancelled && !sendsAfterCancel) || failed || closeCode != null) {
        return false;
      }
      sent.add(bytes);
      grow(bytes.size());
      return true;
    }

    private void grow(long size) {
      if (clock != null) sentAtMillis.add(clock.getAsLong());
      if (!queueGrows) return;
      queueSize += size;
      maxQueueSize = Math.max(maxQueueSize, queueSize);
    }

    @Override
    public synchronized boolean close(int code, String reason) {
      if (closeCode != null || cancelled) return false;
      closeCode = code;
      return true;
    }

    @Override
    public synchronized void cancel() {
      cancelled = true;
    }
  }
}
