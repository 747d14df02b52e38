package io.kairos.bench.streams;

import java.time.Duration;
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
 *     --output <triggers topic> --application-id <id> --state-dir <dir> --now <epoch ms>
 *     --schemas <dir of *.avsc> --trigger-schema-id <id> [--guarantee at_least_once|exactly_once_v2]
 *     [--threads 2] [--commit-interval-ms <Streams' default>]
 *
 * Stdout, one line each: "READY <ms>" (topology built, log ends read, start() called),
 * "RUNNING <ms>" (every stream thread has its tasks), "FIRST_RECORD <ms>", "CAUGHT_UP <ms> <counts>"
 * (every partition processed up to the log end read at start-up), "ERROR <text>";
 * "STOPPED <summary>" on SIGTERM. The bench times it from these lines and the group's
 * committed offsets (bench/streams.ts).
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    // slf4j-simple to stderr: warnings and errors only (the bench keeps stderr in its log).
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    Settings s = Settings.parse(args);
    Topology topology = new Topology();
    topology.addSource("events", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), s.input);
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
    topology.addSink("out", s.output, Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(), "triggers");

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, s.applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, s.threads);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, s.guarantee);
    p.put(StreamsConfig.STATE_DIR_CONFIG, s.stateDir);
    if (s.commitIntervalMs != null) p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, s.commitIntervalMs);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    // The input's log ends, as the trigger service reads them every tick: a partition read up to
    // its end is caught up, and its timers are due by the clock.
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap);
    Admin admin = Admin.create(ap);
    TopicDescription description = admin.describeTopics(List.of(s.input)).allTopicNames().get().get(s.input);
    Map<TopicPartition, OffsetSpec> latest = description.partitions().stream()
        .collect(Collectors.toMap(tp -> new TopicPartition(s.input, tp.partition()), tp -> OffsetSpec.latest()));
    Runnable readEnds = () -> {
      try {
        admin.listOffsets(latest).all().get().forEach((tp, info) -> Progress.setEndOffset(tp.partition(), info.offset()));
      } catch (Exception e) {
        System.out.println("WARN could not read the log ends: " + e);
      }
    };
    Map<Integer, Long> startEnds = new java.util.HashMap<>();
    admin.listOffsets(latest).all().get().forEach((tp, info) -> startEnds.put(tp.partition(), info.offset()));
    Progress.startEnds(startEnds);
    Thread watcher = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          Thread.sleep(s.tickMs);
        } catch (InterruptedException e) {
          return;
        }
        readEnds.run();
      }
    }, "log-ends");
    watcher.setDaemon(true);

    KafkaStreams streams = new KafkaStreams(topology, p);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.out.println("RUNNING " + System.currentTimeMillis());
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
      streams.close(Duration.ofSeconds(30));
      admin.close(Duration.ofSeconds(5));
      System.out.println("STOPPED " + Progress.summary());
      System.out.flush();
    }));
    watcher.start();
    streams.start();
    System.out.println("READY " + System.currentTimeMillis());
    stopped.await();
    System.exit(1);
  }
}
