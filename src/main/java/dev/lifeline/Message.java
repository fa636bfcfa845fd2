package dev.lifeline;

import java.util.Objects;
import okio.ByteString;

/**
 * One WebSocket message, text or binary. Immutable.
 *
 * <p>Inbound messages are delivered as they arrive, with no copy of the payload OkHttp decoded.
 */
public sealed interface Message {

  /** Returns a text message. */
  static Message text(String text) {
    return new Text(text);
  }

  /** Returns a binary message. */
  static Message binary(ByteString bytes) {
    return new Binary(bytes);
  }

  /** The payload's size in bytes as OkHttp counts it for its outbound queue (UTF-8 for text). */
  long sizeInBytes();

  /**
   * The payload as text: a text message's own text; a binary message's bytes decoded as UTF-8
   * (malformed sequences become U+FFFD). Saves the {@code instanceof Message.Text} cast where the
   * protocol is text-only.
   */
  String text();

  /**
   * The payload as bytes: a binary message's own bytes; a text message's text encoded as UTF-8 (the
   * bytes that went or came over the wire).
   */
  ByteString bytes();

  /**
   * A text (opcode 1) message.
   *
   * @param text the payload
   */
  record Text(String text) implements Message {
    /** Validates that the text is present. */
    public Text {
      Objects.requireNonNull(text, "text");
    }

    @Override
    public long sizeInBytes() {
      return utf8Length(text);
    }

    @Override
    public ByteString bytes() {
      return ByteString.encodeUtf8(text);
    }

    @Override
    public String toString() {
      // Payloads are user data: keep them out of toString(), which ends up in logs.
      return "Text(" + text.length() + " chars)";
    }
  }

  /**
   * A binary (opcode 2) message.
   *
   * @param bytes the payload
   */
  record Binary(ByteString bytes) implements Message {
    /** Validates that the bytes are present. */
    public Binary {
      Objects.requireNonNull(bytes, "bytes");
    }

    @Override
    public long sizeInBytes() {
      return bytes.size();
    }

    @Override
    public String text() {
      return bytes.utf8();
    }

    @Override
    public String toString() {
      return "Binary(" + bytes.size() + " bytes)";
    }
  }

  private static long utf8Length(String s) {
    long n = 0;
    for (int i = 0, len = s.length(); i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < len
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else if (Character.isSurrogate(c)) {
        n += 1; // okio encodes an unpaired surrogate as '?'
      } else {
        n += 3;
      }
    }
    return n;
  }
}
