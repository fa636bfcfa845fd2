package dev.lifeline.internal;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import javax.net.SocketFactory;

/**
 * Creates plain sockets that report bytes read and written to a {@link LinkActivity}. OkHttp layers
 * TLS over these sockets, so the counts are of bytes on the wire (ciphertext for wss).
 */
final class CountingSocketFactory extends SocketFactory {
  private final LinkActivity activity;

  CountingSocketFactory(LinkActivity activity) {
    this.activity = activity;
  }

  @Override
  public Socket createSocket() {
    return new CountingSocket(activity);
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
    private InputStream in;
    private OutputStream out;

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
      out.write(b);
      activity.onWrite(1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      activity.onWrite(len);
    }
  }
}
