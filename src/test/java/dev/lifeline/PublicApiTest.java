package dev.lifeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Guards the public API: the public and protected surface of {@code dev.lifeline}, rendered as
 * text, must equal {@code api/lifeline.api}. A change to the public API is then a deliberate,
 * visible diff of that file. To accept a change, run
 *
 * <pre>mvn -B test -Dtest=PublicApiTest -Dlifeline.updateApi=true</pre>
 *
 * and commit the updated file with the change.
 */
class PublicApiTest {
  private static final Path API_FILE = Paths.get("api", "lifeline.api");

  @Test
  void thePublicApiIsTheCheckedInOne() throws Exception {
    String actual = render();
    if (Boolean.getBoolean("lifeline.updateApi")) {
      Files.createDirectories(API_FILE.getParent());
      Files.writeString(API_FILE, actual, StandardCharsets.UTF_8);
    }
    String expected =
        Files.exists(API_FILE) ? Files.readString(API_FILE, StandardCharsets.UTF_8) : "";
    assertThat(actual)
        .as(
            "the public API changed; if that is intended, run"
                + " `mvn -B test -Dtest=PublicApiTest -Dlifeline.updateApi=true` and commit api/lifeline.api")
        .isEqualTo(expected);
  }

  @Test
  void internalTypesNeverLeakIntoThePublicApi() throws Exception {
    assertThat(render())
        .as("a public signature names dev.lifeline.internal")
        .doesNotContain("dev.lifeline.internal.");
  }

  static String render() throws IOException, URISyntaxException, ClassNotFoundException {
    Path dir =
        Paths.get(ReconnectingSocket.class.getResource("ReconnectingSocket.class").toURI())
            .getParent();
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.sorted().collect(Collectors.toList())) {
        String file = f.getFileName().toString();
        if (!file.endsWith(".class") || file.equals("package-info.class")) continue;
        Class<?> type = Class.forName("dev.lifeline." + file.substring(0, file.length() - 6));
        if (isVisible(type)) types.add(type);
      }
    }
    types.sort(Comparator.comparing(Class::getName));
    StringBuilder out = new StringBuilder();
    for (Class<?> type : types) {
      out.append(describe(type)).append('\n');
      List<String> members = new ArrayList<>();
      for (Field f : type.getDeclaredFields()) {
        if (isVisible(f.getModifiers()) && !f.isSynthetic()) {
          members.add(
              ("  field "
                      + Modifier.toString(f.getModifiers())
                      + " "
                      + f.getGenericType().getTypeName()
                      + " "
                      + f.getName())
                  .replace('$', '.'));
        }
      }
      for (Constructor<?> c : type.getDeclaredConstructors()) {
        if (isVisible(c.getModifiers()) && !c.isSynthetic()) members.add("  " + signature(c));
      }
      for (Method m : type.getDeclaredMethods()) {
        if (isVisible(m.getModifiers()) && !m.isSynthetic() && !m.isBridge())
          members.add("  " + signature(m));
      }
      members.sort(null);
      members.forEach(m -> out.append(m).append('\n'));
    }
    return out.toString();
  }

  private static boolean isVisible(Class<?> type) {
    for (Class<?> t = type; t != null; t = t.getDeclaringClass()) {
      if (!isVisible(t.getModifiers()) || t.isSynthetic() || t.isAnonymousClass()) return false;
    }
    return true;
  }

  private static boolean isVisible(int modifiers) {
    return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
  }

  private static String describe(Class<?> type) {
    String kind =
        type.isRecord()
            ? "record"
            : type.isEnum() ? "enum" : type.isInterface() ? "interface" : "class";
    int modifiers = type.getModifiers() & ~Modifier.INTERFACE;
    StringBuilder s = new StringBuilder(Modifier.toString(modifiers));
    if (type.isSealed()) s.append(" sealed");
    s.append(' ').append(kind).append(' ').append(type.getName().replace('$', '.'));
    if (type.getGenericSuperclass() != null
        && type.getSuperclass() != Object.class
        && !type.isEnum()
        && !type.isRecord()) {
      s.append(" extends ").append(type.getGenericSuperclass().getTypeName().replace('$', '.'));
    }
    if (type.getGenericInterfaces().length > 0) {
      s.append(type.isInterface() ? " extends " : " implements ")
          .append(
              Arrays.stream(type.getGenericInterfaces())
                  .map(t -> t.getTypeName().replace('$', '.'))
                  .collect(Collectors.joining(", ")));
    }
    return s.toString().trim();
  }

  private static String signature(Executable e) {
    return e.toGenericString().replace('$', '.');
  }
}
