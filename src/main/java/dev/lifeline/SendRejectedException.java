package dev.lifeline;

/** An acknowledged send or request could not even be queued; {@link #result()} says why. */
public final class SendRejectedException extends LifelineException {
  private static final long serialVersionUID = 1L;

  private final SendResult result;

  /** Creates the exception for a send that returned {@code result}. */
  public SendRejectedException(SendResult result) {
    super("message not taken: " + result);
    this.result = result;
  }

  /** The {@code REJECTED_*} result. */
  public SendResult result() {
    return result;
  }
}
