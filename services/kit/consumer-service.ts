import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { z } from 'zod';
import { AvroCodec, recordTypes, type SchemaName } from './codec';
import { bearerTokenVar, commonShape, durationVar, enumVar, envVar, groupIdVar, hostVar, intVar, invalid, loadConfig, runMain, stringVar, type CommonConfig } from './config';
import { ConsumerRunner, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CLOCK_SKEW_MS, metricsInstrumentation, type AnyTopicBinding, type BatchHandler } from './consumer-runner';
import { DEFAULT_HTTP_HOST, startHttpServer, type HttpServer, type RouteHandler } from './http';
import { assertSafeExposure, credentialsOf, type HttpAccessConfig } from './http-auth';
import { atStartWhenBrokerAnswers, brokerUnreachable, createIdempotentProducer, coPartitionedCount, createKafka } from './kafka';
import { shutdownOnSignals } from './lifecycle';
import { createLogger, type Logger } from './logger';
import { createMetrics, type KairosMetrics } from './metrics';
import { createRedis, ensureRedisReachable, type RedisClient } from './redis';
import { DEFAULT_PROBE_TIMEOUT_MS, HealthMonitor, type ReadinessCheck } from './health';
import { kafkaProbe, redisProbe, registryProbe } from './probes';
import { OUTPUT_GUARANTEES, OutboxRelay, RedisOutboxStore, type RelayHooks } from './outbox-relay';

/**
 * PARTITIONS_CONCURRENTLY of the segmenter and the trigger service. kafkajs fetches again only
 * once every batch of its last fetch returned, and each batch ends with its relay (under
 * exactly_once a Kafka transaction: five requests in series when this was measured, four since
 * the checkpoint goes out beside the records), so with 3 at a time a fetch
 * with all 12 partitions waited for four relays in a row. Measured (docs/benchmarks.md, "What limits each
 * figure"): exactly_once latency at 10,000 events/s p50 384 -> 236 ms, p99 737 -> 480 ms, at
 * 2,000 p50 about 185 -> 140 ms; at_least_once unchanged within the spread. The cost: the
 * segmenter's backlog throughput about 9% lower in alternating pairs (the trigger service's and
 * both together unchanged or higher); a deployment that only replays backlogs can set 3.
 */
export const STATEFUL_PARTITIONS_CONCURRENTLY = 12;

/** kafkajs's own fetch wait: with FETCH_MIN_BYTES 1 it only paces the fetches of an idle partition. */
export const DEFAULT_FETCH_MAX_WAIT_MS = 5000;

/**
 * RELAY_GATHER's default, for both guarantees: the longest a gather waits; it ends sooner once
 * every batch started meanwhile joined it or ended (OutboxRelay.expect). Measured (docs/benchmarks.md, "Gathering a fetch's
 * partitions into one transaction"): at 2,000 events/s exactly_once p99 92-104 ms without, 49-86
 * ms with 3 ms; at 10,000 events/s at_least_once p99 84-218 ms without, 73-117 ms with 3 ms.
 */
export const DEFAULT_RELAY_GATHER_MS = 3;

/**
 * The variables every consuming service reads, on top of the common ones, with its own
 * defaults for the HTTP port, the consumer group, the timer interval and how many partitions
 * it processes at once (3 unless given).
 */
