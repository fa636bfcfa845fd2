package dev.lifeline.fault;

import dev.lifeline.ConnectionState;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.subjects.ReplaySubject;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Every state a socket went through, each stamped with {@link System#nanoTime()} when the test saw
 * it. Subscribe before {@code connect()}. Waits look at the history from an index ({@link #mark()}
 * taken before injecting a fault), so a state that already passed is found too and none emitted
 * before the fault is mistaken for its effect.
 *
 * <p>Keeps every state (and each cause's stack trace): for a few dozen transitions, not thousands.
 */
final class StateLog {
  /** A state and when it was emitted. */
  record Seen(ConnectionState state, long nanos) {}

  private final ReplaySubject<Seen> seen = ReplaySubject.create();

  private StateLog(ReconnectingSocket socket) {
    socket
        .states()
        .map(s -> new Seen(s, System.nanoTime()))
        .subscribe(seen::onNext, seen::onError, seen::onComplete);
  }

  static StateLog of(ReconnectingSocket socket) {
    return new StateLog(socket);
  }

  /** The number of states seen so far: pass it to {@link #awaitFrom} to look only at later ones. */
  int mark() {
    return seen.getValues(new Seen[0]).length;
  }

  /**
   * The states from index {@code from} on: those already seen, then the later ones as they come.
   */
  Observable<Seen> from(int from) {
    return seen.skip(from);
  }

  /**
   * Waits for the first state at index {@code from} or later that matches; fails with the states
   * seen so far if none comes within {@code within} (or the stream completes first).
   */
  Seen awaitFrom(int from, Predicate<? super ConnectionState> p, Duration within) {
    Seen found =
        seen.skip(from)
            .filter(s -> p.test(s.state()))
            .timeout(within.toNanos(), TimeUnit.NANOSECONDS)
            .onErrorComplete()
            .firstElement()
            .blockingGet();
    if (found == null) {
      throw new AssertionError(
          "no matching state at index "
              + from
              + " or later within "
              + within
              + (completed() ? " (the state stream completed)" : "")
              + "; states: "
              + Fixtures.names(states()));
    }
    return found;
  }

  /** Waits for the first state of the whole history that is a {@code type}. */
  Seen await(Class<? extends ConnectionState> type, Duration within) {
    return awaitFrom(0, type::isInstance, within);
  }

  /** Waits for the first state at index {@code from} or later that is a {@code type}. */
  Seen awaitFrom(int from, Class<? extends ConnectionState> type, Duration within) {
    return awaitFrom(from, type::isInstance, within);
  }

  /**
   * Waits until the socket's state stream completes (after {@code close()}); returns every state.
   */
  List<Seen> awaitComplete(Duration within) {
    return seen.timeout(within.toNanos(), TimeUnit.NANOSECONDS).toList().blockingGet();
  }

  boolean completed() {
    return seen.hasComplete();
  }

  /** Every state so far, with times. */
  List<Seen> seen() {
    return Arrays.asList(seen.getValues(new Seen[0]));
  }

  /** Every state so far. */
  List<ConnectionState> states() {
    return seen().stream().map(Seen::state).collect(Collectors.toList());
  }

  /** The states so far that are a {@code type}. */
  <T extends ConnectionState> List<T> all(Class<T> type) {
    return states().stream().filter(type::isInstance).map(type::cast).collect(Collectors.toList());
  }

  static long millisBetween(long fromNanos, long toNanos) {
    return TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
  }
}
