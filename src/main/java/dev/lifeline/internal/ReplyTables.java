package dev.lifeline.internal;

import dev.lifeline.Correlation;
import dev.lifeline.Message;
import io.reactivex.rxjava3.core.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every reply table of one socket ({@code socket.replies(correlation)} makes one each), in the
 * order they were made. An inbound message is offered to each; the first that has a message waiting
 * for the id its correlation reads answers it.
 */
final class ReplyTables {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  private final List<ReplyTable> tables = new CopyOnWriteArrayList<>();
  private final Scheduler scheduler;
  private final Supplier<String> name;

  ReplyTables(Scheduler scheduler, Supplier<String> name) {
    this.scheduler = scheduler;
    this.name = name;
  }

  ReplyTable add(Correlation correlation, Outbound outbound) {
    ReplyTable table = new ReplyTable(correlation, scheduler, name, outbound);
    tables.add(table);
    return table;
  }

  boolean isEmpty() {
    return tables.isEmpty();
  }

  /**
   * Reader thread: whether {@code message} is a reply (then it is not emitted on {@code
   * messages()}): answered, or read as a reply by some correlation but awaited by none (a duplicate
   * or a reply after its timeout), which is dropped.
   */
  boolean consume(Message message) {
    String unmatched = null;
    for (ReplyTable table : tables) {
      String id = table.idOfIncoming(message);
      if (id == null) continue;
      if (table.answer(id, message)) return true;
      unmatched = id;
    }
    if (unmatched == null) return false;
    log.debug(
        "{} reply {} matches no waiting message (duplicate or late): dropped",
        name.get(),
        unmatched);
    return true;
  }

  /** Loop: fails every waiting message with {@code reason}, as signals. */
  void failAll(Why reason, List<Runnable> signals) {
    for (ReplyTable table : tables) table.failAll(reason, signals);
  }

  /** Under the send lock: what was sent on {@code link} and still waits for its reply. */
  List<PendingReply> unansweredOn(Link link) {
    List<PendingReply> out = new ArrayList<>(0);
    for (ReplyTable table : tables) table.addUnansweredOn(link, out);
    return out;
  }
}
