package dev.lifeline;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * How to match replies to requests: where the correlation id is in an outgoing message and in an
 * incoming one. Lifeline has no JSON dependency; you read the id the way your protocol carries it.
 * Immutable.
 *
 * <pre>{@code
 * Correlation.by(
 *     out -> json(out).get("id"),                                   // id of a request we send
 *     in -> "ack".equals(json(in).get("type")) ? json(in).get("id") : null)  // id an ack answers
 * }</pre>
 *
 * <p>An incoming message for which {@code idOfIncoming} returns an id is a reply: it completes the
 * matching {@link Replies#sendAcknowledged} or {@link Replies#request} and is not emitted on {@link
 * ReconnectingSocket#messages()}; a reply that matches nothing (a duplicate, or one that came after
 * its timeout) is dropped. So return null for everything that is not a reply. {@code idOfIncoming}
 * runs on OkHttp's reader thread for every inbound message: keep it cheap.
 */
public final class Correlation {
  private final Function<? super Message, @Nullable String> idOfOutgoing;
  private final Function<? super Message, @Nullable String> idOfIncoming;
  private final Duration timeout;

  private Correlation(
      Function<? super Message, @Nullable String> idOfOutgoing,
      Function<? super Message, @Nullable String> idOfIncoming,
      Duration timeout) {
    this.idOfOutgoing = idOfOutgoing;
    this.idOfIncoming = idOfIncoming;
    this.timeout = timeout;
  }

  /**
   * Returns a correlation that reads ids with these functions (each returns null for "no id"), and
   * waits 10 s for a reply.
   */
  public static Correlation by(
      Function<? super Message, @Nullable String> idOfOutgoing,
      Function<? super Message, @Nullable String> idOfIncoming) {
    return new Correlation(
        Objects.requireNonNull(idOfOutgoing, "idOfOutgoing"),
        Objects.requireNonNull(idOfIncoming, "idOfIncoming"),
        Duration.ofSeconds(10));
  }

  /**
   * Returns a copy that waits {@code timeout} for each reply, counted from the call, across
   * reconnects; then the send fails with a {@link NotDeliveredException} whose reason is {@code
   * NO_REPLY}.
   *
   * @throws IllegalArgumentException if not positive
   */
  public Correlation timeout(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be > 0 but was " + timeout);
    }
    return new Correlation(idOfOutgoing, idOfIncoming, timeout);
  }

  /** The id an outgoing message carries, or null. */
  public @Nullable String idOfOutgoing(Message message) {
    return idOfOutgoing.apply(message);
  }

  /** The id an incoming reply answers, or null if the message is not a reply. */
  public @Nullable String idOfIncoming(Message message) {
    return idOfIncoming.apply(message);
  }

  /** How long each send waits for its reply. */
  public Duration timeout() {
    return timeout;
  }
}
