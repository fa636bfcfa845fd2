/**
 * Lifeline's public API: {@link dev.lifeline.ReconnectingSocket} and the values it takes and gives.
 * Nothing here is null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.lifeline;

import org.jspecify.annotations.NullMarked;
