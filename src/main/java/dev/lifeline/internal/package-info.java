/**
 * Lifeline's implementation. Not API: these classes are public only for Java's sake and may change
 * in any release.
 */
@NullMarked
package dev.lifeline.internal;

import org.jspecify.annotations.NullMarked;
