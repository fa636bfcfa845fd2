package dev.lifeline.testing;

import java.net.InetAddress;
import java.net.Socket;
import javax.net.SocketFactory;

/**
 * Stands for a caller's own {@link SocketFactory} (socket tagging, a custom proxy…): not the JDK's
 * default instance, so Lifeline must wrap someone else's sockets. OkHttp only calls {@link
 * #createSocket()}.
 */
public final class CallersSocketFactory extends SocketFactory {
  @Override
  public Socket createSocket() {
    return new Socket();
  }

  @Override
  public Socket createSocket(String host, int port) {
    throw new UnsupportedOperationException("OkHttp creates unconnected sockets");
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) {
    throw new UnsupportedOperationException("OkHttp creates unconnected sockets");
  }

  @Override
  public Socket createSocket(InetAddress host, int port) {
    throw new UnsupportedOperationException("OkHttp creates unconnected sockets");
  }

  @Override
  public Socket createSocket(
      InetAddress address, int port, InetAddress localAddress, int localPort) {
    throw new UnsupportedOperationException("OkHttp creates unconnected sockets");
  }
}
