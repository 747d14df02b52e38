import type { Kafka, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import { AvroCodec, readSchema, recordTypes, valueSubject, type SchemaName } from './codec';
import type { CommonConfig } from './config';
import { ConsumerRunner, metricsInstrumentation, type TopicBinding } from './consumer-runner';
import { startHttpServer, type HttpServer, type RouteHandler } from './http';
import { createIdempotentProducer, createKafka } from './kafka';
import { createLogger, type Logger } from './logger';
import { createMetrics, type KairosMetrics } from './metrics';
import { PartitionProcessor, type PartitionLogic } from './partition-processor';
import { PartitionKeys, PartitionStateStore } from './partition-state';
import { createRedis, type RedisClient } from './redis';

/** Config every partition-stateful service reads on top of the common variables. */
export interface PartitionServiceConfig extends CommonConfig {
  HTTP_PORT: number;
  GROUP_ID: string;
  TIMER_INTERVAL_MS: number;
  PARTITIONS_CONCURRENTLY: number;
  /** Most bytes one fetch takes from a partition: bounds a batch (and what a crash replays). */
  FETCH_MAX_BYTES_PER_PARTITION: number;
  /** How long the group waits for a silent member before giving its partitions away. */
  KAFKA_SESSION_TIMEOUT: number;
}

/** Encodes records of one output topic with the schema registered for it. */
export interface OutputEncoder {
  topic: string;
  encode(value: unknown): Buffer;
}

/** What the service's own module provides once the shared parts are connected. */
export interface ServiceParts {
  logger: Logger;
  metrics: KairosMetrics;
  redis: RedisClient;
  kafka: Kafka;
  keys: PartitionKeys;
  codec: AvroCodec;
  /** An encoder per output schema, for the topic it goes to. */
  output(schema: SchemaName, topic: string): Promise<OutputEncoder>;
}

export interface PartitionServiceOptions {
  name: string;
  config: PartitionServiceConfig;
  /** The input topics (co-partitioned); timers follow the partitions of the first. */
  inputs: (types: Record<SchemaName, Type>) => Array<TopicBinding<never>>;
  /** How long a customer's state lives after its last change. */
  stateTtlMs: number;
  logic: (parts: ServiceParts) => Promise<PartitionLogic> | PartitionLogic;
  routes?: (parts: ServiceParts & { partitionCount: () => number }) => Record<string, RouteHandler>;
  /** The service clock; tests inject one. */
  clock?: () => number;
  /** Tests pass a silent logger. */
  logger?: Logger;
}

export interface RunningService {
  http: HttpServer;
  runner: ConsumerRunner;
  processor: PartitionProcessor;
  parts: ServiceParts;
  /** Graceful stop: finish and commit batches, stop timers, flush, disconnect. */
  stop(): Promise<void>;
}

/**
 * Wires a stateful service: Redis partition state, the consumer runner with its DLQ, the
 * partition processor (fence, apply, outbox relay, timers), an idempotent producer and the
 * operational HTTP server. The service supplies only its logic (and optional routes).
 */
export async function startPartitionService(options: PartitionServiceOptions): Promise<RunningService> {
  const { config, name } = options;
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? createLogger({ service: name, level: config.LOG_LEVEL });
  const metrics = createMetrics(name);
  const redis = createRedis(config, { connectionName: `kairos-${name}` });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? `kairos-${name}`, logger });
  const producer: Producer = createIdempotentProducer(kafka);
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const keys = new PartitionKeys(config.REDIS_KEY_PREFIX, name);

  const output = async (schema: SchemaName, topic: string): Promise<OutputEncoder> => {
    const id = await codec.idOf(valueSubject(topic), readSchema(schema));
    return { topic, encode: (value) => codec.encode(id, types[schema], value) };
  };
  const parts: ServiceParts = { logger, metrics, redis, kafka, keys, codec, output };
  const store = new PartitionStateStore(redis, keys, options.stateTtlMs);
  const processor = new PartitionProcessor({ store, logic: await options.logic(parts), producer, logger, metrics, clock });
  const bindings = options.inputs(types);

  await producer.connect();
  const runner = new ConsumerRunner({
    consumer: kafka.consumer({
      groupId: config.GROUP_ID,
      maxBytesPerPartition: config.FETCH_MAX_BYTES_PER_PARTITION,
      sessionTimeout: config.KAFKA_SESSION_TIMEOUT,
      // Kafka's advice: heartbeats at a third of the session timeout at most.
      heartbeatInterval: Math.max(1000, Math.floor(config.KAFKA_SESSION_TIMEOUT / 3)),
    }),
    producer,
    codec,
    logger,
    instrumentation: metricsInstrumentation(metrics),
    service: name,
    groupId: config.GROUP_ID,
    bindings,
    handler: processor.handleBatch,
    dlqSuffix: config.DLQ_SUFFIX,
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
    clock,
  });

  let partitions = 0;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [first] = (await admin.fetchTopicMetadata({ topics: [bindings[0].topic] })).topics;
    partitions = first.partitions.length;
  } finally {
    await admin.disconnect();
  }
  const http = await startHttpServer({
    port: config.HTTP_PORT,
    registry: metrics.registry,
    logger,
    isReady: () => runner.isReady(),
    routes: options.routes?.({ ...parts, partitionCount: () => partitions }),
  });
  await runner.start();
  processor.startTimers(() => runner.assignedPartitions(bindings[0].topic), config.TIMER_INTERVAL_MS);
  logger.info({ group: config.GROUP_ID, http: http.port, inputs: bindings.map((b) => b.topic), partitions }, 'started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await processor.stopTimers();
      await runner.stop();
      await producer.disconnect();
      await http.close();
      redis.disconnect();
    })());
  return { http, runner, processor, parts, stop };
}
