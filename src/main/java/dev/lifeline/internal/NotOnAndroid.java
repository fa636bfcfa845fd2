package dev.lifeline.internal;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a method that uses JDK API Android lacks and that Android never calls: the build's Android
 * API check (animal-sniffer) skips it. Say why at each use.
 */
@Retention(RetentionPolicy.CLASS)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR})
public @interface NotOnAndroid {}
