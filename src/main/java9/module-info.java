/**
 * Lifeline: WebSocket clients that stay connected, on OkHttp and RxJava 3. Only {@code
 * dev.lifeline} is exported; {@code dev.lifeline.internal} is the implementation and may change in
 * any release.
 */
module dev.lifeline {
  requires transitive okhttp3;
  requires okio; // automatic; okhttp3 requires it transitively
  requires transitive io.reactivex.rxjava3;
  requires org.slf4j;
  requires static transitive org.jspecify;

  exports dev.lifeline;
}
