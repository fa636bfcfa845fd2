package dev.lifeline.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.Heartbeat;
import java.time.Duration;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/** The OkHttp client each socket derives from the one it was given. */
class DerivedClientTest {
  private final Harness h = new Harness();
  private final LinkActivity activity = new LinkActivity(System::currentTimeMillis);

  @Test
  void withTheDefaultClientTheAttemptTimeoutIsWhatEndsAnAttempt() {
    // Was: OkHttp's 10 s read timeout failed attempts against a frozen server, before the
    // documented 20 s attemptTimeout, with a bare SocketTimeoutException.
    h.attemptTimeout = Duration.ofSeconds(30);
    OkHttpClient derived =
        RealReconnectingSocket.deriveClient(DefaultClient.get(), h.config(), activity);
    assertThat(derived.readTimeoutMillis()).isGreaterThan(30_000);
    assertThat(derived.connectTimeoutMillis()).isGreaterThan(30_000);
    // The pool and dispatcher are shared, not copied.
    assertThat(derived.dispatcher()).isSameAs(DefaultClient.get().dispatcher());
    assertThat(derived.connectionPool()).isSameAs(DefaultClient.get().connectionPool());
  }

  @Test
  void anAttemptTimeoutOfCenturiesDoesNotOverflowOkHttpsTimeouts() {
    h.attemptTimeout = Duration.ofDays(365_000);
    OkHttpClient derived =
        RealReconnectingSocket.deriveClient(DefaultClient.get(), h.config(), activity);
    assertThat(derived.readTimeoutMillis()).isEqualTo(Integer.MAX_VALUE);
  }

  @Test
  void aCallersOwnClientKeepsItsTimeouts() {
    OkHttpClient own = new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(3)).build();
    h.attemptTimeout = Duration.ofSeconds(30);
    OkHttpClient derived = RealReconnectingSocket.deriveClient(own, h.config(), activity);
    assertThat(derived.readTimeoutMillis()).isEqualTo(3_000);
    assertThat(derived.connectTimeoutMillis()).isEqualTo(own.connectTimeoutMillis());
  }

  @Test
  void aProtocolHeartbeatSetsOkHttpsPingInterval() {
    h.heartbeat = Heartbeat.protocol(Duration.ofSeconds(7), Duration.ofSeconds(5));
    OkHttpClient derived =
        RealReconnectingSocket.deriveClient(DefaultClient.get(), h.config(), activity);
    assertThat(derived.pingIntervalMillis()).isEqualTo(7_000);
  }
}
