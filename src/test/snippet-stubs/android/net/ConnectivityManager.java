package android.net;

/** Stand-in for Android's class of the same name, for the docs' snippets only. */
public class ConnectivityManager {
  public void registerDefaultNetworkCallback(NetworkCallback callback) {}

  public static class NetworkCallback {
    public void onAvailable(Network network) {}
  }
}
