package dev.lifeline;

/** The socket was closed while a message was still waiting to be sent. */
public final class SocketClosedException extends LifelineException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception. */
  public SocketClosedException() {
    super("the socket was closed before the message could be sent");
  }
}
