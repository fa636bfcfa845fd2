package dev.lifeline.internal;

import dev.lifeline.NotDeliveredException;

/**
 * Follows one message someone waits on (a written-waiter, an acknowledged send) from the outbox to
 * OkHttp's queue and out of it. {@link Outbound} calls exactly one of {@link #written} or {@link
 * #notSent} for each time the message leaves its hands; {@link #sent} may come several times (a
 * retransmission).
 */
interface SendTracker {
  /**
   * Holding the send lock: the message was handed to {@code link}, as hand-off number {@code seq}.
   */
  void sent(Link link, long seq);

  /** Whether its sender waits until the message has left OkHttp's queue (then writes matter). */
  boolean waitsForWritten();

  /** The message has left OkHttp's queue: written to the network. No lock held. */
  void written();

  /** The message will not be sent, for {@code reason}. No lock held. */
  void notSent(NotDeliveredException reason);
}
