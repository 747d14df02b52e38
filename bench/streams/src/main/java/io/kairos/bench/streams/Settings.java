package io.kairos.bench.streams;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** The app's command line: --name value pairs (see Main). */
final class Settings {
  String bootstrap;
  String input;
  String output;
  String applicationId;
  String stateDir;
  String guarantee = "at_least_once";
  int threads = 2;
  /** The service clock: a frozen epoch ms (--now <ms>), or the wall clock (--now live). */
  private long frozenNow;
  boolean live;
  Path schemas;
  int triggerSchemaId;
  /** Optional: a topic the same topology runs over first, in the same JVM (see Main). */
  String warmupInput;
  String warmupOutput;
  long maxClockSkewMs = 5 * 60_000L;
  long tickMs = 1000;
  /** null: Kafka Streams' default (30 s at_least_once, 100 ms exactly_once_v2). */
  Long commitIntervalMs;
  /** null: Kafka Streams' default for its producer (100 ms). */
  Long lingerMs;

  /** The service clock: the frozen time, or the wall clock's now. */
  long now() {
    return live ? System.currentTimeMillis() : frozenNow;
  }

  static Settings parse(String[] args) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
      a.put(args[i].substring(2), args[i + 1]);
    }
    Settings s = new Settings();
    s.bootstrap = need(a, "bootstrap");
    s.input = need(a, "input");
    s.output = need(a, "output");
    s.applicationId = need(a, "application-id");
    s.stateDir = need(a, "state-dir");
    s.guarantee = a.getOrDefault("guarantee", s.guarantee);
    if (!s.guarantee.equals("at_least_once") && !s.guarantee.equals("exactly_once_v2")) {
      throw new IllegalArgumentException("--guarantee must be at_least_once or exactly_once_v2");
    }
    s.threads = Integer.parseInt(a.getOrDefault("threads", "2"));
    String now = need(a, "now");
    s.live = now.equals("live");
    if (!s.live) s.frozenNow = number(now, "--now", "an epoch time in ms, or live for the wall clock");
    s.schemas = Path.of(need(a, "schemas"));
    s.triggerSchemaId = Integer.parseInt(need(a, "trigger-schema-id"));
    s.warmupInput = a.get("warmup-input");
    s.warmupOutput = a.get("warmup-output");
    if ((s.warmupInput == null) != (s.warmupOutput == null)) throw new IllegalArgumentException("--warmup-input and --warmup-output go together");
    if (a.containsKey("commit-interval-ms")) s.commitIntervalMs = Long.parseLong(a.get("commit-interval-ms"));
    if (a.containsKey("linger-ms")) s.lingerMs = number(a.get("linger-ms"), "--linger-ms", "a whole number of ms, 0 or more");
    if (s.lingerMs != null && s.lingerMs < 0) throw new IllegalArgumentException("--linger-ms got " + s.lingerMs + "; expected a whole number of ms, 0 or more");
    return s;
  }

  private static long number(String value, String flag, String expected) {
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " got " + value + "; expected " + expected);
    }
  }

  private static String need(Map<String, String> a, String name) {
    String v = a.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }
}
