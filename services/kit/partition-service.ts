import type { Type } from 'avsc';
import type { Kafka } from 'kafkajs';
import { readSchema, valueSubject, type AvroCodec, type SchemaName } from './codec';
import type { AnyTopicBinding, ConsumerRunner } from './consumer-runner';
import { createOutboxRelay, createServiceClients, runConsumerService, type ConsumerServiceConfig } from './consumer-service';
import type { ReadinessCheck } from './health';
import type { HttpServer, RouteHandler } from './http';
import type { Logger } from './logger';
import type { KairosMetrics } from './metrics';
import { KafkaLogInspector } from './log-inspector';
import { PartitionProcessor, type PartitionLogic } from './partition-processor';
import { PartitionKeys, PartitionStateStore } from './partition-state';
import type { RedisClient } from './redis';
import type { RelayHooks } from './outbox-relay';
import { withOverdueTimerGauge } from './timer-watch';

/** Config every partition-stateful service reads (the consuming services' variables). */
export type PartitionServiceConfig = ConsumerServiceConfig;

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
  inputs: (types: Record<SchemaName, Type>) => AnyTopicBinding[];
  /** How long a customer's state lives after its last change. */
  stateTtlMs: number;
  /** The logic stores binary states: read them as Buffers (see PartitionStateStore). */
  binaryStates?: boolean;
  logic: (parts: ServiceParts) => Promise<PartitionLogic> | PartitionLogic;
  routes?: (parts: ServiceParts & { partitionCount: () => number }) => Record<string, RouteHandler>;
  /** The service clock; tests inject one. */
  clock?: () => number;
  /** Tests pass a silent logger. */
  logger?: Logger;
  /** Conditions of the service's own that `/readyz` checks too (see runConsumerService). */
  readinessChecks?: ReadinessCheck[];
  /** Fault injection for tests (the outbox relay). */
  relayHooks?: RelayHooks;
  /** Tests: records per relay read (RELAY_CHUNK by default), so a small batch spans chunks. */
  relayChunk?: number;
}

export interface RunningService {
  http: HttpServer;
  runner: ConsumerRunner;
  /** Resolves if the consumer stops on an error that retrying cannot fix. */
  fatal: Promise<Error>;
  processor: PartitionProcessor;
  parts: ServiceParts;
  logger: Logger;
  /** Graceful stop: finish and commit batches, stop timers, flush, disconnect. */
  stop(): Promise<void>;
}

/**
 * Wires a stateful service: Redis partition state, the partition processor (fence, apply,
 * outbox relay, timers) under the shared consumer-service wiring. The service supplies only
 * its logic (and optional routes).
 */
export async function startPartitionService(options: PartitionServiceOptions): Promise<RunningService> {
  const { config, name } = options;
  const clients = createServiceClients(name, config, { clock: options.clock, logger: options.logger });
  const { logger, metrics, redis, kafka, admin, codec, types, clock } = clients;
  const keys = new PartitionKeys(config.REDIS_KEY_PREFIX, name);
  const output = async (schema: SchemaName, topic: string): Promise<OutputEncoder> => {
    const id = await codec.idOf(valueSubject(topic), readSchema(schema));
    return { topic, encode: (value) => codec.encode(id, types[schema], value) };
  };
  const parts: ServiceParts = { logger, metrics, redis, kafka, keys, codec, output };
  // exactly_once: each apply marks where its outputs end in the outbox, with what they cover (the relay's checkpoints record it).
  const store = new PartitionStateStore(redis, keys, options.stateTtlMs, options.binaryStates ?? false, config.OUTPUT_GUARANTEE === 'exactly_once');
  const bindings = options.inputs(types);
  // The relay re-takes its partitions (fencing a previous owner) when the group generation changes.
  const group: { runner?: ConsumerRunner } = {};
  const relay = createOutboxRelay(clients, config, {
    outboxKey: (partition) => keys.outbox(partition),
    fenceKey: (partition) => keys.fence(partition),
    timersKey: (partition) => keys.timers(partition),
    topic: bindings[0].topic,
    generation: () => group.runner?.currentGeneration() ?? 0,
    hooks: options.relayHooks,
    batchSize: options.relayChunk,
  });
  const processor = new PartitionProcessor({
    store, logic: await options.logic(parts), relay, logger, metrics, clock,
    log: new KafkaLogInspector(admin, config.GROUP_ID),
    timerTopic: bindings[0].topic,
  });
  const service = await runConsumerService(clients, {
    config,
    bindings,
    handler: processor.handleBatch,
    background: withOverdueTimerGauge(
      {
        start: (partitions, intervalMs) => processor.startTimers(partitions, intervalMs),
        stop: () => processor.stopTimers(),
        close: () => relay.close(),
      },
      { redis, timersKey: (partition) => keys.timers(partition), gauge: metrics.timersOverdueSeconds, clock, logger },
    ),
    routes: options.routes ? (partitionCount) => options.routes!({ ...parts, partitionCount }) : undefined,
    readinessChecks: options.readinessChecks,
    describe: { outputGuarantee: config.OUTPUT_GUARANTEE },
  });
  group.runner = service.runner;
  return { http: service.http, runner: service.runner, fatal: service.fatal, processor, parts, logger, stop: service.stop };
}
