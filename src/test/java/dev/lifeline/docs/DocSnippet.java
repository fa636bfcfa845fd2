package dev.lifeline.docs;

import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Completable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the statement snippets of the docs may use without declaring it: the application's own code,
 * which the docs call by name ({@code handle(message)}, {@code gaveUp(error)}), a logger, and a
 * {@code socket}. {@link DocSnippetsTest} compiles each snippet as a method of a subclass; none of
 * it runs.
 */
public abstract class DocSnippet {
  /** The socket a snippet talks about when it does not build one itself. */
  protected ReconnectingSocket socket;

  protected final Logger log = LoggerFactory.getLogger("app");

  protected void handle(Message message) {}

  protected void gaveUp(Throwable error) {}

  protected Completable authenticate(Session session) {
    return Completable.complete();
  }

  protected void show(Object value) {}

  protected void showError(String text) {}

  protected String idOf(Message message) {
    return "";
  }
}
