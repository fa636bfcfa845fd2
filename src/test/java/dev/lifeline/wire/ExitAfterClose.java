package dev.lifeline.wire;

import dev.lifeline.ConnectionState;
import dev.lifeline.ReconnectingSocket;

/**
 * A program as a user writes it: connect with every default, wait until connected, close, return
 * from {@code main}. {@link JvmExitTest} runs it in a child JVM and times how long the JVM takes to
 * exit after the socket is closed.
 */
public final class ExitAfterClose {
  private ExitAfterClose() {}

  public static void main(String[] args) {
    ReconnectingSocket socket = ReconnectingSocket.connect(args[0]);
    socket.states().filter(ConnectionState.Connected.class::isInstance).blockingFirst();
    socket.send("hello");
    socket.close();
    System.out.println("closed");
    System.out.flush();
  }
}
