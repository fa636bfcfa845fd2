package dev.lifeline.internal;

import io.reactivex.rxjava3.exceptions.Exceptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one path by which Lifeline calls code it does not own (observers, predicates, suppliers,
 * policies, hooks) where an exception must not abort what the socket is doing: it is logged at
 * ERROR with what was being called, and the socket carries on. Fatal JVM errors still propagate.
 *
 * <p>Lifeline does not hand these exceptions to {@code RxJavaPlugins.onError}: its default handler
 * ends an Android application, and a reliability library must not turn one broken observer into a
 * crash. The log line names the socket and the callback.
 */
final class UserCode {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  private UserCode() {}

  /** Runs {@code code}; false if it threw (then the exception was logged). */
  static boolean run(String socket, String what, Runnable code) {
    try {
      code.run();
      return true;
    } catch (Throwable t) {
      Exceptions.throwIfFatal(t);
      report(socket, what, t);
      return false;
    }
  }

  static void report(String socket, String what, Throwable t) {
    log.error("{} {} threw; the socket carries on", socket, what, t);
  }
}
