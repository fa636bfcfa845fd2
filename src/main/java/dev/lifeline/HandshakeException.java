package dev.lifeline;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Objects;
import java.util.Optional;
import okhttp3.Headers;

/**
 * The server answered the WebSocket upgrade with an HTTP status other than 101. Carries the status
 * and the response headers so that a retry policy or a user can act on them ({@code Retry-After},
 * {@code WWW-Authenticate}…).
 *
 * <p>By default 408, 425, 429 and 5xx are retried; 400, 401, 403, 404, 405, 410 and every other 4xx
 * are terminal (see {@link Failures#isRetryable(Throwable)}).
 */
public final class HandshakeException extends LifelineException {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final transient Headers headers;

  /**
   * Creates a handshake failure.
   *
   * @param code the HTTP status
   * @param statusMessage the HTTP reason phrase, possibly empty
   * @param headers the response headers
   * @param url the redacted URL (no user info, no query) for the message
   * @param cause OkHttp's exception, if any
   */
  public HandshakeException(
      int code, String statusMessage, Headers headers, String url, Throwable cause) {
    super(
        "WebSocket upgrade of "
            + url
            + " was answered with HTTP "
            + code
            + (statusMessage.isEmpty() ? "" : " " + statusMessage)
            + " instead of 101 Switching Protocols",
        cause);
    this.code = code;
    this.headers = Objects.requireNonNull(headers, "headers");
  }

  /** The HTTP status the server answered with. */
  public int code() {
    return code;
  }

  /** The response headers of the failed upgrade. */
  public Headers headers() {
    return headers == null ? Headers.of() : headers;
  }

  /**
   * The server's {@code Retry-After} on a 429 or 503, in seconds or as an HTTP date; empty for
   * other statuses, or when the header is absent or unreadable. A date in the past gives zero.
   *
   * @param now the current time, used to turn an HTTP date into a delay
   */
  public Optional<Duration> retryAfter(Instant now) {
    if (code != 429 && code != 503) return Optional.empty();
    String value = headers().get("Retry-After");
    if (value == null) return Optional.empty();
    value = value.trim();
    if (!value.isEmpty() && value.chars().allMatch(c -> c >= '0' && c <= '9')) {
      try {
        return Optional.of(Duration.ofSeconds(Long.parseLong(value)));
      } catch (NumberFormatException tooLarge) {
        return Optional.of(Duration.ofSeconds(Long.MAX_VALUE / 1_000_000_000L));
      }
    }
    try {
      Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      Duration d = Duration.between(now, at);
      return Optional.of(d.isNegative() ? Duration.ZERO : d);
    } catch (DateTimeException unreadable) {
      return Optional.empty();
    }
  }
}
