package dev.lifeline;

/**
 * What {@link ReconnectingSocket#send(String)} did with a message. Only the {@code REJECTED_*}
 * outcomes mean the message will not be sent; a rejected message is not reported again on {@link
 * ReconnectingSocket#undelivered()}.
 */
public enum SendResult {
  /**
   * Handed to the open connection's send queue (OkHttp's). At most once: if that connection dies
   * before the bytes reach the server, the message is lost.
   */
  SENT,
  /**
   * Held in the outbox: the socket is not connected, or OkHttp's queue is above the high-water
   * mark, or earlier messages are still waiting. It is sent in order, once, when there is room on a
   * ready connection, unless it expires or the socket gives up or closes first, in which case it is
   * reported on {@link ReconnectingSocket#undelivered()}.
   */
  QUEUED,
  /** Refused: the outbox is at its message or byte limit (and its policy is to refuse new ones). */
  REJECTED_OUTBOX_FULL,
  /**
   * Refused: larger than OkHttp can ever send (16 MiB), or, when it would have to wait in the
   * outbox, larger than the outbox's byte limit; retrying cannot help.
   */
  REJECTED_TOO_LARGE,
  /** Refused: the socket is closed. */
  REJECTED_CLOSED;

  /** Whether the message was taken ({@link #SENT} or {@link #QUEUED}). */
  public boolean isAccepted() {
    return this == SENT || this == QUEUED;
  }
}
