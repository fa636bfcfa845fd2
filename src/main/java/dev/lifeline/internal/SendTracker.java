package dev.lifeline.internal;

import dev.lifeline.LifelineException;

/** Follows one message that someone is waiting on, from the outbox to OkHttp and beyond. */
interface SendTracker {
  /** Called holding the send lock, right after the message was handed to {@code link}. */
  void sent(Link link);

  /** The message will not be sent: it expired, or the socket gave up or closed. No lock held. */
  void notSent(LifelineException reason);
}
