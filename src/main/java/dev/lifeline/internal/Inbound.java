package dev.lifeline.internal;

import dev.lifeline.GaveUpException;
import dev.lifeline.Message;
import io.reactivex.rxjava3.core.Observable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The socket's inbound message stream, across connections and episodes.
 *
 * <p>Reader threads take turns: one delivers at a time, and a reader that finds another one still
 * inside a subscriber (an earlier connection's reader, after a reconnect) <b>waits</b> for it
 * instead of queueing, so it stops reading from its own connection and TCP pushes back on the
 * server, as on a single connection. The waiting reader's connection counts the wait as life (the
 * caller marks it delivering). Terminal signals from the socket's loop never wait: they are left
 * for whoever holds the turn, or delivered at once when nobody does. One raised by a subscriber
 * from inside its own {@code onNext} (it called {@code close()}) waits until that message has
 * reached every subscriber: a terminal never interrupts a delivery.
 *
 * <p>A give-up ends the current stream with its error; it stays current, so that a subscriber who
 * arrives later learns of the give-up at once, until {@code connect()} starts a fresh stream.
 * Subscribers reach the current one through {@link #view}.
 */
final class Inbound {
  private final ReentrantLock turn = new ReentrantLock();
  private final ConcurrentLinkedQueue<Runnable> terminals = new ConcurrentLinkedQueue<>();
  private final Supplier<String> name;
  private final Observable<Message> view;
  private volatile Broadcast<Message> stream;
  private final AtomicReference<@Nullable Broadcast<Message>> givenUp = new AtomicReference<>();

  Inbound(Supplier<String> name) {
    this.name = name;
    this.stream = Broadcast.create(name, "messages() subscriber");
    this.view = Observable.defer(() -> stream);
  }

  Observable<Message> view() {
    return view;
  }

  /**
   * Reader thread: delivers {@code message} to the socket's subscribers, then to {@code session}'s
   * (the ready hook's stream of this connection), waiting for the turn first.
   */
  void deliver(Message message, Broadcast<Message> session) {
    turn.lock();
    try {
      stream.onNext(message);
      if (session.hasObservers()) session.onNext(message);
    } finally {
      turn.unlock();
    }
    if (!terminals.isEmpty()) flushTerminals();
  }

  /**
   * Loop: later subscribers join a fresh stream from now on; returns the signal that ends the
   * current one with {@code reason}, for the loop to run after its bookkeeping.
   */
  Runnable gaveUp(GaveUpException reason) {
    Broadcast<Message> failed = stream;
    givenUp.set(failed);
    return () -> terminate(() -> failed.onError(reason));
  }

  /**
   * Any thread, from {@code connect()}, before the loop runs it: after a give-up, subscribers from
   * now on join a fresh stream (the one the new episode's messages go to).
   */
  void restart() {
    Broadcast<Message> failed = givenUp.getAndSet(null);
    if (failed != null && stream == failed)
      stream = Broadcast.create(name, "messages() subscriber");
  }

  /** Loop: the signal that completes the stream for good. */
  Runnable complete() {
    Broadcast<Message> last = stream;
    return () -> terminate(last::onComplete);
  }

  private void terminate(Runnable signal) {
    terminals.add(signal);
    flushTerminals();
  }

  private void flushTerminals() {
    // Raised from inside a delivery on this thread (a subscriber called close()): the turn is this
    // thread's, and the delivery finishes first (every subscriber gets the message), then flushes.
    if (turn.isHeldByCurrentThread()) return;
    while (!terminals.isEmpty() && turn.tryLock()) {
      try {
        Runnable next;
        while ((next = terminals.poll()) != null) next.run();
      } finally {
        turn.unlock();
      }
    }
  }
}
