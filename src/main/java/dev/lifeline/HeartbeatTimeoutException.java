package dev.lifeline;

/**
 * The connection was declared dead because nothing arrived for too long: the heartbeat's pong (or,
 * in passive mode, any traffic) was not received in time. Lifeline cancels such a connection at
 * once (no graceful close, which could wait a minute on a dead link) and reconnects.
 *
 * <p>The message says what was awaited and for how long, for example {@code "no pong or other
 * inbound frame within 10s after the heartbeat ping left the send queue (link silent for 25s)"}.
 */
public final class HeartbeatTimeoutException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message that says what was awaited for how long. */
  public HeartbeatTimeoutException(String message) {
    super(message);
  }

  /** Creates the exception with a message and the underlying cause (OkHttp's own ping failure). */
  public HeartbeatTimeoutException(String message, Throwable cause) {
    super(message, cause);
  }
}
