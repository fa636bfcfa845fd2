package dev.lifeline;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Random;
import javax.net.ssl.SSLHandshakeException;
import okhttp3.Headers;
import okhttp3.Request;
import okio.ByteString;
import org.junit.jupiter.api.Test;

/** The immutable values and validating builders: good input accepted, nonsense refused clearly. */
class ValuesTest {

  private static RetryContext attempt(int n, Random random) {
    return RetryContext.of(
        n, Duration.ZERO, new RuntimeException("x"), false, Optional.empty(), random);
  }

  @Test
  void backoffDoublesUpToItsCapWithoutJitter() {
    Backoff b = Backoff.exponential(ofSeconds(1), ofSeconds(10)).jitter(0);
    Random r = new Random(1);
    assertThat(
            java.util.stream.IntStream.rangeClosed(1, 6)
                .mapToObj(n -> b.nextDelay(attempt(n, r)).orElseThrow()))
        .containsExactly(
            ofSeconds(1), ofSeconds(2), ofSeconds(4), ofSeconds(8), ofSeconds(10), ofSeconds(10));
  }

  @Test
  void backoffJitterIsAppliedAfterTheCapSoClientsStaySpreadOut() {
    Backoff b = Backoff.exponential(ofSeconds(1), ofSeconds(10)).jitter(0.5);
    Random r = new Random(3);
    long min = Long.MAX_VALUE;
    long max = 0;
    for (int i = 0; i < 1_000; i++) {
      long ms = b.nextDelay(attempt(50, r)).orElseThrow().toMillis();
      min = Math.min(min, ms);
      max = Math.max(max, ms);
    }
    assertThat(min).isGreaterThanOrEqualTo(5_000).isLessThan(5_100);
    assertThat(max).isLessThanOrEqualTo(10_000).isGreaterThan(9_900);
  }

  @Test
  void theFirstRetryIsRandomisedToo() {
    Backoff b = Backoff.defaults();
    Random r = new Random(5);
    assertThat(
            java.util.stream.IntStream.range(0, 20)
                .mapToObj(i -> b.nextDelay(attempt(1, r)).orElseThrow()))
        .doesNotHaveDuplicates()
        .allSatisfy(d -> assertThat(d.toMillis()).isBetween(0L, 2_000L));
  }

  @Test
  void aFleetDroppedAtOnceComesBackSpreadOutWithTheDefaults() {
    // 1 000 clients lose the server at the same moment and it is back at once: their first
    // retries land where the default first delay puts them. No 100 ms window may take more than
    // 10 % of the fleet (when the first retry waited 500-1000 ms, each of those windows took ~20
    // %).
    Backoff b = Backoff.defaults();
    Random r = new Random(11);
    int[] perWindow = new int[(int) (b.initialDelay().toMillis() / 100) + 1];
    for (int client = 0; client < 1_000; client++) {
      perWindow[(int) (b.nextDelay(attempt(1, r)).orElseThrow().toMillis() / 100)]++;
    }
    assertThat(java.util.Arrays.stream(perWindow).max().orElseThrow())
        .as("retries in the busiest 100 ms window, of 1 000")
        .isLessThanOrEqualTo(100);
  }

  @Test
  void laterRetriesKeepToHalfTheirBaseAndJitterZeroIsExact() {
    Backoff b = Backoff.defaults();
    Random r = new Random(13);
    for (int i = 0; i < 1_000; i++) {
      assertThat(b.nextDelay(attempt(2, r)).orElseThrow().toMillis()).isBetween(2_000L, 4_000L);
      assertThat(b.nextDelay(attempt(9, r)).orElseThrow().toMillis()).isBetween(15_000L, 30_000L);
    }
    Backoff exact = b.jitter(0);
    assertThat(exact.nextDelay(attempt(1, r))).contains(ofSeconds(2));
    assertThat(exact.nextDelay(attempt(2, r))).contains(ofSeconds(4));
  }

