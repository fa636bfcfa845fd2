package dev.lifeline;

/**
 * The connection ended before the message left OkHttp's send queue, so it was not (fully) written
 * to the network. {@link #getCause()} is why the connection ended.
 */
public final class ConnectionLostException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for a connection that ended with {@code cause}. */
  public ConnectionLostException(Throwable cause) {
    super("the connection ended before the message left the send queue: " + cause, cause);
  }
}
