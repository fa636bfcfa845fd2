package dev.lifeline.wire;

import dev.lifeline.ConnectionState;
import dev.lifeline.ReconnectingSocket;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.subjects.ReplaySubject;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Every state a socket went through, each with the {@link System#nanoTime()} at which the test saw
 * it. Subscribe before {@code connect()}; waiting looks at the whole history, so a state that has
 * already passed is found too.
 */
final class StateHistory {
  /** A state and when it was emitted. */
  record Seen(ConnectionState state, long nanos) {}

  private final ReplaySubject<Seen> seen = ReplaySubject.create();
  private final Disposable subscription;

  private StateHistory(ReconnectingSocket socket) {
    subscription =
        socket
            .states()
            .map(s -> new Seen(s, System.nanoTime()))
            .subscribe(seen::onNext, seen::onError, seen::onComplete);
  }

  static StateHistory of(ReconnectingSocket socket) {
    return new StateHistory(socket);
  }

  /** Waits for the first state (from the beginning of the history) that is a {@code type}. */
  <T extends ConnectionState> T await(Class<T> type) {
    return type.cast(awaitSeen(type::isInstance, 5).state());
  }

  /** Waits up to {@code seconds} for the first state that matches. */
  Seen awaitSeen(Predicate<ConnectionState> p, long seconds) {
    return seen.filter(s -> p.test(s.state())).timeout(seconds, TimeUnit.SECONDS).blockingFirst();
  }

  /** Waits for the history to complete (the socket was closed) and returns every state. */
  List<ConnectionState> awaitComplete() {
    return seen.timeout(5, TimeUnit.SECONDS).map(Seen::state).toList().blockingGet();
  }

  /** The states so far. */
  List<ConnectionState> states() {
    return Arrays.stream(seen.getValues(new Seen[0])).map(Seen::state).collect(Collectors.toList());
  }

  void dispose() {
    subscription.dispose();
  }
}
