package dev.lifeline.internal;

import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import io.reactivex.rxjava3.functions.Predicate;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The tests' shared vocabulary for replies and reports: the "req:ID:body" protocol, and matchers
 * for messages that were not delivered.
 */
final class Reports {
  private Reports() {}

  /** "req:ID:body" goes out, "ack:ID" or "reply:ID:body" comes back. */
  static Correlation requestsById(Duration timeout) {
    return Correlation.by(
            out -> "req".equals(field(out, 0)) ? field(out, 1) : null,
            in -> "ack".equals(field(in, 0)) || "reply".equals(field(in, 0)) ? field(in, 1) : null)
        .timeout(timeout);
  }

  private static @Nullable String field(Message m, int i) {
    if (!(m instanceof Message.Text t)) return null;
    String[] parts = t.text().split(":", 3);
    return parts.length > i ? parts[i] : null;
  }

  /** Matches a {@link NotDeliveredException} with {@code reason}, for {@code assertError}. */
  static Predicate<Throwable> notDelivered(Reason reason) {
    return e -> e instanceof NotDeliveredException n && n.reason() == reason;
  }
}