  @Test
  void theDefaultSendBufferFollowsTheHeartbeatTimeout() {
    // 16 KiB per second of timeout: a ping behind a full buffer leaves within half the timeout on
    // a 32 KiB/s uplink (Linux doubles the value asked for).
    assertThat(
            ReconnectingSocket.Builder.sendBufferFor(
                Heartbeat.protocol(ofSeconds(1), ofSeconds(1))))
        .isEqualTo(16 * 1024);
    assertThat(ReconnectingSocket.Builder.sendBufferFor(Heartbeat.defaults()))
        .isEqualTo(160 * 1024);
    assertThat(
            ReconnectingSocket.Builder.sendBufferFor(
                Heartbeat.application(ofSeconds(30), ofSeconds(300), "ping", "pong")))
        .as("capped")
        .isEqualTo(1024 * 1024);
    assertThat(
            ReconnectingSocket.Builder.sendBufferFor(
                Heartbeat.application(ofSeconds(1), Duration.ofMillis(200), "ping", "pong")))
        .as("floored")
        .isEqualTo(16 * 1024);
    assertThat(ReconnectingSocket.Builder.sendBufferFor(Heartbeat.passive(ofSeconds(10))))
        .as("no ping to hold back: the system default")
        .isZero();
    assertThat(ReconnectingSocket.Builder.sendBufferFor(Heartbeat.none())).isZero();
  }

  @Test
  void backoffWithTheSameRandomSeedIsReproducible() {
    Backoff b = Backoff.defaults();
    assertThat(b.nextDelay(attempt(4, new Random(9))))
        .isEqualTo(b.nextDelay(attempt(4, new Random(9))));
  }

  @Test
  void backoffStopsAfterMaxAttempts() {
    Backoff b = Backoff.exponential(ofSeconds(1), ofSeconds(10)).maxRetries(2);
    Random r = new Random(1);
    assertThat(b.nextDelay(attempt(2, r))).isPresent();
    assertThat(b.nextDelay(attempt(3, r))).isEmpty();
    assertThat(Backoff.defaults().maxRetries()).isEqualTo(Integer.MAX_VALUE);
    assertThat(b.unlimitedRetries().nextDelay(attempt(1_000_000, r))).isPresent();
  }

  @Test
  void backoffDefaultsAreAsDocumented() {
    Backoff d = Backoff.defaults();
    assertThat(d.initialDelay()).isEqualTo(ofSeconds(2));
    assertThat(d.maxDelay()).isEqualTo(ofSeconds(30));
    assertThat(d.multiplier()).isEqualTo(2.0);
    assertThat(d.jitter()).isEqualTo(0.5);
  }

