package dev.lifeline;

import java.security.cert.CertificateException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Lifeline's default classification of failures into retryable and terminal. A socket retries a
 * failure when its {@code retryIf} predicate says so; the default predicate is {@link
 * #isRetryable(Throwable)}. Compose with it to override single cases:
 *
 * <pre>{@code
 * .retryIf(t -> !(t instanceof ServerClosedException c && c.code() == 4001)
 *     && Failures.isRetryable(t))
 * }</pre>
 */
public final class Failures {
  private Failures() {}

  /**
   * Returns whether Lifeline retries {@code failure} by default.
   *
   * <ul>
   *   <li><b>Retryable:</b> network I/O errors, attempt and heartbeat timeouts, HTTP 408, 425, 429
   *       and 5xx on the upgrade, close codes 1000, 1001, 1006, 1011–1014 and any code not listed
   *       below (including application codes 3000–4999), and anything not recognised.
   *   <li><b>Terminal:</b> HTTP 400, 401, 403, 404, 405, 410 and every other 4xx on the upgrade;
   *       TLS certificate failures (an untrusted or mismatched certificate); close codes 1002,
   *       1003, 1007, 1008, 1009 and 1010.
   * </ul>
   *
   * A {@link ReadyHookException} is classified by its cause.
   */
  public static boolean isRetryable(Throwable failure) {
    if (failure instanceof HandshakeException h) {
      int code = h.code();
      if (code == 408 || code == 425 || code == 429) return true;
      return code < 400 || code >= 500;
    }
    if (failure instanceof ServerClosedException c) {
      return isRetryableCloseCode(c.code());
    }
    if (failure instanceof ReadyHookException && failure.getCause() != null) {
      return isRetryable(failure.getCause());
    }
    return !isCertificateFailure(failure);
  }

  /**
   * Returns whether a WebSocket close code is retried by default: every code except 1002 (protocol
   * error), 1003 (unsupported data), 1007 (invalid payload), 1008 (policy violation), 1009 (message
   * too big) and 1010 (missing extension).
   */
  public static boolean isRetryableCloseCode(int code) {
    switch (code) {
      case 1002, 1003, 1007, 1008, 1009, 1010:
        return false;
      default:
        return true;
    }
  }

  /** Returns whether {@code failure} or one of its causes is a TLS certificate failure. */
  static boolean isCertificateFailure(Throwable failure) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
      if (t instanceof SSLPeerUnverifiedException || t instanceof CertificateException) {
        return true;
      }
    }
    return false;
  }
}
