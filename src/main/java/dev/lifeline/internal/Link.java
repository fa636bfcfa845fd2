package dev.lifeline.internal;

import dev.lifeline.Heartbeat;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ServerClosedException;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Observable;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
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
 * <p>OkHttp's callbacks become events on the socket's loop ({@link Events}), except inbound
 * messages, which go from the reader thread to subscribers with no hop. Once the loop has ended
 * this link ({@link #finish}), its inbound messages are ignored: a late callback from an earlier
 * attempt never reaches subscribers; the loop recognises its other callbacks as stale.
 *
 * <p>Everything a subscriber does on the reader thread counts as life for the heartbeat, from the
 * pong matcher to the last observer: that silence is the application's, not the network's.
 */
final class Link extends WebSocketListener implements Session, HeartbeatMonitor.Link {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  /** How a link talks back to the socket's loop. */
  interface Events {
    String name();

    /** OkHttp thread: the upgrade succeeded. */
    void opened(Link link, Response response);

    /** Any thread: the connection or attempt is over for {@code cause}. */
    void ended(Link link, Throwable cause);

    /** Reader thread: the first inbound frame after the connection was up for stableAfter. */
    void lifeAfterStable(Link link);

    /** Turns OkHttp's failure report into the exception users see. */
    Throwable describeFailure(Throwable t, @Nullable Response response, boolean wasOpen);

    /** Reader thread: an application pong measured this round trip. */
    void roundTrip(Duration rtt);
  }

  final int attempt;
  final HeartbeatMonitor monitor;
  final Outbound.Lane lane;
  private final Events events;
  private final Outbound outbound;
  private final Inbound inbound;
  private final ReplyTables replies;
  private final Heartbeat heartbeat;
  private final boolean matchPongs;
  private final Broadcast<Message> sessionMessages;
  private final AtomicReference<Throwable> killedBy = new AtomicReference<>();
  private final @Nullable LinkActivity activity;

  // Written once by the loop before OkHttp can call back; read by OkHttp's threads.
  private volatile @Nullable WebSocket webSocket;
  private volatile boolean ended;
  private volatile boolean healthPending;
  private volatile @Nullable Response handshake;

  Link(
      Events events,
      int attempt,
      Config config,
      Outbound outbound,
      Inbound inbound,
      ReplyTables replies,
      @Nullable LinkActivity activity,
      LongSupplier clock) {
    this.events = events;
    this.attempt = attempt;
    this.outbound = outbound;
    this.inbound = inbound;
    this.replies = replies;
    this.activity = activity;
    this.heartbeat = config.heartbeat();
    this.matchPongs = heartbeat instanceof Heartbeat.Application;
    this.lane = outbound.lane(this);
    this.sessionMessages = Broadcast.create(events::name, "Session.messages() subscriber");
    this.monitor =
        new HeartbeatMonitor(heartbeat, config.scheduler(), clock, activity, events::name, this);
  }

  /** Loop: the WebSocket OkHttp made for this attempt. */
  void start(WebSocket ws) {
    this.webSocket = ws;
    if (killedBy.get() != null || ended) ws.cancel();
  }

  /** Loop: keeps the handshake for the ready hook's {@link #handshake()}. */
  void keepHandshake(Response response) {
    this.handshake = response;
  }

  /**
   * Loop: from now on, the next inbound frame tells the loop the connection is healthy; with a
   * protocol heartbeat, whose pongs never reach the listener, so do the next bytes read.
   */
  void awaitLife() {
    healthPending = true;
    LinkActivity bytes = activity;
    if (bytes != null && heartbeat instanceof Heartbeat.Protocol) {
      bytes.onNextRead(this::lifeSeen);
    }
  }

  private void lifeSeen() {
    if (healthPending && !ended) {
      healthPending = false;
      events.lifeAfterStable(this);
    }
  }

  /**
   * Ends this connection from our side with {@code cause}: the first caller wins, cancels the
   * WebSocket (no graceful close: on a dead link that waits up to a minute), and from then on
   * nothing more is written to it.
   */
  boolean kill(Throwable cause) {
    if (!killedBy.compareAndSet(null, cause)) return false;
    WebSocket ws = webSocket;
    if (ws != null) ws.cancel();
    return true;
  }

  /**
   * Loop, once this connection ended: cancels the WebSocket, so that OkHttp's writer, which goes on
   * writing the frame it holds after a failure on the reader's side, writes nothing more.
   */
  void stopWriting() {
    WebSocket ws = webSocket;
    if (ws != null) ws.cancel();
  }

  /** Loop: closes gracefully (OkHttp writes what it has queued first). */
  void closeGracefully(int code, String reason) {
    WebSocket ws = webSocket;
    if (ws != null) ws.close(code, reason);
  }

  /** Loop: the loop is done with this link; stops the heartbeat and the session's stream. */
  void finish() {
    ended = true;
    monitor.stop();
    sessionMessages.onComplete();
  }

  /** Holding the send lock: hands {@code message} to OkHttp; false once ended or killed. */
  boolean write(Message message) {
    WebSocket ws = webSocket;
    if (ended || ws == null || killedBy.get() != null) return false;
    return message instanceof Message.Text t
        ? ws.send(t.text())
        : ws.send(((Message.Binary) message).bytes());
  }

  // --- OkHttp callbacks ---------------------------------------------------------------------

  private volatile boolean wasOpen; // OkHttp's reader thread: onOpen came

  @Override
  public void onOpen(WebSocket webSocket, Response response) {
    wasOpen = true;
    events.opened(this, response);
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
    if (healthPending) lifeSeen();
    monitor.setDelivering(true);
    try {
      if (matchPongs && isPong(message)) {
        monitor.onPong();
        return;
      }
      if (!replies.isEmpty() && replies.consume(message)) return;
      if (log.isTraceEnabled()) log.trace("{} received {}", events.name(), describe(message));
      inbound.deliver(message, sessionMessages);
    } finally {
      monitor.setDelivering(false);
    }
  }

  private boolean isPong(Message message) {
    try {
      return heartbeat instanceof Heartbeat.Application a && a.isPong().test(message);
    } catch (RuntimeException e) {
      UserCode.report(events.name(), "the heartbeat's isPong (the message is delivered)", e);
      return false;
    }
  }

  @Override
  public void onClosing(WebSocket webSocket, int code, String reason) {
    // OkHttp does not answer the server's close frame for us; until we do, the connection lingers.
    // With messages still in OkHttp's queue, cancel instead: after its close frame the server
    // would not process them, and the outbox sends them again on the next connection.
    if (outbound.follows(lane) && webSocket.queueSize() > 0) {
      webSocket.cancel();
    } else {
      try {
        webSocket.close(isSendableCloseCode(code) ? code : 1000, null);
      } catch (IllegalArgumentException ignored) {
        webSocket.close(1000, null);
      }
    }
    events.ended(this, new ServerClosedException(code, reason));
  }

  @Override
  public void onClosed(WebSocket webSocket, int code, String reason) {
    events.ended(this, new ServerClosedException(code, reason));
  }

  @Override
  public void onFailure(WebSocket webSocket, Throwable t, @Nullable Response response) {
    Throwable ours = killedBy.get();
    events.ended(this, ours != null ? ours : events.describeFailure(t, response, wasOpen));
  }

  // --- Session -------------------------------------------------------------------------------

  @Override
  public Response handshake() {
    // The socket hands a Session to the ready hook only after the WebSocket opened.
    return Objects.requireNonNull(handshake, "no handshake before the WebSocket opened");
  }

  @Override
  public boolean send(String text) {
    return outbound.sendOn(lane, Message.text(text));
  }

  @Override
  public boolean send(ByteString bytes) {
    return outbound.sendOn(lane, Message.binary(bytes));
  }

  @Override
  public Observable<Message> messages() {
    return sessionMessages.hide();
  }

  // --- HeartbeatMonitor.Link -------------------------------------------------------------------

  @Override
  public long queueSize() {
    WebSocket ws = webSocket;
    return ws == null ? 0 : ws.queueSize();
  }

  @Override
  public boolean sendPing(Message ping) {
    if (log.isDebugEnabled()) log.debug("{} heartbeat ping", events.name());
    return outbound.ping(lane, ping);
  }

  @Override
  public void dead(HeartbeatTimeoutException cause) {
    if (kill(cause)) events.ended(this, cause);
  }

  @Override
  public void roundTrip(Duration rtt) {
    events.roundTrip(rtt);
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
