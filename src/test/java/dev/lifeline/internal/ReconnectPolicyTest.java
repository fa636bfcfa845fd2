package dev.lifeline.internal;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Backoff;
import dev.lifeline.ConnectionLostException;
import dev.lifeline.ConnectionState;
import dev.lifeline.ConnectionState.Connecting;
import dev.lifeline.GaveUpException;
import dev.lifeline.HandshakeException;
import dev.lifeline.Heartbeat;
import dev.lifeline.Message;
import dev.lifeline.RetriesExhaustedException;
import dev.lifeline.RetryContext;
import dev.lifeline.ServerClosedException;
import dev.lifeline.TerminalFailureException;
import io.reactivex.rxjava3.observers.TestObserver;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Headers;
import okhttp3.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ReconnectPolicyTest {
  private final Harness h = new Harness();

  @Test
  void acceptThenDropExhaustsBudgetInExactlyOnePlusMaxAttempts() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(3);
    h.build();
    h.socket.connect();
    for (int handshake = 1; handshake <= 4; handshake++) {
      assertThat(h.fakes.count()).isEqualTo(handshake);
      h.fakes.last().open().drop(); // accepted, then dropped before it could prove healthy
      if (handshake < 4) h.advance(h.waiting().delay());
    }

    assertThat(h.failed().cause()).isInstanceOf(RetriesExhaustedException.class);
    assertThat(h.failed().cause().retries()).isEqualTo(3);
    assertThat(h.failed().cause()).hasCauseInstanceOf(ConnectionLostException.class);
    assertThat(h.failed().cause().getCause()).hasCauseInstanceOf(IOException.class);
    h.messages.assertError(RetriesExhaustedException.class);
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).as("no handshake after giving up").isEqualTo(4);
  }

  @Test
  void attemptNumbersCountUpWithinAnOutage() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(2);
    h.build();
    h.socket.connect();
    h.fakes.last().drop();
    h.advance(ofSeconds(1));
    h.fakes.last().drop();
    h.advance(ofSeconds(2));
    h.fakes.last().drop();

    assertThat(h.stateHistory())
        .extracting(Object::toString)
        .containsExactly(
            "Idle",
            "Connecting(retry=0)",
            "WaitingToReconnect(retry=1, delay=PT1S, cause=java.io.IOException: connection reset)",
            "Connecting(retry=1)",
            "WaitingToReconnect(retry=2, delay=PT2S, cause=java.io.IOException: connection reset)",
            "Connecting(retry=2)",
            h.failed().toString());
  }

  @Test
  void aConnectionThatStayedHealthyRestoresTheBudget() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(2);
    h.build();
    h.socket.connect();
    h.fakes.last().open().drop();
    h.advance(ofSeconds(1));
    h.fakes.last().open().drop();
    assertThat(h.waiting().retry()).isEqualTo(2);
    h.advance(ofSeconds(2));

    h.fakes.last().open();
    h.advance(ofSeconds(5)); // stableAfter: healthy (no heartbeat, so no frame is needed)
    h.fakes.last().drop();

    assertThat(h.waiting().retry()).as("budget restored: first retry again").isEqualTo(1);
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(1));
    // And the full budget is there: two more accept-then-drops before giving up.
    h.advance(ofSeconds(1));
    h.fakes.last().open().drop();
    h.advance(ofSeconds(2));
    h.fakes.last().open().drop();
    assertThat(h.failed().cause().retries()).isEqualTo(2);
  }

  @Test
  void aConnectionShorterThanStableAfterDoesNotRestoreTheBudget() {
    h.build();
    h.socket.connect();
    h.fakes.last().open().drop();
    h.advance(ofSeconds(1));
    h.fakes.last().open();
    h.advanceMillis(4_999);
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).isEqualTo(2);
  }

  @Test
  void withAHeartbeatHealthAlsoNeedsAnInboundFrame() {
    h.heartbeat = Heartbeat.application(ofSeconds(60), ofSeconds(10), "ping", "pong");
    h.build();
    h.socket.connect();
    h.fakes.last().open().drop();
    h.advance(ofSeconds(1));

    h.fakes.last().open();
    h.advance(ofSeconds(8)); // long past stableAfter, but the server has said nothing
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).as("silent connection is not proof of health").isEqualTo(2);

    h.advance(h.waiting().delay());
    h.fakes.last().open();
    h.advance(ofSeconds(8));
    h.fakes.last().receive("hello"); // first frame after stableAfter: healthy now
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).isEqualTo(1);
  }

  @Test
  void unauthorizedGivesUpAfterOneHandshake() {
    h.build();
    h.socket.connect();
    h.fakes.last().rejectHandshake(401, Headers.of("WWW-Authenticate", "Bearer"));

    assertThat(h.failed().cause()).isInstanceOf(TerminalFailureException.class);
    HandshakeException cause = (HandshakeException) h.failed().cause().getCause();
    assertThat(cause.code()).isEqualTo(401);
    assertThat(cause.headers().get("WWW-Authenticate")).isEqualTo("Bearer");
    assertThat(cause)
        .hasMessageContaining("HTTP 401")
        .hasMessageContaining("ws://example.test/feed");
    h.messages.assertError(TerminalFailureException.class);
    h.advance(Duration.ofHours(1));
    assertThat(h.fakes.count()).isEqualTo(1);
  }

  @Test
  void serverErrorsAreRetriedWithGrowingJitteredGaps() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(8)).jitter(0.5);
    h.build();
    h.socket.connect();
    List<Duration> delays = new ArrayList<>();
    for (int i = 1; i <= 6; i++) {
      h.fakes.last().rejectHandshake(500, Headers.of());
      Duration delay = h.waiting().delay();
      delays.add(delay);
      h.advance(delay.minusMillis(1));
      assertThat(h.fakes.count()).as("no attempt before the delay is over").isEqualTo(i);
      h.advanceMillis(1);
      assertThat(h.fakes.count()).isEqualTo(i + 1);
    }
    long[] caps = {1000, 2000, 4000, 8000, 8000, 8000};
    assertThat(delays.get(0).toMillis()).as("retry 1 within [0, cap]").isBetween(0L, caps[0]);
    for (int i = 1; i < delays.size(); i++) {
      assertThat(delays.get(i).toMillis())
          .as("retry %d within [cap/2, cap]", i + 1)
          .isBetween(caps[i] / 2, caps[i]);
    }
    assertThat(delays.subList(3, 6)).as("jitter applies at the cap too").doesNotHaveDuplicates();
  }

  @Test
  void retryAfterOn503IsHonoured() {
    h.retryPolicy = Backoff.exponential(ofMillis(100), ofSeconds(30)).jitter(0);
    h.build();
    h.socket.connect();
    h.fakes.last().rejectHandshake(503, Headers.of("Retry-After", "3"));
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(3));
    h.advanceMillis(2_999);
    assertThat(h.fakes.count()).isEqualTo(1);
    h.advanceMillis(1);
    assertThat(h.fakes.count()).isEqualTo(2);
  }

  @Test
  void retryAfterAsAnHttpDateIsHonoured() {
    h.retryPolicy = Backoff.exponential(ofMillis(100), ofSeconds(30)).jitter(0);
    h.build();
    h.advance(ofSeconds(1000));
    String in7s =
        DateTimeFormatter.RFC_1123_DATE_TIME.format(
            Instant.ofEpochMilli(h.scheduler.nowMillis()).plusSeconds(7).atOffset(ZoneOffset.UTC));
    h.socket.connect();
    h.fakes.last().rejectHandshake(429, Headers.of("Retry-After", in7s));
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(7));
  }

  @Test
  void retryAfterIsBoundedByTheCeiling() {
    h.retryAfterCeiling = ofSeconds(10);
    h.build();
    h.socket.connect();
    h.fakes.last().rejectHandshake(503, Headers.of("Retry-After", "86400"));
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(10));
  }

  @Test
  void aLongerBackoffWinsOverAShortRetryAfter() {
    h.retryPolicy = Backoff.exponential(ofSeconds(20), ofSeconds(30)).jitter(0);
    h.build();
    h.socket.connect();
    h.fakes.last().rejectHandshake(503, Headers.of("Retry-After", "3"));
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(20));
  }

  @Test
  void theRetryPolicySeesAttemptElapsedCauseAndWhetherTheOutageEverConnected() {
    List<RetryContext> seen = new ArrayList<>();
    h.retryPolicy =
        ctx -> {
          seen.add(ctx);
          return ctx.retry() <= 3 ? Optional.of(ofSeconds(2)) : Optional.empty();
        };
    h.build();
    h.socket.connect();
    h.fakes.last().rejectHandshake(502, Headers.of());
    h.advance(ofSeconds(2));
    h.fakes.last().open().drop();
    h.advance(ofSeconds(2));
    h.fakes.last().fail(new IOException("refused"));

    assertThat(seen).extracting(RetryContext::retry).containsExactly(1, 2, 3);
    assertThat(seen)
        .extracting(RetryContext::elapsed)
        .containsExactly(ofSeconds(0), ofSeconds(2), ofSeconds(4));
    assertThat(seen).extracting(RetryContext::everConnected).containsExactly(false, true, true);
    assertThat(seen.get(0).cause()).isInstanceOf(HandshakeException.class);
    assertThat(seen.get(2).cause()).hasMessage("refused");
  }

  @ParameterizedTest
  @ValueSource(ints = {1000, 1001, 1011, 1012, 1013, 1014, 4000})
  void retryableCloseCodesReconnect(int code) {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.serverClose(code, "bye");
    assertThat(h.waiting().cause())
        .isInstanceOfSatisfying(
            ServerClosedException.class, e -> assertThat(e.code()).isEqualTo(code));
    assertThat(fake.closeCode).as("the server's close frame is answered").isEqualTo(code);
  }

  @ParameterizedTest
  @ValueSource(ints = {1002, 1003, 1007, 1008, 1009, 1010})
  void terminalCloseCodesGiveUp(int code) {
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.serverClose(code, "no");
    assertThat(h.failed().cause()).isInstanceOf(TerminalFailureException.class);
    assertThat(h.failed().cause().getCause())
        .isInstanceOfSatisfying(
            ServerClosedException.class, e -> assertThat(e.code()).isEqualTo(code));
    assertThat(fake.closeCode).isEqualTo(code);
  }

  @Test
  void aUserPredicateOverridesClassification() {
    h.retryIf = t -> !(t instanceof ServerClosedException c && c.code() == 4001);
    FakeWebSockets.FakeSocket fake = h.connected();
    fake.serverClose(4001, "token expired");
    assertThat(h.failed().cause()).isInstanceOf(TerminalFailureException.class);
  }

  @Test
  void eachAttemptAsksForAFreshRequestAfterTheDelay() {
    AtomicInteger calls = new AtomicInteger();
    h.requests =
        () ->
            new Request.Builder()
                .url("http://example.test/feed")
                .header("Authorization", "token-" + calls.incrementAndGet())
                .build();
    h.build();
    h.socket.connect();
    h.fakes.last().drop();
    assertThat(calls.get()).as("not evaluated before the delay is over").isEqualTo(1);
    h.advance(ofSeconds(1));
    assertThat(calls.get()).isEqualTo(2);
    assertThat(h.fakes.last().request.header("Authorization")).isEqualTo("token-2");
  }

  @Test
  void aFailingRequestSupplierIsAFailedAttempt() {
    h.requests =
        () -> {
          throw new IllegalStateException("token service down");
        };
    h.build();
    h.socket.connect();
    assertThat(h.fakes.count()).isZero();
    assertThat(h.waiting().cause()).hasMessage("token service down");
  }

  @Test
  void reconnectNowSkipsTheWaitWithoutResettingTheAttemptCount() {
    h.build();
    h.socket.connect();
    h.fakes.last().drop();
    assertThat(h.waiting().delay()).isEqualTo(ofSeconds(1));
    h.socket.reconnectNow();
    assertThat(h.fakes.count()).isEqualTo(2);
    assertThat(h.socket.state()).isEqualTo(new Connecting(1));
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).isEqualTo(2);
    h.advance(ofSeconds(2));
    assertThat(h.fakes.count())
        .as("the cancelled timer does not fire an extra attempt")
        .isEqualTo(3);
  }

  @Test
  void reconnectNowDoesNothingUnlessWaiting() {
    h.connected();
    h.socket.reconnectNow();
    assertThat(h.fakes.count()).isEqualTo(1);
    assertThat(h.socket.state()).isInstanceOf(ConnectionState.Connected.class);
  }

  @Test
  void connectAfterGivingUpStartsAFreshBudgetAndNewSubscribersGetItsMessages() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(1);
    h.build();
    h.socket.connect();
    h.fakes.last().drop();
    h.advance(ofSeconds(1));
    h.fakes.last().drop();
    h.messages.assertError(RetriesExhaustedException.class);

    h.socket.connect();
    TestObserver<Message> later = h.socket.messages().test();
    later.assertNoErrors();
    h.fakes.last().open().receive("again");
    later.assertValue(Message.text("again"));
    h.fakes.last().drop();
    assertThat(h.waiting().retry()).as("fresh budget").isEqualTo(1);
  }

  @Test
  void aSubscriberWhoArrivesAfterAGiveUpLearnsOfItUntilConnectStartsAgain() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).maxRetries(0);
    h.build();
    List<TestObserver<Message>> reacting = new ArrayList<>();
    h.socket
        .states()
        .ofType(ConnectionState.Failed.class)
        .subscribe(failed -> reacting.add(h.socket.messages().test()));
    h.socket.connect();
    h.fakes.last().drop();
    GaveUpException gaveUp = h.failed().cause();

    // Was: a subscriber arriving after the give-up got nothing at all, and waited forever on a
    // socket that had stopped.
    assertThat(reacting).singleElement().satisfies(o -> o.assertNoValues().assertError(gaveUp));
    TestObserver<Message> late = h.socket.messages().test();
    late.assertNoValues().assertError(gaveUp);

    h.socket.connect();
    TestObserver<Message> next = h.socket.messages().test();
    next.assertEmpty();
    h.fakes.last().open().receive("next episode");
    next.assertValuesOnly(Message.text("next episode"));
    late.assertValueCount(0);
  }

  @Test
  void aPolicyThatThrowsMakesTheSocketGiveUpWithThatCause() {
    h.retryPolicy =
        ctx -> {
          throw new ArithmeticException("bad policy");
        };
    h.build();
    h.socket.connect();
    h.fakes.last().drop();
    assertThat(h.failed().cause()).hasCauseInstanceOf(ArithmeticException.class);
  }

  @Test
  void healthyEmitsEachConnectionOnceItHasProvedItselfAndNeverOneThatDropsSooner() {
    h.heartbeat = Heartbeat.passive(ofSeconds(30));
    h.build();
    TestObserver<ConnectionState.Connected> healthy = h.socket.healthy().test();
    h.socket.connect();
    h.fakes.last().open();
    h.advance(ofSeconds(4));
    h.fakes.last().drop(); // up 4 s of the 5 s stableAfter: not healthy
    healthy.assertEmpty();
    assertThat(h.waiting().retry()).isEqualTo(1);

    h.advance(ofSeconds(1));
    FakeWebSockets.FakeSocket second = h.fakes.last().open();
    ConnectionState.Connected connected = (ConnectionState.Connected) h.socket.state();
    h.advance(ofSeconds(5));
    healthy.assertEmpty(); // up long enough, but silent: the heartbeat asks for a sign of life
    second.receive("tick");
    healthy.assertValuesOnly(connected);
    second.receive("tock");
    h.advance(ofSeconds(60));
    healthy.assertValueCount(1); // once per connection

    h.socket.close();
    healthy.assertComplete();
  }

  @Test
  void whenConnectedCompletesOnTheNextConnectedAndFailsWithTheGiveUpOrTheClose() {
    h.retryPolicy = Backoff.exponential(ofSeconds(1), ofSeconds(30)).jitter(0).maxRetries(1);
    h.build();
    h.socket.connect();
    TestObserver<Void> first = h.socket.whenConnected().test();
    first.assertNotComplete().assertNoErrors(); // Connecting
    h.fakes.last().drop();
    first.assertNotComplete().assertNoErrors(); // WaitingToReconnect: not yet decided
    h.advance(ofSeconds(1));
    h.fakes.last().open();
    first.assertComplete();
    h.socket.whenConnected().test().assertComplete(); // already Connected

    h.advance(ofSeconds(10)); // healthy: a fresh budget of one retry
    h.fakes.last().drop();
    TestObserver<Void> second = h.socket.whenConnected().test();
    h.advance(ofSeconds(1));
    h.fakes.last().drop(); // the one retry fails too: give up
    GaveUpException gaveUp = h.failed().cause();
    second.assertError(gaveUp);
    h.socket.whenConnected().test().assertError(gaveUp); // already Failed

    h.socket.connect();
    TestObserver<Void> third = h.socket.whenConnected().test();
    h.socket.close();
    third.assertError(e -> e.getMessage().equals("the socket is closed"));
    h.socket.whenConnected().test().assertError(e -> e.getMessage().equals("the socket is closed"));
  }

  @Test
  void aDropOfAnOpenConnectionSaysInWordsWhatHappenedAndKeepsOkHttpsFailureAsItsCause() {
    // Was: a bare "EOFException: null", "Socket closed" or "SocketTimeoutException: timeout".
    h.build();
    h.socket.connect();
    EOFException eof = new EOFException();
    h.fakes.last().open().fail(eof);
    assertThat(h.waiting().cause())
        .isInstanceOf(ConnectionLostException.class)
        .hasCause(eof)
        .hasMessage(
            "connection lost: the server, or something between, closed the TCP connection"
                + " without a WebSocket close frame (java.io.EOFException)");

    h.advance(h.waiting().delay());
    SocketTimeoutException timeout = new SocketTimeoutException("timeout");
    h.fakes.last().open().fail(timeout);
    assertThat(h.waiting().cause())
        .hasCause(timeout)
        .hasMessageStartingWith(
            "connection lost: no byte could be written for OkHttp's write timeout of 10s");

    h.advance(h.waiting().delay());
    h.fakes.last().open().fail(new java.net.SocketException("Connection reset"));
    assertThat(h.waiting().cause()).hasMessageContaining("the connection was reset");

    // Before the upgrade, a failure is the attempt's own, and stays as OkHttp reported it.
    h.advance(h.waiting().delay());
    java.net.ConnectException refused = new java.net.ConnectException("Connection refused");
    h.fakes.last().fail(refused);
    assertThat(h.waiting().cause()).isSameAs(refused);
  }
}
