package dev.lifeline.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionState;
import dev.lifeline.Correlation;
import dev.lifeline.Failures;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.Outbox;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.RetryPolicy;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import okhttp3.Request;

/** Builds a socket against {@link FakeWebSockets} and a {@link TrackingScheduler}. */
final class Harness {
  final TrackingScheduler scheduler = new TrackingScheduler();
  final FakeWebSockets fakes = new FakeWebSockets();
  Heartbeat heartbeat = Heartbeat.none();
  RetryPolicy retryPolicy =
      Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30)).jitter(0);
  Predicate<? super Throwable> retryIf = Failures::isRetryable;
  Duration retryAfterCeiling = Duration.ofMinutes(5);
  Duration stableAfter = Duration.ofSeconds(5);
  Duration attemptTimeout = Duration.ofSeconds(20);
  Function<? super Session, ? extends Completable> onReady;
  Random random = new Random(42);
  Outbox outbox = Outbox.defaults();
  Correlation correlation;
  long highWaterMark = 1L << 20;
  Supplier<Request> requests = () -> new Request.Builder().url("http://example.test/feed").build();

  /** Byte counts "below OkHttp", stamped on the test clock; tests call onRead/onWrite. */
  final LinkActivity activity = new LinkActivity(scheduler::nowMillis);

  /** False stands for sockets OkHttp made without the factory (SOCKS): nothing is counted. */
  boolean countBytes = true;

  RealReconnectingSocket socket;

  /** The socket's replies by {@link #correlation}, when one is set before {@link #build}. */
  dev.lifeline.Replies replies;

  TestObserver<ConnectionState> states;
  TestObserver<Message> messages;

  /**
   * This harness's configuration, made by the public builder (its validation and its defaults for
   * everything the harness does not set), with Lifeline's default client.
   */
  Config config() {
    ReconnectingSocket.Builder builder =
        ReconnectingSocket.builder(requests)
            .scheduler(scheduler)
            .heartbeat(heartbeat)
            .retryPolicy(retryPolicy)
            .retryIf(retryIf)
            .retryAfterCeiling(retryAfterCeiling)
            .stableAfter(stableAfter)
            .attemptTimeout(attemptTimeout)
            .random(random)
            .sendBufferSize(0)
            .outbox(outbox)
            .highWaterMark(highWaterMark);
    if (onReady != null) builder.onReady(onReady);
    return BuilderAccess.configOf(builder);
  }

  RealReconnectingSocket build() {
    fakes.handshakeBytesTo = countBytes ? activity : null;
    socket = new RealReconnectingSocket(config(), fakes, activity);
    if (correlation != null) replies = socket.replies(correlation);
    states = socket.states().test();
    messages = socket.messages().test();
    return socket;
  }

  /** Builds, connects and opens the first socket. */
  FakeWebSockets.FakeSocket connected() {
    build();
    socket.connect();
    FakeWebSockets.FakeSocket fake = fakes.last().open();
    assertThat(socket.state()).isInstanceOf(ConnectionState.Connected.class);
    return fake;
  }

  void advance(Duration d) {
    scheduler.advance(d);
  }

  void advanceMillis(long ms) {
    scheduler.advanceMillis(ms);
  }

  List<ConnectionState> stateHistory() {
    return states.values();
  }

  ConnectionState.WaitingToReconnect waiting() {
    assertThat(socket.state()).isInstanceOf(ConnectionState.WaitingToReconnect.class);
    return (ConnectionState.WaitingToReconnect) socket.state();
  }

  ConnectionState.Failed failed() {
    assertThat(socket.state()).isInstanceOf(ConnectionState.Failed.class);
    return (ConnectionState.Failed) socket.state();
  }
}
