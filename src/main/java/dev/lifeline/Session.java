package dev.lifeline;

import io.reactivex.rxjava3.core.Observable;
import okhttp3.Response;
import okio.ByteString;

/**
 * One open connection, as seen by the ready hook ({@link ReconnectingSocket.Builder#onReady}). The
 * hook runs on every (re)connect after the WebSocket opened and before the socket reports {@link
 * ConnectionState.Connected}: authenticate, resubscribe to channels, then complete.
 */
public interface Session {

  /** The HTTP response that upgraded this connection (status 101 and its headers). */
  Response handshake();

  /**
   * Sends a text message on this connection, even though the socket is not yet {@code Connected}.
   * Returns false if this connection has already ended, OkHttp refused the message, or OkHttp's
   * queue is at the {@linkplain ReconnectingSocket.Builder#highWaterMark high-water mark} (one
   * message larger than the mark still goes when the queue is empty). A message sent here belongs
   * to this connection: it is not sent again on another.
   */
  boolean send(String text);

  /** Sends a binary message on this connection; see {@link #send(String)}. */
  boolean send(ByteString bytes);

  /**
   * Inbound messages on this connection only, as they arrive on OkHttp's reader thread; completes
   * when the connection ends. Every message also goes to {@link ReconnectingSocket#messages()}.
   */
  Observable<Message> messages();
}
