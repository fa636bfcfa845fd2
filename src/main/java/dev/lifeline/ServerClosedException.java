package dev.lifeline;

/**
 * The server ended the connection with a WebSocket close frame. Lifeline answers the close frame
 * (OkHttp does not) and then reconnects or gives up depending on the code.
 *
 * <p>By default 1002, 1003, 1007, 1008, 1009 and 1010 are terminal; every other code (1000, 1001,
 * 1011–1014, application codes 3000–4999…) is retried (see {@link
 * Failures#isRetryable(Throwable)}).
 */
public final class ServerClosedException extends LifelineException {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final String reason;

  /** Creates the exception for a close frame with this code and reason. */
  public ServerClosedException(int code, String reason) {
    super(
        "server closed the WebSocket with code "
            + code
            + (reason.isEmpty() ? "" : " (" + reason + ")"));
    this.code = code;
    this.reason = reason;
  }

  /** The close code the server sent. */
  public int code() {
    return code;
  }

  /** The close reason the server sent, possibly empty. */
  public String reason() {
    return reason;
  }
}
