package dev.lifeline.internal;

import dev.lifeline.NotDeliveredException;
import dev.lifeline.NotDeliveredException.Reason;
import io.reactivex.rxjava3.functions.Predicate;

/** Matchers for the reports of messages that were not delivered. */
final class Reports {
  private Reports() {}

  /** Matches a {@link NotDeliveredException} with {@code reason}, for {@code assertError}. */
  static Predicate<Throwable> notDelivered(Reason reason) {
    return e -> e instanceof NotDeliveredException n && n.reason() == reason;
  }
}
