package dev.lifeline.internal;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState;
import dev.lifeline.Heartbeat;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Lifeline starts no thread of its own and leaves no timer behind, however often it reconnects. */
class NoLeakTest {

  @Test
  void aThousandReconnectCyclesStartNoThreadAndLeaveNoTimer() {
    Harness h = new Harness();
    h.heartbeat = Heartbeat.application(ofSeconds(15), ofSeconds(10), "ping", "pong");
    Set<Thread> before = Thread.getAllStackTraces().keySet();
    h.build();
    h.socket.connect();
    for (int i = 0; i < 1_000; i++) {
      FakeWebSockets.FakeSocket fake = h.fakes.last().open();
      fake.receive("hello");
      h.advance(ofSeconds(6)); // healthy: the budget comes back every time
      fake.drop();
      h.advance(h.waiting().delay());
    }
    h.socket.close();

    assertThat(h.fakes.count()).isEqualTo(1_001);
    assertThat(h.socket.state()).isEqualTo(ConnectionState.CLOSED);
    assertThat(h.scheduler.pendingTasks()).isZero();
    Set<String> started =
        Thread.getAllStackTraces().keySet().stream()
            .filter(t -> !before.contains(t))
            .map(Thread::getName)
            .collect(Collectors.toSet());
    assertThat(started).isEmpty();
  }
}
