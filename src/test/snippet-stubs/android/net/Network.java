package android.net;

/** Stand-in for Android's class of the same name, for the docs' snippets only. */
public class Network {}