export function consumerServiceShape(defaults: { httpPort: number; groupId: string; timerIntervalMs: number; partitionsConcurrently?: number }) {
  return {
    ...commonShape,
    // 0 lets the OS pick a free port (tests, several instances on one host).
    HTTP_PORT: intVar(0, 65535).default(defaults.httpPort),
    // Loopback unless set: any other address needs HTTP_AUTH_TOKEN (start-up fails without it).
    HTTP_HOST: hostVar().default(DEFAULT_HTTP_HOST),
    // Every route but /healthz and /readyz needs `Authorization: Bearer <token>` once set.
    HTTP_AUTH_TOKEN: bearerTokenVar(32).optional(),
    // Also accepted while HTTP_AUTH_TOKEN is rotated.
    HTTP_AUTH_TOKEN_PREVIOUS: bearerTokenVar(32).optional(),
    // Opens /metrics only, for a scraper that should not read customer data.
    METRICS_AUTH_TOKEN: bearerTokenVar(32).optional(),
    GROUP_ID: groupIdVar().default(defaults.groupId),
    TIMER_INTERVAL_MS: intVar(50, 60_000).default(defaults.timerIntervalMs),
    PARTITIONS_CONCURRENTLY: intVar(1, 64).default(defaults.partitionsConcurrently ?? 3),
    // Most bytes one fetch takes from a partition: bounds a batch (and what a crash replays).
    FETCH_MAX_BYTES_PER_PARTITION: intVar(1024, 64 * 1024 * 1024).default(1024 * 1024),
    // Kafka's fetch.min.bytes and fetch.max.wait.ms: the broker answers a fetch once this many
    // bytes are there or FETCH_MAX_WAIT passed. 1 byte answers at once (each record is handled
    // as soon as it lands); more gathers fewer, larger batches (fewer relay transactions and
    // commits, a lighter broker) for at most FETCH_MAX_WAIT of added latency.
    FETCH_MIN_BYTES: intVar(1, 64 * 1024 * 1024).default(1),
    // 10 ms to 10 s: shorter would have an idle consumer ask again and again, and kafkajs's
    // requests time out after 30 s, so a fetch must be answered well before.
    FETCH_MAX_WAIT: durationVar({ min: 10, max: 10_000 }).default(DEFAULT_FETCH_MAX_WAIT_MS),
    // How long the group waits for a silent member before giving its partitions away. The broker
    // accepts 6 s to 5 min (group.min/max.session.timeout.ms); shorter = faster failover.
    KAFKA_SESSION_TIMEOUT: durationVar().default(30_000),
    // A service that cannot reach Redis this long after starting exits (code 78) instead of idling.
    REDIS_CONNECT_TIMEOUT: durationVar().default(5000),
    // How long start-up waits for the broker (a broker restarting, a stack starting); then exit 78.
    KAFKA_CONNECT_TIMEOUT: durationVar().default(DEFAULT_CONNECT_TIMEOUT_MS),
    // An input's event time (occurred_at, updated_at, fired_at) further ahead of the service clock
    // than this is dead-lettered ('future-time'), not applied.
    MAX_CLOCK_SKEW: durationVar().default(DEFAULT_MAX_CLOCK_SKEW_MS),
    // exactly_once: output records are produced in Kafka transactions with the relay checkpoint, so a
    // read_committed reader sees each once, even across crashes. at_least_once: no transactions (lower
    // latency); a crash between produce and trim produces those records again (same ids).
    OUTPUT_GUARANTEE: enumVar(OUTPUT_GUARANTEES).default('exactly_once'),
    // The relay's transactionalId = <prefix>-<GROUP_ID>-<random id>, one per instance; unique per deployment sharing a cluster.
    KAFKA_TRANSACTIONAL_ID_PREFIX: stringVar({ pattern: /^[A-Za-z0-9._-]{1,255}$/, expected: 'up to 255 letters, digits, ".", "_" or "-", like kairos' }).default('kairos'),
    // A relay transaction left open by a dead owner blocks read_committed readers of its output
    // partitions until a new owner takes the partition or this much time passed.
    KAFKA_TRANSACTION_TIMEOUT: transactionTimeoutVar().default(30_000),
    // With no relay request in flight (a transaction, or at_least_once a shared send), how long
    // the next one waits for the other partitions of a fetch to join it (one per fetch, not two).
    RELAY_GATHER: durationVar({ max: 1000 }).default(DEFAULT_RELAY_GATHER_MS),
  };
}

/** A duration from 1 s to 15 min (the broker's default transaction.max.timeout.ms). */
function transactionTimeoutVar() {
  const duration = durationVar();
  return envVar({ expected: 'a duration from 1s to 15m, like 30s' }, (raw) => {
    const parsed = duration.safeParse(raw);
    if (!parsed.success) return invalid('is not a duration');
    return parsed.data >= 1000 && parsed.data <= 900_000 ? parsed.data : invalid('is out of range');
  });
}

