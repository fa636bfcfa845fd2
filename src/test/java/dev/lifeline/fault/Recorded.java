package dev.lifeline.fault;

import io.reactivex.rxjava3.core.Observable;
import io.reactivex.rxjava3.disposables.Disposable;
import io.reactivex.rxjava3.subjects.ReplaySubject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Every value of a stream, each stamped with {@link System#nanoTime()} when it arrived. Subscribe
 * before the values can come (before {@code connect()}); waits are on the recorded history, so a
 * value that already arrived is found too.
 */
final class Recorded<T> {
  /** A value and when it arrived. */
  record At<T>(T value, long nanos) {}

  private final ReplaySubject<At<T>> values = ReplaySubject.create();
  private final Disposable subscription;

  private Recorded(Observable<T> source) {
    subscription =
        source.subscribe(
            v -> values.onNext(new At<>(v, System.nanoTime())),
            values::onError,
            values::onComplete);
  }

  static <T> Recorded<T> of(Observable<T> source) {
    return new Recorded<>(source);
  }

  /** Waits for the {@code n}-th value (1-based) and returns it. */
  At<T> await(int n, Duration within) {
    return orFail(
        values.skip(n - 1L).timeout(within.toNanos(), TimeUnit.NANOSECONDS), "value #" + n, within);
  }

  /** Waits for the first value that matches. */
  At<T> awaitMatching(Predicate<? super T> p, Duration within) {
    return orFail(
        values.filter(a -> p.test(a.value())).timeout(within.toNanos(), TimeUnit.NANOSECONDS),
        "a matching value",
        within);
  }

  private At<T> orFail(Observable<At<T>> wait, String what, Duration within) {
    At<T> found = wait.onErrorComplete().firstElement().blockingGet();
    if (found == null) {
      throw new AssertionError(
          "no "
              + what
              + " within "
              + within
              + "; "
              + count()
              + " value(s) so far: "
              + valuesSoFar());
    }
    return found;
  }

  private List<T> valuesSoFar() {
    List<T> list = new ArrayList<>();
    for (At<T> at : all()) list.add(at.value());
    return list.size() > 20 ? list.subList(list.size() - 20, list.size()) : list;
  }

  int count() {
    return values.getValues().length;
  }

  /** Every value so far. */
  List<At<T>> all() {
    Object[] raw = values.getValues();
    List<At<T>> all = new ArrayList<>(raw.length);
    for (Object o : raw) {
      @SuppressWarnings("unchecked") // only At<T> are ever recorded
      At<T> at = (At<T>) o;
      all.add(at);
    }
    return all;
  }

  /** The last value so far; fails if there is none. */
  At<T> last() {
    List<At<T>> all = all();
    if (all.isEmpty()) throw new AssertionError("no value recorded");
    return all.get(all.size() - 1);
  }

  void dispose() {
    subscription.dispose();
  }
}
