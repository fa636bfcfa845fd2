package dev.lifeline.bench;

import okio.ByteString;

/** What a benchmark does with each message a connection receives, on the connection's thread. */
interface Receiver {
  void onText(String text);

  void onBinary(ByteString bytes);
}
