package dev.lifeline.internal;

import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ServerClosedException;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.disposables.Disposable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection attempt and, if it opens, the connection: OkHttp's listener for one {@link
 * WebSocket}, the {@link Session} handed to the ready hook, and what the heartbeat watches.
 *
 * <p>OkHttp's callbacks become events on the socket's serial loop, except inbound messages, which
 * go straight from the reader thread to subscribers (no hop on the hot path). Once the loop has
 * ended this link ({@link #ended}), its callbacks are ignored: a late callback from an earlier
 * attempt never touches the current connection.
 */
final class Link extends WebSocketListener implements Session, HeartbeatMonitor.Link {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  final RealReconnectingSocket socket;
  final int attempt;
  final HeartbeatMonitor monitor;
  private final Heartbeat heartbeat;
  private final boolean matchPongs;
  private final SerialEmitter<Message> sessionMessages = new SerialEmitter<>();
  private final AtomicReference<Throwable> killedBy = new AtomicReference<>();

  // Written by the socket's loop; read by OkHttp's threads.
  volatile @Nullable WebSocket webSocket;
  volatile boolean ended;
  volatile boolean healthPending;

  // Guarded by the socket's send lock: who waits for a message to leave OkHttp's queue, and the
  // bytes enqueued since the first of them started waiting.
  private final List<WrittenWaiter> writtenWaiters = new ArrayList<>();
  private long watchedBytes;

  // Guarded by the send lock: a lower bound on the bytes OkHttp's queue can still take under the
  // high-water mark. Set from queueSize() when the socket last asked, less what was enqueued since
  // (counted by upper bound); the queue can only have shrunk meanwhile, as only we add to it.
  long knownRoom;

  // Loop-confined.
  boolean opened;
  boolean ready;
  long openedAt;
  @Nullable Response handshake;
  Disposable hook = Disposable.disposed();

  Link(
      RealReconnectingSocket socket,
      int attempt,
      Heartbeat heartbeat,
      Scheduler scheduler,
      @Nullable LinkActivity activity) {
    this.socket = socket;
    this.attempt = attempt;
    this.heartbeat = heartbeat;
    this.matchPongs = heartbeat.mode() == Heartbeat.Mode.APPLICATION;
    this.monitor = new HeartbeatMonitor(heartbeat, scheduler, activity, this);
  }

  /**
   * Ends this connection from our side with {@code cause}: the first caller wins, cancels the
   * WebSocket (no graceful close: on a dead link that waits up to a minute) and so makes OkHttp's
   * own failure report carry {@code cause}.
   */
  boolean kill(Throwable cause) {
    if (!killedBy.compareAndSet(null, cause)) return false;
    WebSocket ws = webSocket;
    if (ws != null) ws.cancel();
    return true;
  }

  /**
   * Completes the session's message stream and fails what still waits to be written; the loop calls
   * this when it ends the link for {@code cause}.
   */
  void finish(Throwable cause) {
    ended = true;
    monitor.stop();
    hook.dispose();
    sessionMessages.onComplete();
    List<WrittenWaiter> lost;
    synchronized (socket.sendLock()) {
      lost = new ArrayList<>(writtenWaiters);
      writtenWaiters.clear();
    }
    for (WrittenWaiter w : lost) w.lost(cause);
  }

  /** Holding the send lock: starts counting for {@code waiter}, whose message was just sent. */
  void watchWritten(WrittenWaiter waiter) {
    if (writtenWaiters.isEmpty()) watchedBytes = 0;
    waiter.base = watchedBytes;
    writtenWaiters.add(waiter);
  }

  /** Holding the send lock. */
  void unwatchWritten(WrittenWaiter waiter) {
    writtenWaiters.remove(waiter);
  }

  /** Holding the send lock: payload bytes enqueued since the count stood at {@code base}. */
  long bytesEnqueuedSince(long base) {
    return watchedBytes - base;
  }

  /** Holding the send lock: removes and returns the waiters whose message has left the queue. */
  List<WrittenWaiter> takeWritten() {
    if (writtenWaiters.isEmpty()) return Collections.emptyList();
    List<WrittenWaiter> done = new ArrayList<>();
    for (Iterator<WrittenWaiter> it = writtenWaiters.iterator(); it.hasNext(); ) {
      WrittenWaiter w = it.next();
      if (w.isWritten()) {
        it.remove();
        done.add(w);
      }
    }
    return done;
  }

  /** Holding the send lock. */
  boolean awaitsWrites() {
    return !writtenWaiters.isEmpty();
  }

  // --- OkHttp callbacks ---------------------------------------------------------------------

  @Override
  public void onOpen(WebSocket webSocket, Response response) {
    socket.submit(() -> socket.opened(this, response));
  }

  @Override
  public void onMessage(WebSocket webSocket, String text) {
    if (!ended) receive(Message.text(text));
  }

  @Override
  public void onMessage(WebSocket webSocket, ByteString bytes) {
    if (!ended) receive(Message.binary(bytes));
  }

  private void receive(Message message) {
    monitor.onFrame();
    if (healthPending) {
      healthPending = false;
      socket.submit(() -> socket.checkHealthy(this));
    }
    if (matchPongs && heartbeat.isPong(message)) {
      monitor.onPong();
      return;
    }
    if (socket.consumeReply(message)) return;
    if (log.isTraceEnabled()) log.trace("{} received {}", socket.name(), describe(message));
    monitor.setDelivering(true);
    try {
      socket.deliver(message);
      if (sessionMessages.hasObservers()) sessionMessages.onNext(message);
    } finally {
      monitor.setDelivering(false);
    }
  }

  @Override
  public void onClosing(WebSocket webSocket, int code, String reason) {
    // OkHttp does not answer the server's close frame for us; until we do, the connection lingers.
    try {
      webSocket.close(isSendableCloseCode(code) ? code : 1000, null);
    } catch (IllegalArgumentException ignored) {
      webSocket.close(1000, null);
    }
    socket.submit(() -> socket.linkEnded(this, new ServerClosedException(code, reason)));
  }

  @Override
  public void onClosed(WebSocket webSocket, int code, String reason) {
    socket.submit(() -> socket.linkEnded(this, new ServerClosedException(code, reason)));
  }

  @Override
  public void onFailure(WebSocket webSocket, Throwable t, Response response) {
    Throwable ours = killedBy.get();
    Throwable cause = ours != null ? ours : socket.describeFailure(t, response);
    socket.submit(() -> socket.linkEnded(this, cause));
  }

  // --- Session -------------------------------------------------------------------------------

  @Override
  public Response handshake() {
    // The socket hands a Session to the ready hook only after the WebSocket opened.
    return Objects.requireNonNull(handshake, "no handshake before the WebSocket opened");
  }

  @Override
  public boolean send(String text) {
    synchronized (socket.sendLock()) {
      return sendNow(Message.text(text));
    }
  }

  @Override
  public boolean send(ByteString bytes) {
    synchronized (socket.sendLock()) {
      return sendNow(Message.binary(bytes));
    }
  }

  @Override
  public Observable<Message> messages() {
    return sessionMessages.subject().hide();
  }

  /**
   * Holding the send lock: hands {@code message} to OkHttp; false if this connection has ended or
   * OkHttp refused it. Every message Lifeline sends goes through here, so that a thread's messages
   * keep their order and written-waiters see every byte enqueued after theirs.
   */
  boolean sendNow(Message message) {
    WebSocket ws = webSocket;
    if (ended || ws == null) return false;
    boolean accepted =
        message instanceof Message.Text t
            ? ws.send(t.text())
            : ws.send(((Message.Binary) message).bytes());
    if (accepted) {
      knownRoom -= RealReconnectingSocket.upperBound(message);
      if (!writtenWaiters.isEmpty()) watchedBytes += message.sizeInBytes();
    }
    return accepted;
  }

  // --- HeartbeatMonitor.Link -------------------------------------------------------------------

  @Override
  public long queueSize() {
    WebSocket ws = webSocket;
    return ws == null ? 0 : ws.queueSize();
  }

  @Override
  public boolean sendPing(Message ping) {
    if (log.isDebugEnabled()) log.debug("{} heartbeat ping", socket.name());
    synchronized (socket.sendLock()) {
      return sendNow(ping);
    }
  }

  @Override
  public void dead(HeartbeatTimeoutException cause) {
    if (kill(cause)) socket.submit(() -> socket.linkEnded(this, cause));
  }

  @Override
  public void roundTrip(Duration rtt) {
    socket.roundTrip(rtt);
  }

  private static boolean isSendableCloseCode(int code) {
    // RFC 6455 7.4: 1004-1006 and 1015-2999 are reserved and may not be sent.
    return code >= 1000
        && code < 5000
        && !(code >= 1004 && code <= 1006)
        && !(code >= 1015 && code <= 2999);
  }

  static String describe(Message m) {
    return m instanceof Message.Text t
        ? "text: " + t.text()
        : "binary: " + ((Message.Binary) m).bytes().hex();
  }
}
