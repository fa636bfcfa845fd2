package dev.lifeline.internal;

import okhttp3.HttpUrl;

/** URLs as they may appear in logs and messages: no user info, no query, no fragment. */
public final class Urls {
  private Urls() {}

  /** Returns {@code ws[s]://host[:port]/path} for {@code url}. */
  public static String redact(HttpUrl url) {
    StringBuilder s = new StringBuilder(url.isHttps() ? "wss://" : "ws://");
    String host = url.host();
    s.append(host.indexOf(':') >= 0 ? "[" + host + "]" : host);
    if (url.port() != HttpUrl.defaultPort(url.scheme())) s.append(':').append(url.port());
    s.append(url.encodedPath());
    return s.toString();
  }
}
