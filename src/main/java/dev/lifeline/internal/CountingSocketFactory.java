package dev.lifeline.internal;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.util.Set;
import javax.net.SocketFactory;
import org.jspecify.annotations.Nullable;

/**
 * Creates plain sockets that report bytes read and written to a {@link LinkActivity}. OkHttp layers
 * TLS over these sockets, so the counts are of bytes on the wire (ciphertext for wss).
 *
 * <p>With the JDK's default factory the sockets are plain {@link Socket}s with counting streams;
 * with a caller's own factory each of its sockets is wrapped in a forwarding socket that counts.
 */
final class CountingSocketFactory extends SocketFactory {
  private final SocketFactory delegate;
  private final LinkActivity activity;
  private final int sendBufferSize;

  /**
   * @param sendBufferSize the {@code SO_SNDBUF} to ask for before connecting, or 0 for the system's
   *     default
   */
  CountingSocketFactory(SocketFactory delegate, LinkActivity activity, int sendBufferSize) {
    this.delegate = delegate;
    this.activity = activity;
    this.sendBufferSize = sendBufferSize;
  }

  @Override
  public Socket createSocket() throws IOException {
    Socket socket =
        delegate == SocketFactory.getDefault()
            ? new CountingSocket(activity)
            : new ForwardingCountingSocket(delegate.createSocket(), activity);
    if (sendBufferSize > 0) socket.setSendBufferSize(sendBufferSize);
    return socket;
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
      throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localHost, localPort));
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localAddress, localPort));
    s.connect(new InetSocketAddress(address, port));
    return s;
  }

  private static final class CountingSocket extends Socket {
    private final LinkActivity activity;
    private @Nullable InputStream in;
    private @Nullable OutputStream out;

    CountingSocket(LinkActivity activity) {
      this.activity = activity;
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (in == null) in = new CountingInputStream(super.getInputStream(), activity);
      return in;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) out = new CountingOutputStream(super.getOutputStream(), activity);
      return out;
    }
  }

  /** Someone else's socket, counted: every call is forwarded, the streams are wrapped. */
  private static final class ForwardingCountingSocket extends Socket {
    private final Socket d;
    private final LinkActivity activity;
    private @Nullable InputStream in;
    private @Nullable OutputStream out;

    ForwardingCountingSocket(Socket delegate, LinkActivity activity) {
      this.d = delegate;
      this.activity = activity;
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (in == null) in = new CountingInputStream(d.getInputStream(), activity);
      return in;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) out = new CountingOutputStream(d.getOutputStream(), activity);
      return out;
    }

    @Override
    public void connect(SocketAddress a) throws IOException {
      d.connect(a);
    }

    @Override
    public void connect(SocketAddress a, int timeout) throws IOException {
      d.connect(a, timeout);
    }

    @Override
    public void bind(SocketAddress a) throws IOException {
      d.bind(a);
    }

    @Override
    public InetAddress getInetAddress() {
      return d.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
      return d.getLocalAddress();
    }

    @Override
    public int getPort() {
      return d.getPort();
    }

    @Override
    public int getLocalPort() {
      return d.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
      return d.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
      return d.getLocalSocketAddress();
    }

    @Override
    public @Nullable SocketChannel getChannel() {
      return null;
    } // a channel would bypass the count

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
      d.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
      return d.getTcpNoDelay();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
      d.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
      return d.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
      d.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
      d.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
      return d.getOOBInline();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
      d.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
      return d.getSoTimeout();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
      d.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
      return d.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
      d.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
      return d.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
      d.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
      return d.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
      d.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
      return d.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
      d.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
      return d.getReuseAddress();
    }

    @Override
    public void close() throws IOException {
      d.close();
    }

    @Override
    public void shutdownInput() throws IOException {
      d.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
      d.shutdownOutput();
    }

    @Override
    public String toString() {
      return d.toString();
    }

    @Override
    public boolean isConnected() {
      return d.isConnected();
    }

    @Override
    public boolean isBound() {
      return d.isBound();
    }

    @Override
    public boolean isClosed() {
      return d.isClosed();
    }

    @Override
    public boolean isInputShutdown() {
      return d.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
      return d.isOutputShutdown();
    }

    @Override
    public void setPerformancePreferences(int c, int l, int b) {
      d.setPerformancePreferences(c, l, b);
    }

    @Override
    @NotOnAndroid // Java 9 socket options: forwarded on the JVM; Android's Socket has none
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
      d.setOption(name, value);
      return this;
    }

    @Override
    @NotOnAndroid // Java 9 socket options: forwarded on the JVM; Android's Socket has none
    public <T> T getOption(SocketOption<T> name) throws IOException {
      return d.getOption(name);
    }

    @Override
    @NotOnAndroid // Java 9 socket options: forwarded on the JVM; Android's Socket has none
    public Set<SocketOption<?>> supportedOptions() {
      return d.supportedOptions();
    }
  }

  private static final class CountingInputStream extends FilterInputStream {
    private final LinkActivity activity;

    CountingInputStream(InputStream in, LinkActivity activity) {
      super(in);
      this.activity = activity;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) activity.onRead(1);
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) activity.onRead(n);
      return n;
    }
  }

  private static final class CountingOutputStream extends FilterOutputStream {
    private final LinkActivity activity;

    CountingOutputStream(OutputStream out, LinkActivity activity) {
      super(out);
      this.activity = activity;
    }

    @Override
    public void write(int b) throws IOException {
      activity.writeStarting();
      try {
        out.write(b);
      } finally {
        activity.writeEnded();
      }
      activity.onWrite(1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      activity.writeStarting();
      try {
        out.write(b, off, len);
      } finally {
        activity.writeEnded();
      }
      activity.onWrite(len);
    }
  }
}
