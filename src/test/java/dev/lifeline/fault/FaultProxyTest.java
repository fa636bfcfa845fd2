package dev.lifeline.fault;

import static dev.lifeline.fault.FaultProxy.Direction.BOTH;
import static dev.lifeline.fault.FaultProxy.Direction.DOWNSTREAM;
import static dev.lifeline.fault.FaultProxy.Direction.UPSTREAM;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeline.fault.FaultProxy.Event;
import dev.lifeline.fault.FaultProxy.Event.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The fault proxy against a plain loopback server, driven by plain sockets. Every wait is on an
 * event (a byte, an EOF, a proxy event, a thread's end) with a bound; the only fixed-length waits
 * are the 500 ms read timeouts that check that something does <em>not</em> arrive.
 */
@Timeout(10)
class FaultProxyTest {
  private static final int QUIET_MILLIS = 500;
  private static final int READ_TIMEOUT_MILLIS = 5_000;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeEverythingAndCheckNoProxyThreadSurvives() throws Exception {
    Collections.reverse(resources);
    for (AutoCloseable resource : resources) resource.close();
    assertThat(proxyThreads()).isEmpty();
  }

  @Test
  void forwardsBothWaysAndCountsBytes() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = connect(proxy);
    byte[] payload = new byte[100 * 1024];
    new Random(42).nextBytes(payload);

    Thread writer = writeInBackground(client, payload);
    byte[] echoed = client.getInputStream().readNBytes(payload.length);
    writer.join();

    assertThat(echoed).isEqualTo(payload);
    assertThat(proxy.bytesForwarded(UPSTREAM)).isEqualTo(payload.length);
    assertThat(proxy.bytesForwarded(DOWNSTREAM)).isEqualTo(payload.length);
    assertThat(proxy.bytesForwarded(BOTH)).isEqualTo(2L * payload.length);
    assertThat(proxy.connectionsAccepted()).isEqualTo(1);
    expectEvent(proxy, Kind.ACCEPTED, 1);

    client.shutdownOutput(); // the echo server answers our FIN with its own, through the proxy
    assertThat(client.getInputStream().read()).isEqualTo(-1);
    expectEvent(proxy, Kind.CLOSED, 1);
  }

  @Test
  void throttleTricklesAtTheRateAndBlocksTheSender() throws Exception {
    Upstream upstream = track(Upstream.manual());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = new Socket();
    track(client);
    // A default loopback socket autotunes its send buffer to megabytes and would absorb the whole
    // payload; a small one makes the write wait for the proxy, which is what this test is about.
    client.setSendBufferSize(8 * 1024);
    client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.port()));
    Socket server = upstream.take();
    proxy.throttle(UPSTREAM, 64 * 1024);
    byte[] payload = new byte[256 * 1024];

    long start = System.nanoTime();
    AtomicReference<Duration> writeReturned = new AtomicReference<>();
    Thread writer = writeInBackground(client, payload, () -> writeReturned.set(since(start)));
    byte[] received = server.getInputStream().readNBytes(payload.length);
    Duration arrived = since(start);
    writer.join();

    System.out.printf(
        "throttle 64 KiB/s: 256 KiB arrived after %d ms; the client's write returned after %d ms%n",
        arrived.toMillis(), writeReturned.get().toMillis());
    assertThat(received).hasSize(payload.length);
    assertThat(arrived).isGreaterThanOrEqualTo(Duration.ofMillis(3_000));
    assertThat(writeReturned.get()).isGreaterThanOrEqualTo(Duration.ofMillis(2_000));
  }

  @Test
  void blackHoleKeepsSocketsOpenSilentlyAndHealReleasesHeldBytes() throws Exception {
    Upstream upstream = track(Upstream.manual());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = connect(proxy);
    Socket server = upstream.take();
    send(client, "ping");
    assertThat(receive(server, 4)).isEqualTo("ping");

    proxy.blackHole(BOTH);
    send(client, "held");
    send(server, "back");
    expectSilence(server); // a read timeout: no bytes, no EOF, no reset
    expectSilence(client);
    assertThat(proxy.bytesForwarded(UPSTREAM)).isEqualTo(4);
    assertThat(proxy.bytesForwarded(DOWNSTREAM)).isZero();

    proxy.heal();
    assertThat(receive(server, 4)).isEqualTo("held");
    assertThat(receive(client, 4)).isEqualTo("back");
    send(client, "more");
    assertThat(receive(server, 4)).isEqualTo("more");
  }

  @Test
  void cutWithFinGivesTheClientEof() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = connect(proxy);
    roundTrip(client, "hello");

    proxy.cutWithFin();

    assertThat(client.getInputStream().read()).isEqualTo(-1);
    expectEvent(proxy, Kind.ACCEPTED, 1);
    expectEvent(proxy, Kind.CLOSED, 1);
  }

  @Test
  void cutWithRstGivesTheClientAReset() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = connect(proxy);
    roundTrip(client, "hello");

    proxy.cutWithRst();

    assertThatThrownBy(() -> client.getInputStream().read())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("reset");
    expectEvent(proxy, Kind.ACCEPTED, 1);
    expectEvent(proxy, Kind.CLOSED, 1);
  }

  @Test
  void latencyDelaysEveryRoundTrip() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket client = connect(proxy);
    roundTrip(client, "warm");

    proxy.latency(DOWNSTREAM, Duration.ofMillis(300));
    long start = System.nanoTime();
    roundTrip(client, "ping");

    assertThat(since(start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
  }

  @Test
  void newConnectionPoliciesApplyToNewConnectionsOnly() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket existing = connect(proxy);
    roundTrip(existing, "one");
    expectEvent(proxy, Kind.ACCEPTED, 1);

    proxy.refuseNew();
    Socket refused = connect(proxy); // the kernel completes the handshake before accept
    assertThatThrownBy(() -> refused.getInputStream().read())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("reset");
    expectEvent(proxy, Kind.REFUSED, 2);
    roundTrip(existing, "two");

    proxy.blackHoleNew();
    Socket held = connect(proxy);
    send(held, "anyone?");
    expectEvent(proxy, Kind.HELD, 3);
    expectSilence(held);
    assertThat(upstream.connections()).isEqualTo(1);

    proxy.acceptNew();
    Socket fresh = connect(proxy);
    roundTrip(fresh, "three");
    expectEvent(proxy, Kind.ACCEPTED, 4);
    roundTrip(existing, "four");
    assertThat(proxy.connectionsAccepted()).isEqualTo(4);
    assertThat(upstream.connections()).isEqualTo(2);
  }

  @Test
  void closeStopsEveryProxyThread() throws Exception {
    Upstream upstream = track(Upstream.echoing());
    FaultProxy proxy = track(FaultProxy.start(upstream.address()));
    Socket idle = connect(proxy);
    roundTrip(idle, "idle");
    Socket stuck = connect(proxy);
    roundTrip(stuck, "warm");
    proxy.latency(DOWNSTREAM, Duration.ofSeconds(30));
    send(stuck, "delayed"); // goes up, comes back, waits in the downstream delay line
    proxy.blackHole(UPSTREAM);
    send(stuck, "held");
    proxy.blackHoleNew();
    Socket held = connect(proxy);
    expectEvent(proxy, Kind.ACCEPTED, 1);
    expectEvent(proxy, Kind.ACCEPTED, 2);
    expectEvent(proxy, Kind.HELD, 3);
    assertThat(proxyThreads()).hasSize(1 + 2 * 4); // the acceptor, 4 pumps per forwarded connection

    proxy.close();

    assertThat(proxyThreads()).isEmpty();
    assertThat(idle.getInputStream().read()).isEqualTo(-1);
    assertThat(held.getInputStream().read()).isEqualTo(-1);
  }

  // --- Helpers -----------------------------------------------------------------------------------

  private <T extends AutoCloseable> T track(T resource) {
    resources.add(resource);
    return resource;
  }

  private Socket connect(FaultProxy proxy) throws IOException {
    Socket socket = track(new Socket(InetAddress.getLoopbackAddress(), proxy.port()));
    socket.setSoTimeout(READ_TIMEOUT_MILLIS);
    socket.setTcpNoDelay(true);
    return socket;
  }

  private static void roundTrip(Socket client, String text) throws IOException {
    send(client, text);
    assertThat(receive(client, text.length())).isEqualTo(text);
  }

  private static void send(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(US_ASCII));
    out.flush();
  }

  /** Reads exactly {@code length} bytes, failing on EOF or after the socket's read timeout. */
  private static String receive(Socket socket, int length) throws IOException {
    byte[] bytes = socket.getInputStream().readNBytes(length);
    assertThat(bytes).as("bytes before EOF").hasSize(length);
    return new String(bytes, US_ASCII);
  }

  /** Asserts that a read sees nothing for {@link #QUIET_MILLIS}: no byte, no EOF, no reset. */
  private static void expectSilence(Socket socket) throws IOException {
    socket.setSoTimeout(QUIET_MILLIS);
    InputStream in = socket.getInputStream();
    assertThatThrownBy(in::read).isInstanceOf(SocketTimeoutException.class);
    socket.setSoTimeout(READ_TIMEOUT_MILLIS);
  }

  private static void expectEvent(FaultProxy proxy, Kind kind, int connection)
      throws InterruptedException {
    Event event = proxy.events().poll(READ_TIMEOUT_MILLIS, MILLISECONDS);
    assertThat(event).as("next proxy event").isEqualTo(new Event(kind, connection));
  }

  private static Thread writeInBackground(Socket socket, byte[] bytes) {
    return writeInBackground(socket, bytes, () -> {});
  }

  /** Writes on a daemon thread and runs {@code whenWritten} once {@code write} has returned. */
  private static Thread writeInBackground(Socket socket, byte[] bytes, Runnable whenWritten) {
    Thread thread =
        new Thread(
            () -> {
              try {
                socket.getOutputStream().write(bytes);
                whenWritten.run();
              } catch (IOException e) {
                throw new AssertionError("background write failed", e);
              }
            },
            "test-writer");
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private static List<String> proxyThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .map(Thread::getName)
        .filter(name -> name.startsWith("fault-proxy"))
        .toList();
  }

  /**
   * A loopback server that hands each accepted socket to the test; when echoing, it also echoes
   * each one until EOF, then closes it.
   */
  private static final class Upstream implements AutoCloseable {
    private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final boolean echo;
    private final AtomicInteger connections = new AtomicInteger();
    private final BlockingQueue<Socket> accepted = new LinkedBlockingQueue<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    private Upstream(boolean echo) throws IOException {
      this.echo = echo;
      startThread("upstream-acceptor", this::acceptLoop);
    }

    static Upstream echoing() throws IOException {
      return new Upstream(true);
    }

    static Upstream manual() throws IOException {
      return new Upstream(false);
    }

    InetSocketAddress address() {
      return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    }

    int connections() {
      return connections.get();
    }

    Socket take() throws InterruptedException {
      Socket socket = accepted.poll(READ_TIMEOUT_MILLIS, MILLISECONDS);
      assertThat(socket).as("a connection upstream").isNotNull();
      return socket;
    }

    private void acceptLoop() {
      while (!server.isClosed()) {
        Socket socket;
        try {
          socket = server.accept();
          socket.setSoTimeout(READ_TIMEOUT_MILLIS);
          socket.setTcpNoDelay(true);
        } catch (IOException e) {
          return;
        }
        connections.incrementAndGet();
        sockets.add(socket);
        accepted.add(socket);
        if (echo) startThread("upstream-echo-" + connections.get(), () -> echo(socket));
      }
    }

    private static void echo(Socket socket) {
      try (socket) {
        socket.setSoTimeout(0); // an idle client is not an error; close() ends the read
        socket.getInputStream().transferTo(socket.getOutputStream());
        socket.shutdownOutput();
      } catch (IOException e) {
        // the peer or the test closed it
      }
    }

    private void startThread(String name, Runnable body) {
      Thread thread = new Thread(body, name);
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket socket : sockets) socket.close();
      try {
        for (Thread thread : threads) thread.join(READ_TIMEOUT_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
