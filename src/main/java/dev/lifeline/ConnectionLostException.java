package dev.lifeline;

/**
 * An open connection ended without a WebSocket close handshake: the TCP connection was closed or
 * reset under it, or a read or write on it timed out. The message says which in words; {@link
 * #getCause()} is the failure exactly as OkHttp reported it (an {@code EOFException}, a {@code
 * SocketException}, a {@code SocketTimeoutException}, ...). The socket reconnects; this is the
 * cause of the {@link ConnectionState.WaitingToReconnect} state that follows.
 */
public final class ConnectionLostException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param description what happened, in words
   * @param cause the failure as OkHttp reported it
   */
  public ConnectionLostException(String description, Throwable cause) {
    super("connection lost: " + description + " (" + cause + ")", cause);
  }
}
