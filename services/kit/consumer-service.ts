import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { z } from 'zod';
import { AvroCodec, recordTypes, type SchemaName } from './codec';
import { commonShape, durationVar, intVar, loadConfig, runMain, stringVar, type CommonConfig } from './config';
import { ConsumerRunner, metricsInstrumentation, type BatchHandler, type TopicBinding } from './consumer-runner';
import { startHttpServer, type HttpServer, type RouteHandler } from './http';
import { createIdempotentProducer, createKafka } from './kafka';
import { shutdownOnSignals } from './lifecycle';
import { createLogger, type Logger } from './logger';
import { createMetrics, type KairosMetrics } from './metrics';
import { createRedis, type RedisClient } from './redis';

/**
 * The variables every consuming service reads, on top of the common ones, with its own
 * defaults for the HTTP port, the consumer group and the timer interval.
 */
export function consumerServiceShape(defaults: { httpPort: number; groupId: string; timerIntervalMs: number }) {
  return {
    ...commonShape,
    // 0 lets the OS pick a free port (tests, several instances on one host).
    HTTP_PORT: intVar(0, 65535).default(defaults.httpPort),
    GROUP_ID: stringVar().default(defaults.groupId),
    TIMER_INTERVAL_MS: intVar(50, 60_000).default(defaults.timerIntervalMs),
    PARTITIONS_CONCURRENTLY: intVar(1, 64).default(3),
    FETCH_MAX_BYTES_PER_PARTITION: intVar(1024, 64 * 1024 * 1024).default(1024 * 1024),
    // The broker accepts 6 s to 5 min (group.min/max.session.timeout.ms); shorter = faster failover.
    KAFKA_SESSION_TIMEOUT: durationVar().default(30_000),
  };
}

/** A member of the service's consumer group, with the fetch and session settings of its config. */
export function groupConsumer(kafka: Kafka, config: Pick<ConsumerServiceConfig, 'GROUP_ID' | 'FETCH_MAX_BYTES_PER_PARTITION' | 'KAFKA_SESSION_TIMEOUT'>): Consumer {
  return kafka.consumer({
    groupId: config.GROUP_ID,
    maxBytesPerPartition: config.FETCH_MAX_BYTES_PER_PARTITION,
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT,
    // Kafka's advice: heartbeats at a third of the session timeout at most.
    heartbeatInterval: Math.max(1000, Math.floor(config.KAFKA_SESSION_TIMEOUT / 3)),
  });
}

/** Config every consuming service reads on top of the common variables. */
export interface ConsumerServiceConfig extends CommonConfig {
  HTTP_PORT: number;
  GROUP_ID: string;
  TIMER_INTERVAL_MS: number;
  PARTITIONS_CONCURRENTLY: number;
  /** Most bytes one fetch takes from a partition: bounds a batch (and what a crash replays). */
  FETCH_MAX_BYTES_PER_PARTITION: number;
  /** How long the group waits for a silent member before giving its partitions away. */
  KAFKA_SESSION_TIMEOUT: number;
}

/** The long-lived clients of one service process, created once and passed to its parts. */
export interface ServiceClients {
  name: string;
  logger: Logger;
  metrics: KairosMetrics;
  redis: RedisClient;
  kafka: Kafka;
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
    redis: createRedis(config, { connectionName: `kairos-${name}` }),
    kafka,
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
}

export interface ConsumerService {
  http: HttpServer;
  runner: ConsumerRunner;
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
      'GROUP_ID' | 'HTTP_PORT' | 'DLQ_SUFFIX' | 'PARTITIONS_CONCURRENTLY' | 'FETCH_MAX_BYTES_PER_PARTITION' | 'KAFKA_SESSION_TIMEOUT' | 'TIMER_INTERVAL_MS'
    >;
    bindings: Array<TopicBinding<never>>;
    handler: BatchHandler;
    background: BackgroundWork;
    routes?: (partitionCount: () => number) => Record<string, RouteHandler>;
    /** Extra fields for the "started" log line. */
    describe?: Record<string, unknown>;
  },
): Promise<ConsumerService> {
  const { name, logger, metrics, kafka, producer, codec, redis, clock } = clients;
  const { config, bindings, background } = options;
  await producer.connect();
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
  });

  const admin = kafka.admin();
  await admin.connect();
  let partitions: number;
  try {
    partitions = (await admin.fetchTopicMetadata({ topics: [bindings[0].topic] })).topics[0].partitions.length;
  } finally {
    await admin.disconnect();
  }
  const partitionCount = () => partitions;
  const http = await startHttpServer({
    port: config.HTTP_PORT,
    registry: metrics.registry,
    logger,
    isReady: () => runner.isReady(),
    routes: options.routes?.(partitionCount),
  });
  await runner.start();
  background.start(() => runner.assignedPartitions(bindings[0].topic), config.TIMER_INTERVAL_MS);
  logger.info({ group: config.GROUP_ID, http: http.port, inputs: bindings.map((b) => b.topic), partitions, ...options.describe }, 'started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await background.stop();
      await runner.stop();
      await producer.disconnect();
      await http.close();
      redis.disconnect();
    })());
  return { http, runner, partitionCount, stop };
}

/**
 * A service's process entry: configuration validated from the environment, the service
 * started, and a graceful stop on SIGTERM/SIGINT.
 */
export function serviceMain<T extends z.ZodRawShape>(
  name: string,
  shape: T,
  start: (config: z.infer<z.ZodObject<T>>) => Promise<{ logger: Logger; stop(): Promise<void> }>,
): void {
  void runMain(name, async () => {
    const service = await start(loadConfig(shape));
    shutdownOnSignals(service.logger, () => [{ name, run: () => service.stop() }]);
  });
}
