package dev.lifeline.fault;

import static dev.lifeline.fault.StateLog.millisBetween;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeline.ConnectionState.Connected;
import dev.lifeline.ConnectionState.Failed;
import dev.lifeline.ConnectionState.WaitingToReconnect;
import dev.lifeline.HeartbeatTimeoutException;
import dev.lifeline.Message;
import dev.lifeline.ReconnectingSocket;
import dev.lifeline.Replies;
import dev.lifeline.SendResult;
import io.reactivex.rxjava3.core.Completable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.WebSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenario 6: a reconnect storm. The proxy kills every connection every 2 s (alternately with a FIN
 * and a reset) while the server pushes a numbered event every 50 ms and the client sends, every 50
 * ms, a numbered plain message and a numbered acknowledged one. A reliable client never gives up:
 * each connection lives longer than {@code stableAfter} (1 s), so it proves healthy and the next
 * drop starts again at retry 1, whatever the budget (5) is.
 *
 * <p>What must hold, per the delivery guarantees in the README:
 *
 * <ul>
 *   <li>client → server, plain: every message sent while disconnected ({@code QUEUED}) arrives;
 *       none arrives twice or out of order. A message {@code SENT} into a connection that then died
 *       may be lost (at most once): those are counted, not forbidden;
 *   <li>client → server, acknowledged: every one is acknowledged, and each reaches the server, in
 *       order of first arrival (a resend after a cut may repeat one: at least once);
 *   <li>server → client: events arrive in order, never twice. Events the server pushes while no
 *       connection is open are the server application's to keep (they are counted as lost).
 * </ul>
 */
