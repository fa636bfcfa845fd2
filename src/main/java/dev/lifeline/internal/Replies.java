package dev.lifeline.internal;

import dev.lifeline.AcknowledgementTimeoutException;
import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.SendRejectedException;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.core.Single;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acknowledged sends and requests: the table of messages awaiting their reply, their timeouts, and
 * matching replies as they arrive. Retransmission order is {@link Outbound}'s: it asks which
 * messages a dead connection leaves unanswered ({@link #unansweredOn}).
 *
 * <p>Removing an entry from the table ({@link #take}) decides who completes it, exactly once: the
 * reply (OkHttp's reader thread), its timeout (the scheduler), a failure to send it, a give-up or
 * close (the socket's loop), or the caller disposing. The completion runs after, outside any lock,
 * through {@link UserCode}.
 */
final class Replies {
  private static final Logger log = LoggerFactory.getLogger("dev.lifeline.ReconnectingSocket");

  private final Correlation correlation;
  private final Scheduler scheduler;
  private final Supplier<String> name;
  private final Map<String, PendingReply> table = new ConcurrentHashMap<>();
  private @Nullable Outbound outbound; // set once, right after construction

  Replies(Correlation correlation, Scheduler scheduler, Supplier<String> name) {
    this.correlation = correlation;
    this.scheduler = scheduler;
    this.name = name;
  }

  void bind(Outbound outbound) {
    this.outbound = outbound;
  }

  private Outbound outbound() {
    Outbound o = outbound;
    if (o == null) throw new IllegalStateException("Replies used before bind()");
    return o;
  }

  /** A cold request: sends {@code message} when subscribed and emits the reply. */
  Single<Message> request(Message message) {
    String id = correlation.idOfOutgoing(message);
    if (id == null) {
      throw new IllegalArgumentException("the correlation found no id in the message " + message);
    }
    return Single.create(
        emitter -> {
          PendingReply reply = new PendingReply(id, message, message.sizeInBytes(), emitter, this);
          if (table.putIfAbsent(id, reply) != null) {
            emitter.onError(
                new IllegalStateException(
                    "a message with id " + id + " is already awaiting its reply"));
            return;
          }
          emitter.setCancellable(() -> take(reply));
          reply.timeout =
              scheduler.scheduleDirect(
                  () -> fail(reply, new AcknowledgementTimeoutException(id, correlation.timeout())),
                  Durations.timerNanos(correlation.timeout()),
                  TimeUnit.NANOSECONDS);
          if (table.get(id) != reply) reply.timeout.dispose(); // taken already (close, dispose)
          SendResult result = outbound().send(message, reply);
          if (!result.isAccepted()) fail(reply, new SendRejectedException(result));
        });
  }

  /**
   * Reader thread: whether {@code message} is a reply. Then it is consumed, and completes its
   * acknowledged send if one is waiting.
   */
  boolean consume(Message message) {
    String id;
    try {
      id = correlation.idOfIncoming(message);
    } catch (RuntimeException e) {
      UserCode.report(name.get(), "the correlation's idOfIncoming (treated as no reply)", e);
      return false;
    }
    if (id == null) return false;
    PendingReply reply = table.get(id);
    if (reply == null) {
      log.debug(
          "{} reply {} matches no waiting message (duplicate or late): dropped", name.get(), id);
    } else if (take(reply)) {
      UserCode.run(name.get(), "a request's observer", () -> reply.emitter.onSuccess(message));
    }
    return true;
  }

  /** Fails {@code reply}, unless it was answered or failed already. */
  void fail(PendingReply reply, Throwable error) {
    if (take(reply)) {
      UserCode.run(name.get(), "a request's observer", () -> reply.emitter.tryOnError(error));
    }
  }

  /** Fails every waiting message with {@code reason}. */
  void failAll(Throwable reason, List<Runnable> signals) {
    for (PendingReply reply : new ArrayList<>(table.values())) {
      signals.add(() -> fail(reply, reason));
    }
  }

  /** Holding the send lock: what was last handed to {@code link} and is still unanswered. */
  List<PendingReply> unansweredOn(Link link) {
    List<PendingReply> out = new ArrayList<>(0);
    for (PendingReply r : table.values()) if (r.sentOn == link) out.add(r);
    return out;
  }

  /** True for the one caller that removed {@code reply}; that caller completes it. */
  private boolean take(PendingReply reply) {
    if (!table.remove(reply.id, reply)) return false;
    reply.timeout.dispose();
    outbound().remove(reply);
    return true;
  }
}
