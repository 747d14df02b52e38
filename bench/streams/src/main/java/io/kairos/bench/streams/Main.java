package io.kairos.bench.streams;

import java.io.File;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams comparison app of the benchmark: the trigger service's two shipped rules on
 * the Processor API, RocksDB state stores (changelogged, cached), num.stream.threads 2 by default.
 *
 *   java -jar kairos-streams-bench.jar --bootstrap 127.0.0.1:9092 --input <events topic>
 *     --output <triggers topic> --application-id <id> --state-dir <dir> --now <epoch ms>|live
 *     --schemas <dir of *.avsc> --trigger-schema-id <id> [--guarantee at_least_once|exactly_once_v2]
 *     [--threads 2] [--commit-interval-ms <Streams' default>] [--linger-ms <Streams' default, 100>]
 *     [--warmup-input <topic> --warmup-output <topic>]
 *
 * With a warm-up input, the same topology first runs over it in the same JVM under the
 * application id <id>-warmup until every partition is processed, and is closed; then the
 * measured run starts (the JIT is warm, as the bench's Kairos figures are after their warm-up).
 * `--now live` runs on the wall clock, as a live trigger service does (the latency rows); a
 * number is the frozen clock of a replayed input (the throughput figures).
 *
 * Stdout, one line each: "WARMED <ms>" (warm-up done), "READY <ms>" (start() called), "RUNNING
 * <ms> <records processed so far>" (every stream thread has its tasks; again after each
 * rebalance), "REBALANCING <ms>" (each time the group rebalances), "FIRST_RECORD <ms>", "CAUGHT_UP <ms> <counts>"
 * (every partition processed up to the log end read at start-up), "ERROR <text>"; "STOPPED
 * <counts>" on SIGTERM. The bench times it from these lines and the group's committed offsets
 * (bench/streams.ts).
 */
public final class Main {
  private Main() {}

  private static volatile Map<TopicPartition, OffsetSpec> watched = Map.of();

  public static void main(String[] args) throws Exception {
    // slf4j-simple to stderr: warnings and errors only (the bench keeps stderr for its error message).
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    Settings s = Settings.parse(args);
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap);
    Admin admin = Admin.create(ap);

    // The input's log ends, as the trigger service reads them every tick: a partition read up to
    // its end is caught up, and its timers are due by the clock.
    Thread watcher = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          Thread.sleep(s.tickMs);
          admin.listOffsets(watched).all().get().forEach((tp, info) -> Progress.setEndOffset(tp.partition(), info.offset()));
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          System.out.println("WARN could not read the log ends: " + e);
        }
      }
    }, "log-ends");
    watcher.setDaemon(true);
    watcher.start();

    if (s.warmupInput != null) {
      Progress.announce = false;
      watch(admin, s.warmupInput);
      KafkaStreams warm = new KafkaStreams(topology(s, s.warmupInput, s.warmupOutput), properties(s, s.applicationId + "-warmup", new File(s.stateDir, "warmup").getPath()));
      warm.start();
      while (!Progress.caughtUp()) {
        if (warm.state() == KafkaStreams.State.ERROR || warm.state() == KafkaStreams.State.NOT_RUNNING) throw new IllegalStateException("the warm-up run failed");
        Thread.sleep(20);
      }
      warm.close(new KafkaStreams.CloseOptions().timeout(Duration.ofSeconds(30)).leaveGroup(true));
      warm.cleanUp();
      Progress.reset();
      Progress.announce = true;
      System.out.println("WARMED " + System.currentTimeMillis());
    }

    watch(admin, s.input);
    KafkaStreams streams = new KafkaStreams(topology(s, s.input, s.output), properties(s, s.applicationId, new File(s.stateDir, "run").getPath()));
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      // With the records processed before it: a thread may start on its tasks before the other has its own.
      if (now == KafkaStreams.State.RUNNING) System.out.println("RUNNING " + System.currentTimeMillis() + " " + Progress.processedCount());
      if (now == KafkaStreams.State.REBALANCING) System.out.println("REBALANCING " + System.currentTimeMillis());
      if (now == KafkaStreams.State.ERROR) {
        System.out.println("ERROR stream threads died");
        stopped.countDown();
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.out.println("ERROR " + e);
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      watcher.interrupt();
      // Leaving the group lets the bench delete it at once (Streams' members otherwise stay until their session times out).
      streams.close(new KafkaStreams.CloseOptions().timeout(Duration.ofSeconds(30)).leaveGroup(true));
      admin.close(Duration.ofSeconds(5));
      System.out.println("STOPPED " + Progress.summary());
      System.out.flush();
    }));
    streams.start();
    System.out.println("READY " + System.currentTimeMillis());
    stopped.await();
    System.exit(1);
  }

  /** Reads the topic's log ends now (the start-up ends of CAUGHT_UP) and has the watcher follow it. */
  private static void watch(Admin admin, String topic) throws Exception {
    TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
    Map<TopicPartition, OffsetSpec> latest = description.partitions().stream()
        .collect(Collectors.toMap(tp -> new TopicPartition(topic, tp.partition()), tp -> OffsetSpec.latest()));
    Map<Integer, Long> ends = new HashMap<>();
    admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp.partition(), info.offset()));
    Progress.startEnds(ends);
    watched = latest;
  }

  private static Topology topology(Settings s, String input, String output) {
    Topology topology = new Topology();
    topology.addSource("events", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), input);
    topology.addProcessor("triggers", () -> new TriggerProcessor(s), "events");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TriggerProcessor.STATE_STORE), Serdes.String(), Serdes.ByteArray()).withCachingEnabled(),
        "triggers");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TriggerProcessor.TIMER_STORE), Serdes.Bytes(), Serdes.ByteArray()).withCachingEnabled(),
        "triggers");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TriggerProcessor.META_STORE), Serdes.String(), Serdes.Long()).withCachingEnabled(),
        "triggers");
    topology.addSink("out", output, Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(), "triggers");
    return topology;
  }

  private static Properties properties(Settings s, String applicationId, String stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, s.threads);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, s.guarantee);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    if (s.commitIntervalMs != null) p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, s.commitIntervalMs);
    if (s.lingerMs != null) p.put(StreamsConfig.producerPrefix("linger.ms"), s.lingerMs.intValue());
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    return p;
  }
}
