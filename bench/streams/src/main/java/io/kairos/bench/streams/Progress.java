package io.kairos.bench.streams;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters shared by the tasks, the input's log ends (read by Main's watcher), printed as lines on stdout. */
final class Progress {
  private static final AtomicLong FIRST_RECORD_AT = new AtomicLong();
  private static final LongAdder PROCESSED = new LongAdder();
  private static final LongAdder TRIGGERS = new LongAdder();
  private static final LongAdder DEAD = new LongAdder();
  private static final Map<Integer, Long> END_OFFSETS = new ConcurrentHashMap<>();
  /** Partitions whose records up to the log end read at start-up are processed. */
  private static final Map<Integer, Boolean> CAUGHT_UP = new ConcurrentHashMap<>();
  private static final Map<Integer, Long> START_ENDS = new ConcurrentHashMap<>();
  private static final AtomicLong CAUGHT_UP_AT = new AtomicLong();
  private static volatile int partitions = -1;
  /** False during a warm-up run: its lines would be taken for the measured run's. */
  static volatile boolean announce = true;

  private Progress() {}

  static void firstRecord() {
    if (FIRST_RECORD_AT.get() == 0 && FIRST_RECORD_AT.compareAndSet(0, System.currentTimeMillis())) {
      if (announce) System.out.println("FIRST_RECORD " + FIRST_RECORD_AT.get());
    }
  }

  static long processedCount() {
    return PROCESSED.sum();
  }

  static void processed() {
    PROCESSED.increment();
  }

  static void triggered() {
    TRIGGERS.increment();
  }

  static void deadLettered() {
    DEAD.increment();
  }

  static Long endOffset(int partition) {
    return END_OFFSETS.get(partition);
  }

  static void setEndOffset(int partition, long end) {
    END_OFFSETS.put(partition, end);
  }

  /** The input's partition count and their log ends at start-up; a partition with no record is caught up already. */
  static void startEnds(Map<Integer, Long> ends) {
    reset();
    END_OFFSETS.putAll(ends);
    START_ENDS.putAll(ends);
    ends.forEach((partition, end) -> {
      if (end == 0) CAUGHT_UP.put(partition, true);
    });
    partitions = ends.size();
  }

  /**
   * Called by a task after each record; true once, when the partition reached the log end read
   * at start-up. Prints "CAUGHT_UP <ms>" once every partition has.
   */
  static boolean offsetProcessed(int partition, long offset) {
    Long end = START_ENDS.get(partition);
    if (end == null || offset + 1 < end || CAUGHT_UP.containsKey(partition)) return false;
    CAUGHT_UP.put(partition, true);
    if (CAUGHT_UP.size() == partitions && CAUGHT_UP_AT.compareAndSet(0, System.currentTimeMillis())) {
      if (announce) System.out.println("CAUGHT_UP " + CAUGHT_UP_AT.get() + " " + summary());
    }
    return true;
  }

  /** True once every partition of the current run reached its start-up log end. */
  static boolean caughtUp() {
    return CAUGHT_UP_AT.get() != 0;
  }

  /** Forgets the warm-up run, so the measured run reports its own lines and counts. */
  static void reset() {
    FIRST_RECORD_AT.set(0);
    CAUGHT_UP_AT.set(0);
    CAUGHT_UP.clear();
    START_ENDS.clear();
    END_OFFSETS.clear();
    PROCESSED.reset();
    TRIGGERS.reset();
    DEAD.reset();
  }

  static String summary() {
    return "processed=" + PROCESSED.sum() + " triggers=" + TRIGGERS.sum() + " dead_lettered=" + DEAD.sum();
  }
}
