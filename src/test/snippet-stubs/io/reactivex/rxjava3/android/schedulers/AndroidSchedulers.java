package io.reactivex.rxjava3.android.schedulers;

import io.reactivex.rxjava3.core.Scheduler;

/** Stand-in for RxAndroid's class of the same name, for the docs' snippets only. */
public final class AndroidSchedulers {
  private AndroidSchedulers() {}

  public static Scheduler mainThread() {
    throw new UnsupportedOperationException("a stand-in");
  }
}