/** The service's outbox relay (see outbox-relay.ts), with the guarantee and transaction settings of its config. */
export function createOutboxRelay(
  clients: Pick<ServiceClients, 'redis' | 'kafka' | 'producer' | 'admin' | 'logger' | 'metrics'>,
  config: Pick<ConsumerServiceConfig, 'OUTPUT_GUARANTEE' | 'GROUP_ID' | 'KAFKA_TRANSACTIONAL_ID_PREFIX' | 'KAFKA_TRANSACTION_TIMEOUT' | 'RELAY_GATHER'>,
  options: {
    outboxKey: (partition: number) => string;
    /** The partition's fence hash (PartitionProcessor) or state marker (renderer), for relays guarded by the state's incarnation. */
    fenceKey?: (partition: number) => string;
    /** The partition's timers, with a fence hash: the relay's checkpoints then record what the outbox covered (RelayCover). */
    timersKey?: (partition: number) => string;
    topic: string;
    generation?: () => number;
    hooks?: RelayHooks;
    /** Records per relay read (RELAY_CHUNK by default). */
    batchSize?: number;
  },
): OutboxRelay {
  return new OutboxRelay({
    // The cover is committed with exactly_once's checkpoints only: at_least_once does not read it.
    store: new RedisOutboxStore(clients.redis, options.outboxKey, options.fenceKey, config.OUTPUT_GUARANTEE === 'exactly_once' ? options.timersKey : undefined),
    guarantee: config.OUTPUT_GUARANTEE,
    kafka: clients.kafka,
    producer: clients.producer,
    admin: clients.admin,
    group: config.GROUP_ID,
    topic: options.topic,
    transactionalIdPrefix: config.KAFKA_TRANSACTIONAL_ID_PREFIX,
    transactionTimeoutMs: config.KAFKA_TRANSACTION_TIMEOUT,
    gatherMs: config.RELAY_GATHER,
    logger: clients.logger,
    metrics: clients.metrics,
    generation: options.generation,
    hooks: options.hooks,
    batchSize: options.batchSize,
  });
}

/** A member of the service's consumer group, with the fetch and session settings of its config. */
export function groupConsumer(kafka: Kafka, config: Pick<ConsumerServiceConfig, 'GROUP_ID' | 'FETCH_MAX_BYTES_PER_PARTITION' | 'FETCH_MIN_BYTES' | 'FETCH_MAX_WAIT' | 'KAFKA_SESSION_TIMEOUT'>): Consumer {
  return kafka.consumer({
    groupId: config.GROUP_ID,
    maxBytesPerPartition: config.FETCH_MAX_BYTES_PER_PARTITION,
    minBytes: config.FETCH_MIN_BYTES,
    maxWaitTimeInMs: config.FETCH_MAX_WAIT,
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT,
    // Kafka's advice: heartbeats at a third of the session timeout at most.
    heartbeatInterval: Math.max(1000, Math.floor(config.KAFKA_SESSION_TIMEOUT / 3)),
  });
}

/** Config every consuming service reads on top of the common variables (see consumerServiceShape). */
export type ConsumerServiceConfig = z.infer<z.ZodObject<ReturnType<typeof consumerServiceShape>>>;

/** The long-lived clients of one service process, created once and passed to its parts. */
export interface ServiceClients {
  name: string;
  logger: Logger;
  metrics: KairosMetrics;
  redis: RedisClient;
  kafka: Kafka;
  /** Kept connected while the service runs: topic metadata, the group's commits, log ends. */
  admin: Admin;
  /** Idempotent; carries the service's output and its dead letters. */
  producer: Producer;
  codec: AvroCodec;
  types: Record<SchemaName, Type>;
  clock: () => number;
}

/** Creates the clients a service needs (nothing connects until used or started). */
export function createServiceClients(
  name: string,
  config: CommonConfig,
  overrides: { clock?: () => number; logger?: Logger; secretKeys?: readonly string[] } = {},
): ServiceClients {
  const logger = overrides.logger ?? createLogger({ service: name, level: config.LOG_LEVEL, secretKeys: overrides.secretKeys });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? `kairos-${name}`, logger });
  return {
    name,
    logger,
    metrics: createMetrics(name),
    redis: createRedis(config, { connectionName: `kairos-${name}`, logger }),
    kafka,
    admin: kafka.admin(),
    producer: createIdempotentProducer(kafka),
    codec: AvroCodec.connect(config.SCHEMA_REGISTRY_URL),
    types: recordTypes(),
    clock: overrides.clock ?? Date.now,
  };
}

