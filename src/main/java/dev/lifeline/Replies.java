package dev.lifeline;

import io.reactivex.rxjava3.annotations.CheckReturnValue;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Single;

/**
 * Acknowledged sends and request/reply over one {@link ReconnectingSocket}, with replies matched by
 * one {@link Correlation}. Get it with {@link ReconnectingSocket#replies(Correlation)};
 * thread-safe.
 *
 * <pre>{@code
 * Replies rpc = socket.replies(Correlation.by(out -> idOf(out), in -> replyIdOf(in)));
 * rpc.request(Message.text("{\"id\":\"7\",\"op\":\"quote\"}"))
 *     .subscribe(reply -> show(reply.text()), error -> log.warn("no quote", error));
 * }</pre>
 *
 * <p><b>At least once.</b> A message goes out like {@link ReconnectingSocket#send(Message)} (the
 * outbox while disconnected, in order). If the connection drops before the reply, it is sent again,
 * with the same id, on the next connection (after its ready hook, before anything queued later), so
 * the server can recognise a duplicate.
 *
 * <p><b>Cold.</b> Nothing is sent until you subscribe; each subscription sends once. The methods
 * are marked {@code @CheckReturnValue} (RxJava's), so that tools such as Error Prone flag a result
 * that is dropped without a {@code subscribe()}.
 *
 * <p>The result fails with a {@link NotDeliveredException} carrying the message: {@code NO_REPLY}
 * when no reply came within the correlation's timeout (counted from subscription, across
 * reconnects), {@code GAVE_UP} (the {@link GaveUpException} as cause) when the socket gives up,
 * {@code CLOSED} on {@link ReconnectingSocket#close()}, {@code EXPIRED} or {@code
 * DROPPED_FOR_NEWER} if the message left the outbox unsent, {@code OUTBOX_FULL}, {@code TOO_LARGE}
 * or {@code CLOSED} if it could not be queued; a second message waiting with the same id fails with
 * {@link IllegalStateException}. It succeeds on OkHttp's reader thread; an observer that throws is
 * logged and changes nothing. Disposing stops waiting; a message already handed to OkHttp is not
 * recalled.
 */
public interface Replies {

  /** The correlation this table matches replies with. */
  Correlation correlation();

  /**
   * Sends {@code message} when subscribed and completes when the reply with its id arrives. The id
   * is the one {@link Correlation#idOfOutgoing} reads from the message.
   *
   * @throws IllegalArgumentException if the correlation finds no id in the message
   */
  @CheckReturnValue
  Completable sendAcknowledged(Message message);

  /**
   * Like {@link #sendAcknowledged(Message)}, with the id the caller already has (no need to parse
   * it back out of the payload).
   */
  @CheckReturnValue
  Completable sendAcknowledged(Message message, String id);

  /**
   * Like {@link #sendAcknowledged(Message)}, and emits the reply. Request/reply over a WebSocket:
   * the {@code correlationId} pattern of message brokers.
   *
   * @throws IllegalArgumentException if the correlation finds no id in the message
   */
  @CheckReturnValue
  Single<Message> request(Message message);

  /** Like {@link #request(Message)}, with the id the caller already has. */
  @CheckReturnValue
  Single<Message> request(Message message, String id);
}
