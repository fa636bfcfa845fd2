package dev.lifeline.internal;

import dev.lifeline.ReconnectingSocket;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The one way from a {@link ReconnectingSocket.Builder} to its {@link Config}, for code in this
 * package that makes sockets with its own transport (the tests' fake WebSockets): the builder
 * validates and fills in defaults in one place, and nothing else lists the configuration's fields.
 * The builder installs it when its class is initialized.
 */
public final class BuilderAccess {
  private static volatile @Nullable Function<ReconnectingSocket.Builder, Config> configOf;

  private BuilderAccess() {}

  /** Called once, by the builder's class initializer. */
  public static void install(Function<ReconnectingSocket.Builder, Config> access) {
    if (configOf == null) configOf = Objects.requireNonNull(access, "access");
  }

  /** The validated configuration {@code builder} would build a socket with. */
  public static Config configOf(ReconnectingSocket.Builder builder) {
    Function<ReconnectingSocket.Builder, Config> access = configOf;
    if (access == null) throw new IllegalStateException("the builder did not install its access");
    return access.apply(builder);
  }
}
