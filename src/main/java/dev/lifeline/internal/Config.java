package dev.lifeline.internal;

import dev.lifeline.Heartbeat;
import dev.lifeline.Outbox;
import dev.lifeline.RetryPolicy;
import dev.lifeline.Session;
import io.reactivex.rxjava3.core.Completable;
import io.reactivex.rxjava3.core.Scheduler;
import java.time.Duration;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.jspecify.annotations.Nullable;

/** A socket's validated configuration, as the public builder hands it over. */
public record Config(
    Supplier<Request> requests,
    OkHttpClient client,
    Scheduler scheduler,
    Heartbeat heartbeat,
    RetryPolicy retryPolicy,
    Predicate<? super Throwable> retryIf,
    Duration retryAfterCeiling,
    Duration stableAfter,
    Duration attemptTimeout,
    @Nullable Function<? super Session, ? extends Completable> onReady,
    Random random,
    int sendBufferSize,
    Outbox outbox,
    long highWaterMark) {}
