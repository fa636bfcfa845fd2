package dev.lifeline.internal;

import dev.lifeline.Correlation;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.Replies;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Scheduler;
import io.reactivex.rxjava3.core.Single;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Acknowledged sends and requests: the table of messages awaiting their reply, their timeouts, and
 * matching replies as they arrive. Retransmission order is {@link Outbound}'s: it asks which
 * messages a dead connection leaves unanswered ({@link #addUnansweredOn}).
 *
 * <p>Removing an entry from the table ({@link #take}) decides who completes it, exactly once: the
 * reply (OkHttp's reader thread), its timeout (the scheduler), a failure to send it, a give-up or
 * close (the socket's loop), or the caller disposing. The completion runs after, outside any lock,
 * through {@link UserCode}.
 */
final class ReplyTable implements Replies {
  private final Correlation correlation;
  private final Scheduler scheduler;
  private final Supplier<String> name;
  private final Map<String, PendingReply> table = new ConcurrentHashMap<>();
  private final Outbound outbound;

  ReplyTable(
      Correlation correlation, Scheduler scheduler, Supplier<String> name, Outbound outbound) {
    this.correlation = correlation;
    this.scheduler = scheduler;
    this.name = name;
    this.outbound = outbound;
  }

  @Override
  public Correlation correlation() {
    return correlation;
  }

  @Override
  public Completable sendAcknowledged(Message message) {
    return request(message).ignoreElement();
  }

  @Override
  public Completable sendAcknowledged(Message message, String id) {
    return request(message, id).ignoreElement();
  }

  @Override
  public Single<Message> request(Message message) {
    Objects.requireNonNull(message, "message");
    String id;
    try {
      id = correlation.idOfOutgoing(message);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "the correlation's idOfOutgoing threw on " + message + ": pass the id instead", e);
    }
    if (id == null) {
      throw new IllegalArgumentException(
          "the correlation found no id in the message " + message + ": pass the id instead");
    }
    return pending(message, id);
  }

  @Override
  public Single<Message> request(Message message, String id) {
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(id, "id");
    return pending(message, id);
  }

  /** A cold request: sends {@code message} when subscribed and emits the reply. */
  private Single<Message> pending(Message message, String id) {
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
                  () -> fail(reply, Why.noReply(id, correlation.timeout()).of(message)),
                  Durations.timerNanos(correlation.timeout()),
                  TimeUnit.NANOSECONDS);
          if (table.get(id) != reply) reply.timeout.dispose(); // taken already (close, dispose)
          SendResult result = outbound.send(message, reply);
          if (!result.isAccepted()) fail(reply, Why.refused(result).of(message));
        });
  }

  /** The id {@code message} answers by this table's correlation, or null if it is no reply. */
  @Nullable String idOfIncoming(Message message) {
    try {
      return correlation.idOfIncoming(message);
    } catch (RuntimeException e) {
      UserCode.report(name.get(), "the correlation's idOfIncoming (treated as no reply)", e);
      return null;
    }
  }

  /** Answers the message waiting for {@code id} with {@code reply}; false if none waits. */
  boolean answer(String id, Message message) {
    PendingReply reply = table.get(id);
    if (reply == null) return false;
    if (take(reply)) {
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
  void failAll(Why reason, List<Runnable> signals) {
    for (PendingReply reply : new ArrayList<>(table.values())) {
      NotDeliveredException report = reason.of(reply.message);
      signals.add(() -> fail(reply, report));
    }
  }

  /** Holding the send lock: what was last handed to {@code link} and is still unanswered. */
  void addUnansweredOn(Link link, List<PendingReply> out) {
    for (PendingReply r : table.values()) if (r.sentOn == link) out.add(r);
  }

  /** True for the one caller that removed {@code reply}; that caller completes it. */
  private boolean take(PendingReply reply) {
    if (!table.remove(reply.id, reply)) return false;
    reply.timeout.dispose();
    outbound.remove(reply);
    return true;
  }
}
