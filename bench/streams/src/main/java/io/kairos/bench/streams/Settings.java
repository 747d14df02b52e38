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
    if (a.containsKey("threads")) s.threads = (int) bounded(a.get("threads"), "--threads", 1, 64, "a whole number of stream threads, 1 to 64");
    String now = need(a, "now");
    s.live = now.equals("live");
    if (!s.live) s.frozenNow = number(now, "--now", "an epoch time in ms, or live for the wall clock");
    s.schemas = Path.of(need(a, "schemas"));
    s.triggerSchemaId = (int) bounded(need(a, "trigger-schema-id"), "--trigger-schema-id", 1, Integer.MAX_VALUE, "the registry's id of the TriggerFired schema, 1 or more");
    s.warmupInput = a.get("warmup-input");
    s.warmupOutput = a.get("warmup-output");
    if ((s.warmupInput == null) != (s.warmupOutput == null)) throw new IllegalArgumentException("--warmup-input and --warmup-output go together");
    if (a.containsKey("commit-interval-ms")) s.commitIntervalMs = bounded(a.get("commit-interval-ms"), "--commit-interval-ms", 0, Long.MAX_VALUE, "a whole number of ms, 0 or more");
    if (a.containsKey("linger-ms")) s.lingerMs = bounded(a.get("linger-ms"), "--linger-ms", 0, Long.MAX_VALUE, "a whole number of ms, 0 or more");
    return s;
  }

  /** A whole number from min to max, or an error naming the flag, the value and what it expects. */
  private static long bounded(String value, String flag, long min, long max, String expected) {
    long n = number(value, flag, expected);
    if (n < min || n > max) throw new IllegalArgumentException(flag + " got " + value + "; expected " + expected);
    return n;
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