  @Test
  void backoffRefusesNonsense() {
    assertThatThrownBy(() -> Backoff.exponential(ofSeconds(-1), ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("initialDelay must be > 0");
    assertThatThrownBy(() -> Backoff.exponential(Duration.ZERO, ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Backoff.exponential(ofSeconds(5), ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxDelay must be >= initialDelay");
    assertThatThrownBy(() -> Backoff.defaults().jitter(1.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jitter must be in [0, 1]");
    assertThatThrownBy(() -> Backoff.defaults().jitter(-0.1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Backoff.defaults().jitter(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Backoff.defaults().multiplier(0.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("multiplier");
    assertThatThrownBy(() -> Backoff.defaults().maxRetries(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxRetries must be >= 0");
  }

  @Test
  void heartbeatRefusesNonsense() {
    assertThatThrownBy(() -> Heartbeat.application(Duration.ZERO, ofSeconds(1), "p", "q"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("interval must be at least 100 ms");
    assertThatThrownBy(() -> Heartbeat.application(ofSeconds(1), ofSeconds(-1), "p", "q"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("timeout must be at least 100 ms");
    assertThatThrownBy(() -> Heartbeat.passive(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Heartbeat.protocol(ofSeconds(5), ofSeconds(10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not exceed its interval");
  }

  @Test
  void heartbeatDefaultIsProtocolFifteenAndTen() {
    assertThat(Heartbeat.defaults())
        .isEqualTo(new Heartbeat.Protocol(ofSeconds(15), ofSeconds(10)));
  }

  @Test
  void applicationHeartbeatWithTextMatchesOnlyItsPong() {
    Heartbeat.Application hb = Heartbeat.application(ofSeconds(1), ofSeconds(1), "ping", "pong");
    assertThat(hb.ping().get()).isEqualTo(Message.text("ping"));
    assertThat(hb.isPong().test(Message.text("pong"))).isTrue();
    assertThat(hb.isPong().test(Message.text("pong!"))).isFalse();
    assertThat(hb.isPong().test(Message.binary(ByteString.encodeUtf8("pong")))).isFalse();
  }

  @Test
  void heartbeatsMadeAlikeAreEqual() {
    assertThat(Heartbeat.application(ofSeconds(1), ofSeconds(2), "ping", "pong"))
        .isEqualTo(Heartbeat.application(ofSeconds(1), ofSeconds(2), "ping", "pong"))
        .hasSameHashCodeAs(Heartbeat.application(ofSeconds(1), ofSeconds(2), "ping", "pong"))
        .isNotEqualTo(Heartbeat.application(ofSeconds(1), ofSeconds(2), "ping", "pong!"));
    assertThat(Heartbeat.passive(ofSeconds(3))).isEqualTo(Heartbeat.passive(ofSeconds(3)));
    assertThat(Heartbeat.none()).isEqualTo(new Heartbeat.None());
  }

  @Test
  void heartbeatDurationsHaveAFloorThatSaysWhy() {
    // protocol(1 ns, 1 ns) was accepted and dropped every connection milliseconds after it opened.
    assertThatThrownBy(() -> Heartbeat.protocol(Duration.ofNanos(1), Duration.ofNanos(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "heartbeat interval must be at least 100 ms (a shorter one declares healthy"
                + " connections dead) but was PT0.000000001S");
    assertThatThrownBy(() -> Heartbeat.passive(Duration.ofMillis(99)))
        .hasMessageContaining("heartbeat timeout must be at least 100 ms");
    assertThatThrownBy(() -> Heartbeat.application(ofSeconds(1), Duration.ZERO, "ping", "pong"))
        .hasMessageContaining("heartbeat timeout must be at least 100 ms");
    assertThat(Heartbeat.protocol(Heartbeat.MIN_DURATION, Heartbeat.MIN_DURATION))
        .isEqualTo(new Heartbeat.Protocol(Duration.ofMillis(100), Duration.ofMillis(100)));
  }

  @Test
  void builderRefusesUrlsThatAreNotWebSocketOrHttp() {
    assertThatThrownBy(() -> ReconnectingSocket.builder("ftp://example.com/feed"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected a ws://, wss://, http:// or https:// URL");
    assertThatThrownBy(() -> ReconnectingSocket.builder("not a url"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ReconnectingSocket.builder("ws://"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a valid URL");
  }

  @Test
  void builderKeepsSecretsOutOfItsErrorMessages() {
    assertThatThrownBy(
            () -> ReconnectingSocket.builder("ftp://user:pw@example.com/feed?token=s3cret"))
        .isInstanceOf(IllegalArgumentException.class)
        .message()
        .doesNotContain("s3cret")
        .doesNotContain("pw");
  }

  @Test
  void builderAcceptsAllFourSchemes() {
    for (String url :
        new String[] {
          "ws://a.example/x", "wss://a.example/x", "http://a.example/x", "https://a.example/x"
        }) {
      ReconnectingSocket s = ReconnectingSocket.builder(url).build();
      assertThat(s.state()).isEqualTo(ConnectionState.IDLE);
      s.close();
    }
  }

  @Test
  void builderRefusesNonsenseDurationsAndRequests() {
    ReconnectingSocket.Builder b = ReconnectingSocket.builder("wss://example.com/feed");
    assertThatThrownBy(() -> b.stableAfter(ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("stableAfter must be >= 0");
    assertThatThrownBy(() -> b.attemptTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("attemptTimeout must be > 0 but was PT0S");
    // -5 s once said ">= 0", contradicting what zero said.
    assertThatThrownBy(() -> b.attemptTimeout(ofSeconds(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("attemptTimeout must be > 0 but was PT-5S");
    assertThatThrownBy(() -> b.retryAfterCeiling(ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.heartbeat(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("heartbeat");
    Request post =
        new Request.Builder()
            .url("https://example.com/feed")
            .post(okhttp3.RequestBody.create(new byte[0]))
            .build();
    assertThatThrownBy(() -> ReconnectingSocket.builder(post))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be GET");
  }

  @Test
  void retryAfterReadsSecondsAndDatesOnlyFor429And503() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    assertThat(handshake(503, "120").retryAfter(now)).contains(ofSeconds(120));
    assertThat(handshake(429, "Thu, 01 Jan 2026 00:00:30 GMT").retryAfter(now))
        .contains(ofSeconds(30));
    assertThat(handshake(503, "Wed, 31 Dec 2025 23:00:00 GMT").retryAfter(now))
        .contains(Duration.ZERO);
    assertThat(handshake(503, "soon").retryAfter(now)).isEmpty();
    assertThat(handshake(500, "120").retryAfter(now)).isEmpty();
    assertThat(new HandshakeException(503, "", Headers.of(), "ws://x/", null).retryAfter(now))
        .isEmpty();
  }

  private static HandshakeException handshake(int code, String retryAfter) {
    return new HandshakeException(code, "", Headers.of("Retry-After", retryAfter), "ws://x/", null);
  }

  @Test
  void defaultClassificationMatchesTheDocumentedTable() {
    for (int code : new int[] {408, 425, 429, 500, 502, 503, 504}) {
      assertThat(Failures.isRetryable(handshake(code, "1"))).as("HTTP %d", code).isTrue();
    }
    for (int code : new int[] {400, 401, 403, 404, 405, 410, 426}) {
      assertThat(Failures.isRetryable(handshake(code, "1"))).as("HTTP %d", code).isFalse();
    }
    assertThat(Failures.isRetryable(new java.io.IOException("reset"))).isTrue();
    assertThat(Failures.isRetryable(new HeartbeatTimeoutException("silent"))).isTrue();
    assertThat(Failures.isRetryable(new AttemptTimeoutException(ofSeconds(20), "upgrade")))
        .isTrue();
    SSLHandshakeException badCert = new SSLHandshakeException("PKIX path building failed");
    badCert.initCause(new java.security.cert.CertificateException("unknown issuer"));
    assertThat(Failures.isRetryable(badCert)).isFalse();
    assertThat(Failures.isRetryable(new javax.net.ssl.SSLPeerUnverifiedException("hostname")))
        .isFalse();
    assertThat(
            Failures.isRetryable(new SSLHandshakeException("Remote host terminated the handshake")))
        .isTrue();
    assertThat(Failures.isRetryable(new ReadyHookException(handshake(401, "1")))).isFalse();
    assertThat(Failures.isRetryable(new ReadyHookException(new IllegalStateException()))).isTrue();
  }

  @Test
  void messageSizeIsCountedInUtf8LikeOkHttp() {
    for (String s : new String[] {"", "ascii", "é", "€", "😀", "a\uD800b"}) {
      assertThat(Message.text(s).sizeInBytes()).as(s).isEqualTo(ByteString.encodeUtf8(s).size());
    }
    assertThat(Message.binary(ByteString.of(new byte[7])).sizeInBytes()).isEqualTo(7);
  }

  @Test
  void messagesKeepPayloadsOutOfToString() {
    assertThat(Message.text("secret payload").toString()).doesNotContain("secret");
    assertThat(Message.binary(ByteString.encodeUtf8("secret")).toString()).doesNotContain("736563");
  }

  @Test
  void statesRefuseNonsense() {
    assertThatThrownBy(() -> new ConnectionState.Connecting(-1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> new ConnectionState.WaitingToReconnect(0, ofSeconds(1), new RuntimeException()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> new ConnectionState.WaitingToReconnect(1, ofSeconds(-1), new RuntimeException()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void messagesGiveTheirPayloadAsTextOrBytesWithoutACast() {
    Message text = Message.text("héllo");
    Message binary = Message.binary(ByteString.encodeUtf8("héllo"));
    assertThat(text.text()).isEqualTo("héllo");
    assertThat(text.bytes()).isEqualTo(ByteString.encodeUtf8("héllo"));
    assertThat(binary.text()).isEqualTo("héllo");
    assertThat(binary.bytes().size()).isEqualTo(6);
    assertThat(text.bytes().size()).isEqualTo(text.sizeInBytes());
    assertThat(Message.binary(ByteString.of((byte) 0xff)).text()).isEqualTo("\ufffd");
    assertThat(text).isNotEqualTo(binary); // a text and a binary message are different messages
  }

  @Test
  void outboxesMadeAlikeAreEqual() {
    Outbox a = Outbox.bounded(10, 1_000).timeToLive(ofSeconds(5)).dropOldest();
    assertThat(a)
        .isEqualTo(Outbox.bounded(10, 1_000).timeToLive(ofSeconds(5)).dropOldest())
        .hasSameHashCodeAs(Outbox.bounded(10, 1_000).timeToLive(ofSeconds(5)).dropOldest())
        .isNotEqualTo(Outbox.bounded(10, 1_000).timeToLive(ofSeconds(5)));
    assertThat(Outbox.defaults()).isEqualTo(Outbox.defaults());
  }
}
