package dev.lifeline.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState;
import dev.lifeline.Message;
import dev.lifeline.NotDeliveredException;
import dev.lifeline.Outbox;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.observers.TestObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real threads against the send path: several producers call {@code send} while another thread
 * plays OkHttp's writer and the network (writes frames, drops connections, opens new ones, lets
 * virtual time pass so drains and retries run), and the test finally calls {@code close()} while
 * the producers are still sending. Every message a producer got SENT or QUEUED for must end up
 * written on exactly one connection or reported exactly once, and each producer's messages must be
 * written in order on every connection. Bounded by counts (no sleeps); seeded for the network's
 * choices, with the seed in every failure message.
 */
class SendStressTest {
  private static final int PRODUCERS = 4;
  private static final int MESSAGES_PER_PRODUCER = 3_000;
  private static final int ROUNDS = 3;

  @Test
  @Timeout(120)
  void everyAcceptedMessageIsWrittenOnceOrReportedOnceWhileSendsRaceDrainsDropsAndClose()
      throws Exception {
    long base = Long.getLong("stress.seed", System.nanoTime());
    for (int round = 0; round < ROUNDS; round++) run(base + round);
  }

  private void run(long seed) throws Exception {
    String tag = "seed " + seed + " (replay: -Dstress.seed=" + seed + ")";
    Random random = new Random(seed);
    Harness h = new Harness();
    h.highWaterMark = 2_048; // small: the outbox is in the path all the time
    h.outbox = Outbox.bounded(200, 1 << 20);
    h.fakes.queueGrows = true;
    h.build();
    TestObserver<NotDeliveredException> undelivered = h.socket.undelivered().test();
    h.socket.connect();

    Map<String, SendResult> results = new ConcurrentHashMap<>();
    CountDownLatch start = new CountDownLatch(1);
    CountDownLatch halfway = new CountDownLatch(PRODUCERS);
    List<Thread> producers = new ArrayList<>();
    for (int p = 0; p < PRODUCERS; p++) {
      int producer = p;
      Thread t =
          new Thread(
              () -> {
                awaitQuietly(start);
                for (int i = 0; i < MESSAGES_PER_PRODUCER; i++) {
                  String m = producer + ":" + i;
                  results.put(m, h.socket.send(m));
                  if (i == MESSAGES_PER_PRODUCER / 2) halfway.countDown();
                }
              },
              "producer-" + p);
      producers.add(t);
      t.start();
    }

    AtomicBoolean closed = new AtomicBoolean();
    AtomicBoolean networkDone = new AtomicBoolean();
    Thread network =
        new Thread(
            () -> {
              awaitQuietly(start);
              int steps = 0;
              while (!networkDone.get() || steps < 2_000) {
                steps++;
                FakeWebSockets.FakeSocket fake = h.fakes.last();
                int action = random.nextInt(100);
                if (action < 3 && fake.opened && !fake.failed && !closed.get()) {
                  fake.drop(); // OkHttp's failure callback, no lock held
                } else if (!fake.opened && !fake.failed) {
                  fake.open();
                } else {
                  fake.writeFrames(1 + random.nextInt(8));
                }
                h.scheduler.advance(Duration.ofMillis(1 + random.nextInt(20)));
                if (steps > 200_000) break; // bounded, whatever happens
              }
            },
            "network");
    network.start();
    start.countDown();

    assertThat(halfway.await(60, TimeUnit.SECONDS)).as(tag).isTrue();
    h.socket.close(); // while the producers are still sending
    closed.set(true);
    for (Thread t : producers) t.join(TimeUnit.SECONDS.toMillis(60));
    networkDone.set(true);
    network.join(TimeUnit.SECONDS.toMillis(60));
    for (Thread t : producers) assertThat(t.isAlive()).as(tag + ": " + t.getName()).isFalse();
    assertThat(network.isAlive()).as(tag + ": network").isFalse();
    h.scheduler.advance(Duration.ofMinutes(1));

    assertThat(h.socket.state()).as(tag).isEqualTo(ConnectionState.CLOSED);
    undelivered.assertComplete();
    Map<String, Integer> outcomes = new HashMap<>();
    List<FakeWebSockets.FakeSocket> sockets;
    synchronized (h.fakes) {
      sockets = new ArrayList<>(h.fakes.created);
    }
    for (int k = 0; k < sockets.size(); k++) {
      int[] last = new int[PRODUCERS];
      java.util.Arrays.fill(last, -1);
      for (Object frame : sockets.get(k).written()) {
        String m = (String) frame;
        outcomes.merge(m, 1, Integer::sum);
        int producer = Integer.parseInt(m.substring(0, m.indexOf(':')));
        int i = Integer.parseInt(m.substring(m.indexOf(':') + 1));
        assertThat(i)
            .as(
                "%s: connection #%d wrote producer %d's messages out of order",
                tag, k + 1, producer)
            .isGreaterThan(last[producer]);
        last[producer] = i;
      }
    }
    for (NotDeliveredException u : undelivered.values()) {
      outcomes.merge(((Message.Text) u.message()).text(), 1, Integer::sum);
    }
    int accepted = 0;
    for (Map.Entry<String, SendResult> e : results.entrySet()) {
      int seen = outcomes.getOrDefault(e.getKey(), 0);
      if (e.getValue().isAccepted()) {
        accepted++;
        assertThat(seen)
            .as(
                "%s: %s was %s, then written or reported this many times",
                tag, e.getKey(), e.getValue())
            .isEqualTo(1);
      } else {
        assertThat(seen)
            .as("%s: %s was %s, yet it went out", tag, e.getKey(), e.getValue())
            .isZero();
      }
    }
    assertThat(accepted).as(tag + ": some sends were accepted").isPositive();
    assertThat(h.scheduler.pendingTasks()).as(tag + ": timers left after close()").isZero();
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