/** Work the service runs beside consuming (timers, relays), for the partitions it owns. */
export interface BackgroundWork {
  start(partitions: () => number[], intervalMs: number): void;
  stop(): Promise<void>;
  /** After the consumer stopped (batches in flight finished): releases what they used (relay producers). */
  close?(): Promise<void>;
}

export interface ConsumerService {
  http: HttpServer;
  runner: ConsumerRunner;
  /** Resolves if the consumer stops on an error that retrying cannot fix (the process should exit). */
  fatal: Promise<Error>;
  /** Partitions of the first input topic (all inputs are co-partitioned). */
  partitionCount(): number;
  /** Graceful stop: background work, then the batches in flight (committed), then the clients. */
  stop(): Promise<void>;
}

/**
 * Runs a consuming service: the group member with its DLQ path, the background work that
 * follows its partitions, and the operational HTTP server (plus the service's routes).
 */
export async function runConsumerService(
  clients: ServiceClients,
  options: {
    config: Pick<
      ConsumerServiceConfig,
      'GROUP_ID' | 'HTTP_PORT' | 'HTTP_HOST' | 'HTTP_AUTH_TOKEN' | 'HTTP_AUTH_TOKEN_PREVIOUS' | 'METRICS_AUTH_TOKEN' | 'DLQ_SUFFIX' | 'PARTITIONS_CONCURRENTLY' | 'FETCH_MAX_BYTES_PER_PARTITION' | 'FETCH_MIN_BYTES' | 'FETCH_MAX_WAIT' | 'KAFKA_SESSION_TIMEOUT' | 'TIMER_INTERVAL_MS' | 'MAX_CLOCK_SKEW' | 'KAFKA_CONNECT_TIMEOUT'
    > &
      Pick<ConsumerServiceConfig, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID' | 'SCHEMA_REGISTRY_URL' | 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_CONNECT_TIMEOUT'>;
    bindings: AnyTopicBinding[];
    handler: BatchHandler;
    background: BackgroundWork;
    routes?: (partitionCount: () => number) => Record<string, RouteHandler>;
    /** Extra fields for the "started" log line. */
    describe?: Record<string, unknown>;
    /** Conditions of the service's own that `/readyz` checks beside the group and the dependencies. */
    readinessChecks?: ReadinessCheck[];
    /** See ConsumerRunnerOptions.commitPastMarkers (default true: lag reaches 0 on transactional inputs). */
    commitPastMarkers?: boolean;
  },
): Promise<ConsumerService> {
  const { name, logger, metrics, kafka, admin, producer, codec, redis, clock } = clients;
  const { config, bindings, background } = options;
  let reportFatal: (error: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (reportFatal = resolve));
  // An exposed server without a token is a configuration error: say so before connecting anywhere.
  const credentials = credentialsOf(config);
  assertSafeExposure(config.HTTP_HOST, credentials);
  await ensureRedisReachable(redis, config, config.REDIS_CONNECT_TIMEOUT);
  // Start-up waits for the broker up to KAFKA_CONNECT_TIMEOUT, then exits 78 naming it.
  const brokerWait = { timeoutMs: config.KAFKA_CONNECT_TIMEOUT, logger, brokers: config.KAFKA_BROKERS };
  const untilKafkaAnswers = <T>(what: string, step: () => Promise<T>) => atStartWhenBrokerAnswers(what, step, brokerWait);
  // The inputs exist and are co-partitioned, or start-up stops here (exit 78) with nothing left connected.
  const partitions = await untilKafkaAnswers('topic metadata', async () => {
    await admin.connect();
    return coPartitionedCount(admin, bindings.map((b) => b.topic), config);
  }).catch(async (error: unknown) => {
    await admin.disconnect().catch(() => undefined);
    redis.disconnect();
    throw error;
  });
  await untilKafkaAnswers('producer connect', () => producer.connect());
  const runner = new ConsumerRunner({
    consumer: groupConsumer(kafka, config),
    producer,
    codec,
    logger,
    instrumentation: metricsInstrumentation(metrics),
    service: name,
    groupId: config.GROUP_ID,
    bindings,
    handler: options.handler,
    dlqSuffix: config.DLQ_SUFFIX,
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
    clock,
    onFatal: (error) => reportFatal(error),
    maxClockSkewMs: config.MAX_CLOCK_SKEW,
    connectTimeoutMs: config.KAFKA_CONNECT_TIMEOUT,
    commitPastMarkers: options.commitPastMarkers ?? true,
  });

  const partitionCount = () => partitions;
  // Joined the group is not enough: a member whose broker, Redis or registry is away keeps
  // its partitions without progress, and /readyz must say so (and which one).
  const kafkaHealth = kafkaProbe({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID ?? `kairos-${name}`}-health`,
    topics: bindings.map((b) => b.topic),
    timeoutMs: DEFAULT_PROBE_TIMEOUT_MS,
  });
  const monitor = new HealthMonitor({
    probes: { kafka: kafkaHealth.probe, redis: redisProbe(redis), registry: registryProbe(config.SCHEMA_REGISTRY_URL, DEFAULT_PROBE_TIMEOUT_MS) },
    logger,
  });
  monitor.start();
  const readiness: ReadinessCheck[] = [
    { name: 'consumer_group', check: () => (runner.isReady() ? null : 'not a member of the consumer group') },
    // A stopped partition (its state does not match its log) makes the instance not ready.
    {
      name: 'partitions',
      check: () => (runner.stopped().size === 0 ? null : `stopped (state does not match the log): ${[...runner.stopped().keys()].join(', ')}`),
    },
    ...monitor.checks(),
    ...(options.readinessChecks ?? []),
  ];
  const http = await startHttpServer({
    port: config.HTTP_PORT,
    host: config.HTTP_HOST,
    credentials,
    registry: metrics.registry,
    logger,
    readiness,
    routes: options.routes?.(partitionCount),
  });
  await runner.start().catch((error: unknown) => {
    throw brokerUnreachable(error, brokerWait); // its connect waits as long
  });
  background.start(() => runner.assignedPartitions(bindings[0].topic), config.TIMER_INTERVAL_MS);
  logger.info({ group: config.GROUP_ID, http: http.port, inputs: bindings.map((b) => b.topic), partitions, ...options.describe }, 'started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      http.beginStopping();
      monitor.stop();
      await background.stop();
      await runner.stop();
      await background.close?.();
      await producer.disconnect();
      await admin.disconnect();
      await kafkaHealth.close();
      await http.close();
      redis.disconnect();
    })());
  return { http, runner, fatal, partitionCount, stop };
}

/**
 * A service's process entry: configuration validated from the environment, the service
 * started, and a graceful stop on SIGTERM/SIGINT.
 */
export function serviceMain<T extends z.ZodRawShape>(
  name: string,
  shape: T,
  start: (config: z.infer<z.ZodObject<T>>) => Promise<{ logger: Logger; stop(): Promise<void>; fatal?: Promise<Error> }>,
): void {
  void runMain(name, async () => {
    const config = loadConfig(shape);
    // Before anything connects: an exposed HTTP server without a token stops start-up (exit 78).
    const http = config as Partial<HttpAccessConfig>;
    if (typeof http.HTTP_HOST === 'string') assertSafeExposure(http.HTTP_HOST, credentialsOf(http));
    const service = await start(config);
    shutdownOnSignals(service.logger, () => [{ name, run: () => service.stop() }]);
    // Exit loudly (code 70, EX_SOFTWARE) rather than idle without consuming: a supervisor restarts it.
    void service.fatal?.then(async (error) => {
      service.logger.fatal({ err: error }, 'stopping: the consumer hit an error that retrying cannot fix');
      await service.stop().catch(() => undefined);
      process.exit(70);
    });
  });
}
