package dev.lifeline.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The WebSocket echo server every benchmark talks to, in its own process so that its CPU and heap
 * are not the client's. Netty, one event-loop thread for all connections: it echoes every text and
 * binary frame and answers protocol pings (Netty's handler does that by itself).
 *
 * <p>Driven by one-line commands on stdin, each answered by one line on stdout starting with {@code
 * ok}. Times are {@link System#nanoTime()}, which on Linux is the machine's monotonic clock and so
 * comparable with the client process's.
 *
 * <ul>
 *   <li>{@code port}: the port it listens on (loopback).
 *   <li>{@code mute} / {@code unmute}: stop reading and writing on every connection, old and new,
 *       without closing any (no FIN, no reset: as the client sees it, a black-holed path); unmute
 *       closes the muted connections and serves again.
 *   <li>{@code stop} / {@code start}: close the listening port and every connection (connections
 *       are refused) / listen again on the same port; both answer the time they took effect.
 *   <li>{@code cpu}: this process's CPU time in ns. {@code open}: connections open now. {@code
 *       handshakes}: WebSocket handshakes completed so far. {@code quit}.
 * </ul>
 */
public final class EchoServer {
  private final EventLoopGroup boss = new NioEventLoopGroup(1);
  private final EventLoopGroup worker = new NioEventLoopGroup(1);
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final AtomicLong handshakes = new AtomicLong();
  private volatile boolean muted;
  private volatile Channel listener;
  private int port;

  public static void main(String[] args) throws Exception {
    new EchoServer().serve(System.in, System.out);
  }

  private void serve(java.io.InputStream in, PrintStream out) throws Exception {
    listen(0);
    BufferedReader commands = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    for (String line; (line = commands.readLine()) != null && !line.trim().equals("quit"); ) {
      String answer =
          switch (line.trim()) {
            case "port" -> Integer.toString(port);
            case "mute" -> {
              muted = true;
              connections.forEach(c -> c.config().setAutoRead(false));
              yield Long.toString(System.nanoTime());
            }
            case "unmute" -> {
              connections.close().awaitUninterruptibly();
              muted = false;
              yield "";
            }
            case "stop" -> {
              listener.close().awaitUninterruptibly();
              connections.close().awaitUninterruptibly();
              yield Long.toString(System.nanoTime());
            }
            case "start" -> {
              listen(port);
              yield Long.toString(System.nanoTime());
            }
            case "cpu" -> Long.toString(cpuNanos());
            case "open" -> Integer.toString(connections.size());
            case "handshakes" -> Long.toString(handshakes.get());
            default -> "unknown command: " + line;
          };
      out.println("ok " + answer);
      out.flush();
    }
    shutdown();
    out.println("ok");
    out.flush();
  }

  private void listen(int port) throws InterruptedException {
    ServerBootstrap bootstrap =
        new ServerBootstrap()
            .group(boss, worker)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_BACKLOG, 4096)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    connections.add(ch);
                    if (muted) ch.config().setAutoRead(false);
                    ch.pipeline()
                        .addLast(new HttpServerCodec())
                        .addLast(new HttpObjectAggregator(64 * 1024))
                        .addLast(
                            new WebSocketServerProtocolHandler(
                                WebSocketServerProtocolConfig.newBuilder()
                                    .websocketPath("/")
                                    .checkStartsWith(true)
                                    .maxFramePayloadLength(16 * 1024 * 1024)
                                    .handshakeTimeoutMillis(30_000)
                                    .build()))
                        .addLast(new Echo());
                  }
                });
    listener =
        bootstrap
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
            .sync()
            .channel();
    this.port = ((InetSocketAddress) listener.localAddress()).getPort();
  }

  private void shutdown() {
    connections.close().awaitUninterruptibly();
    boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    worker.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
  }

  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Echoes text and binary frames; batches flushes per read. */
  private final class Echo extends SimpleChannelInboundHandler<WebSocketFrame> {
    Echo() {
      super(false); // the frame is passed on to write(), which releases it
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
      if (event instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
        handshakes.incrementAndGet();
      }
      super.userEventTriggered(ctx, event);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
      if (muted) {
        frame.release();
      } else if (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame) {
        ctx.write(frame);
      } else {
        frame.release();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