class ReconnectStormTest {
  private static final Duration CUT_EVERY = ofSeconds(2);
  private static final Duration PUSH_EVERY = ofMillis(50);
  private static final Duration STABLE_AFTER = ofSeconds(1);
  private static final int MAX_RETRIES = 5;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final ServerSide serverSide = new ServerSide();
  private final ScheduledExecutorService timer =
      Executors.newScheduledThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "storm-timer");
            t.setDaemon(true);
            return t;
          });
  private FaultProxy proxy;
  private ReconnectingSocket socket;
  private Replies replies;

  @BeforeEach
  void start() throws Exception {
    serverSide.serveOn(server);
    proxy = FaultProxy.start(server.getSocketAddress());
    socket =
        Fixtures.socketThrough(proxy, "/storm")
            .retryPolicy(Fixtures.fastBackoff().maxRetries(MAX_RETRIES))
            .stableAfter(STABLE_AFTER)
            .build();
    replies = socket.replies(Fixtures.acknowledgements());
  }

  /** The client application's sending loop: one thread, so its last run can be awaited. */
  private final ScheduledExecutorService sender =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "storm-sender");
            t.setDaemon(true);
            return t;
          });

  @AfterEach
  void closeAll() {
    timer.shutdownNow();
    sender.shutdownNow();
    if (socket != null) socket.close();
    if (proxy != null) proxy.close();
  }

  @Test
  @Timeout(60)
  void aTwentySecondStormOfCutsNeverExhaustsTheBudget() throws Exception {
    storm(10);
  }

  @Test
  @Tag("soak")
  @Timeout(150)
  void aOneMinuteStormOfCutsNeverExhaustsTheBudget() throws Exception {
    storm(30);
  }

  private void storm(int cuts) throws Exception {
    StateLog log = StateLog.of(socket);
    Recorded<Long> received =
        Recorded.of(
            socket
                .messages()
                .ofType(Message.Text.class)
                .map(Message.Text::text)
                .filter(t -> t.startsWith("event:"))
                .map(t -> Long.parseLong(t.substring("event:".length()))));
    socket.connect();
    log.await(Connected.class, ofSeconds(10));

    // The server's application: a numbered event every 50 ms to whichever connection is open.
    AtomicLong pushed = new AtomicLong();
    AtomicLong written = new AtomicLong(); // accepted by an open server-side connection
    AtomicLong lastWritten = new AtomicLong();
    ScheduledFuture<?> pushing =
        timer.scheduleAtFixedRate(
            () -> {
              long n = pushed.incrementAndGet();
              WebSocket ws = serverSide.current();
              if (ws != null && ws.send("event:" + n)) {
                written.incrementAndGet();
                lastWritten.set(n);
              }
            },
            0,
            PUSH_EVERY.toMillis(),
            MILLISECONDS);

    // The client's application: every 50 ms a numbered plain message and an acknowledged one.
    Map<Long, SendResult> plainResults = new ConcurrentHashMap<>();
    List<Completable> acks = new CopyOnWriteArrayList<>();
    AtomicLong sent = new AtomicLong();
    ScheduledFuture<?> sending =
        sender.scheduleAtFixedRate(
            () -> {
              long n = sent.incrementAndGet();
              plainResults.put(n, socket.send("c:" + n));
              Completable ack = replies.sendAcknowledged(Message.text("req:" + n)).cache();
              ack.subscribe(() -> {}, e -> {});
              acks.add(ack);
            },
            0,
            PUSH_EVERY.toMillis(),
            MILLISECONDS);

    // The storm: every 2 s the proxy kills every connection, alternately with FIN and RST.
    long stormStart = System.nanoTime();
    List<CompletableFuture<Long>> cutAt = new ArrayList<>();
    for (int i = 1; i <= cuts; i++) {
      boolean fin = i % 2 == 1;
      CompletableFuture<Long> done = new CompletableFuture<>();
      cutAt.add(done);
      timer.schedule(
          () -> {
            long at = System.nanoTime(); // before the cut: the client may see it before it returns
            if (fin) proxy.cutWithFin();
            else proxy.cutWithRst();
            done.complete(at);
          },
          stormStart + i * CUT_EVERY.toNanos() - System.nanoTime(),
          NANOSECONDS);
    }
    long lastCut = cutAt.get(cuts - 1).get(cuts * CUT_EVERY.toSeconds() + 10, SECONDS);

    // After the last cut: connected again, and events flow on the new connection.
    int afterLastCut = (int) log.seen().stream().filter(s -> s.nanos() <= lastCut).count();
    log.awaitFrom(afterLastCut, Connected.class, ofSeconds(10));
    long target = pushed.get() + 5;
    received.awaitMatching(n -> n >= target, ofSeconds(10));
    pushing.cancel(false);
    sending.cancel(false);
    sender.submit(() -> {}).get(5, SECONDS); // the sending loop's last run has finished
    long lastOnHealthyConnection = lastWritten.get();
    received.awaitMatching(n -> n >= lastOnHealthyConnection, ofSeconds(5));
    var allAcknowledged = Completable.merge(acks).test();
    allAcknowledged.await(10, SECONDS);
    allAcknowledged.assertComplete();
    socket.send("c:end"); // on the healthy connection: once it arrives, everything before it has
    List<String> fromClient = serverSide.awaitFromClient("c:end", 10);
    socket.close();
    log.awaitComplete(ofSeconds(5));

    List<WaitingToReconnect> waits = log.all(WaitingToReconnect.class);
    List<Long> numbers =
        received.all().stream().map(Recorded.At::value).collect(Collectors.toList());
    long duplicates = numbers.size() - numbers.stream().distinct().count();

    assertThat(log.all(Failed.class)).as("gave up during the storm").isEmpty();
    assertThat(waits).as("one drop per cut").hasSize(cuts);
    assertThat(waits)
        .as("every drop starts a fresh outage: each connection proved healthy")
        .allSatisfy(w -> assertThat(w.retry()).isEqualTo(1));
    assertThat(waits)
        .extracting(WaitingToReconnect::cause)
        .noneMatch(
            HeartbeatTimeoutException.class::isInstance); // a cut is seen at once, not by silence
    assertThat(log.all(Connected.class)).hasSize(cuts + 1);
    assertThat(numbers).as("received in order").isSorted();
    assertThat(duplicates).isZero();
    assertThat(numbers).contains(lastOnHealthyConnection);

    // Client → server, plain: what was queued while disconnected all arrived, once, in order.
    List<Long> plain = numbered(fromClient, "c:");
    long sentCount = sent.get();
    List<Long> queued =
        plainResults.entrySet().stream()
            .filter(e -> e.getValue() == SendResult.QUEUED)
            .map(Map.Entry::getKey)
            .sorted()
            .collect(Collectors.toList());
    assertThat(plainResults.values())
        .as("every plain send was accepted")
        .allMatch(r -> r == SendResult.SENT || r == SendResult.QUEUED);
    assertThat(queued).as("plain sends made while disconnected").isNotEmpty();
    assertThat(plain).as("plain messages at the server: in order, none twice").isSorted();
    assertThat(plain).doesNotHaveDuplicates();
    assertThat(plain).as("0 lost while disconnected").containsAll(queued);
    long plainLost = sentCount - plain.size();

    // Client → server, acknowledged: every one arrived; first arrivals in order.
    List<Long> requests = numbered(fromClient, "req:");
    List<Long> firstArrivals = requests.stream().distinct().collect(Collectors.toList());
    assertThat(firstArrivals)
        .as("acknowledged messages at the server, first arrivals: all, in order")
        .hasSize((int) sentCount)
        .isSorted();

    // Per cut: cut → WaitingToReconnect (detection) and → Connected (back).
    List<Long> detectMs = new ArrayList<>();
    List<Long> backMs = new ArrayList<>();
    List<StateLog.Seen> seen = log.seen();
    for (CompletableFuture<Long> cut : cutAt) {
      long at = cut.get();
      seen.stream()
          .filter(s -> s.nanos() >= at && s.state() instanceof WaitingToReconnect)
          .findFirst()
          .ifPresent(s -> detectMs.add(millisBetween(at, s.nanos())));
      seen.stream()
          .filter(s -> s.nanos() >= at && s.state() instanceof Connected)
          .findFirst()
          .ifPresent(s -> backMs.add(millisBetween(at, s.nanos())));
    }
    long lost = written.get() - numbers.size();
    ScenarioReport.row("6. storm: " + cuts + " cuts every 2 s, events every 50 ms")
        .detection("max " + max(detectMs) + " ms after a cut " + detectMs)
        .reconnect("max " + max(backMs) + " ms after a cut " + backMs)
        .handshakes(server.getRequestCount())
        .messages(
            "server→client",
            pushed.get(),
            numbers.size(),
            pushed.get() - numbers.size(),
            duplicates)
        .messages("client→server plain", sentCount, plain.size(), plainLost, 0)
        .messages(
            "acknowledged",
            sentCount,
            firstArrivals.size(),
            0,
            requests.size() - firstArrivals.size())
        .note(
            "all %d drops at attempt 1, never Failed; server→client lost: %d pushed with no open"
                + " connection, %d written into a connection that then died; client→server plain:"
                + " %d queued while disconnected, all delivered; %d SENT into a dying connection"
                + " were lost; acknowledged duplicates are resends after a cut",
            waits.size(), pushed.get() - written.get(), lost, queued.size(), plainLost)
        .write();
  }

  /** The numbers of the texts that start with {@code prefix}, in arrival order. */
  private static List<Long> numbered(List<String> texts, String prefix) {
    return texts.stream()
        .filter(t -> t.startsWith(prefix) && !t.equals(prefix + "end"))
        .map(t -> Long.parseLong(t.substring(prefix.length())))
        .collect(Collectors.toList());
  }

  private static long max(List<Long> values) {
    return values.stream().mapToLong(Long::longValue).max().orElse(-1);
  }
}
