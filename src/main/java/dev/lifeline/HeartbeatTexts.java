package dev.lifeline;

import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The ping and matcher of {@link Heartbeat#application(java.time.Duration, java.time.Duration,
 * String, String)}: values, so that two such heartbeats made alike are equal.
 */
final class HeartbeatTexts {
  private HeartbeatTexts() {}

  /** One fixed ping message. */
  record Ping(Message message) implements Supplier<Message> {
    @Override
    public Message get() {
      return message;
    }
  }

  /** Matches a text message equal to {@code text}. */
  record Pong(String text) implements Predicate<Message> {
    @Override
    public boolean test(Message message) {
      return message instanceof Message.Text t && t.text().equals(text);
    }
  }
}
