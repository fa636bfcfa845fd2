package dev.lifeline.internal;

import static org.assertj.core.api.Assertions.assertThat;

import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;

class UrlsTest {
  @Test
  void redactionDropsUserInfoQueryAndFragment() {
    assertThat(Urls.redact(HttpUrl.get("https://bob:pw@example.com/feed/v1?token=abc#x")))
        .isEqualTo("wss://example.com/feed/v1");
    assertThat(Urls.redact(HttpUrl.get("http://127.0.0.1:8080/ws?k=v")))
        .isEqualTo("ws://127.0.0.1:8080/ws");
    assertThat(Urls.redact(HttpUrl.get("http://[::1]:9000/"))).isEqualTo("ws://[::1]:9000/");
  }

  @Test
  void durationsReadNaturally() {
    assertThat(Durations.formatMillis(250)).isEqualTo("250ms");
    assertThat(Durations.formatMillis(20_000)).isEqualTo("20s");
    assertThat(Durations.formatMillis(1_500)).isEqualTo("1.5s");
    assertThat(Durations.formatMillis(1_250)).isEqualTo("1.25s");
  }
}
