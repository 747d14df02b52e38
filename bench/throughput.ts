/**
 * The three throughput measurements over the same pre-produced input topic, each with a fresh
 * consumer group (and fresh Redis prefix and output topics where it has state):
 *   ceiling  - a bare kafkajs consumer that reads and Avro-decodes every record, nothing else;
 *   kairos   - the segmenter and/or the trigger service, started in-process;
 *   baseline - the same pure logic written per message (bench/baseline.ts).
 * Time runs from the moment every consumer joined its group until the last record is processed;
 * where two consumers run in one process, each holds its input until then (consumer-gate.ts).
 */
import type { Consumer } from 'kafkajs';
import pino from 'pino';
import { STATEFUL_PARTITIONS_CONCURRENTLY } from '../services/kit/consumer-service';
import { loadConfig } from '../services/kit/config';
import type { RunningService } from '../services/kit/partition-service';
import { segmenterShape, startSegmenter } from '../services/segmenter/main';
import { startTrigger, triggerShape } from '../services/trigger/main';
import { BenchStack, kafka, shortId, types, waitUntil, type OutputTopics } from './stack';
import { startBaseline } from './baseline';
import { ConsumerGate } from './consumer-gate';
import type { Input } from './input';

export const silentLogger = pino({ level: 'silent' });

export interface Measured {
  eps: number;
  seconds: number;
  records: number;
}

function measured(records: number, startedAt: number, endedAt: number): Measured {
  const seconds = (endedAt - startedAt) / 1000;
  return { eps: Math.round(records / seconds), seconds: Number(seconds.toFixed(3)), records };
}

/** Ceiling: read + Avro-decode (the services' own codec), from group join to the last record. */
export async function measureCeiling(stack: BenchStack, input: Input): Promise<Measured> {
  // Batches as large as the services'.
  const consumer: Consumer = kafka.consumer({ groupId: `${stack.run}-ceiling-${shortId()}`, maxBytesPerPartition: serviceSetting('FETCH_MAX_BYTES_PER_PARTITION') });
  let joinedAt = 0;
  let endedAt = 0;
  let seen = 0;
  let checksum = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => (joinedAt ||= Date.now()));
  await consumer.connect();
  await consumer.subscribe({ topic: input.events, fromBeginning: true });
  await consumer.run({
    // The segmenter's and the trigger service's default concurrency.
    partitionsConsumedConcurrently: STATEFUL_PARTITIONS_CONCURRENTLY,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        // As the services' runner decodes: without a promise once the writer schema is kept.
        const value = message.value as Buffer;
        const event = stack.codec.decodeKnown<{ occurred_at: number }>(value, types.BehaviorEvent) ?? (await stack.codec.decode<{ occurred_at: number }>(value, types.BehaviorEvent));
        checksum += event.occurred_at % 7; // keep the decode from being optimized away
      }
      seen += batch.messages.length;
      if (seen >= input.count && endedAt === 0) endedAt = Date.now();
    },
  });
  await waitUntil('the ceiling consumer to read everything', () => endedAt > 0, 600_000);
  await consumer.disconnect();
  if (checksum < 0) throw new Error('unreachable');
  return measured(input.count, joinedAt, endedAt);
}

export type KairosPart = 'segmenter' | 'trigger';

/** The services' settings the bench passes on from its environment when set (unset: the services' defaults). */
export const SERVICE_SETTING_NAMES = ['FETCH_MAX_BYTES_PER_PARTITION', 'FETCH_MIN_BYTES', 'FETCH_MAX_WAIT', 'RELAY_GATHER'] as const;

/** One of those settings (each a number) as the services read it from `env`: their own rule, bound and default. */
export function serviceSetting(name: (typeof SERVICE_SETTING_NAMES)[number], env: NodeJS.ProcessEnv = process.env): number {
  const config: Record<string, unknown> = loadConfig({ [name]: segmenterShape[name] }, env);
  return config[name] as number;
}

/**
 * The services' settings set in the bench's environment, as [name, value]:
 * `FETCH_MIN_BYTES=65536 FETCH_MAX_WAIT=20ms make bench` or `RELAY_GATHER=0ms make bench` compares.
 */
export function serviceSettings(): Array<[string, string]> {
  return SERVICE_SETTING_NAMES.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string] as [string, string]] : []));
}

/** The environment of a service under measurement: the run's topics, prefix and group. */
export function serviceEnv(input: Pick<Input, 'events' | 'profiles'>, out: OutputTopics, prefix: string, group: string): Record<string, string> {
  return {
    TOPIC_BEHAVIOR_EVENTS: input.events,
    TOPIC_CUSTOMER_PROFILES: input.profiles,
    TOPIC_TRIGGERS: out.triggers,
    TOPIC_SEGMENT_CHANGES: out.segmentChanges,
    TOPIC_EMAIL_OUTCOMES: out.outcomes,
    REDIS_KEY_PREFIX: prefix,
    GROUP_ID: group,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    ...(process.env.BENCH_KAIROS_CONCURRENCY ? { PARTITIONS_CONCURRENTLY: process.env.BENCH_KAIROS_CONCURRENCY } : {}),
    // exactly_once (the default) or at_least_once: `OUTPUT_GUARANTEE=at_least_once make bench` compares.
    ...(process.env.OUTPUT_GUARANTEE ? { OUTPUT_GUARANTEE: process.env.OUTPUT_GUARANTEE } : {}),
    ...Object.fromEntries(serviceSettings()),
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    ...(process.env.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
}

export interface KairosRun extends Measured {
  prefix: string;
  out: OutputTopics;
  /** Per service: seconds spent in each batch phase (kairos_batch_phase_seconds sums, partitions in parallel add up) and the batches; absent for the baseline. */
  phases?: Record<string, Record<string, number>>;
}

/** A service's batch-phase sums (seconds, over every partition) and its batch count. */
async function phaseSums(service: RunningService): Promise<Record<string, number>> {
  const metric = await service.parts.metrics.batchPhaseSeconds.get();
  const sums: Record<string, number> = {};
  for (const v of metric.values) {
    const phase = String(v.labels.phase);
    if (v.metricName?.endsWith('_sum')) sums[phase] = Number(v.value.toFixed(3));
    else if (v.metricName?.endsWith('_count') && phase === 'read') sums.batches = v.value;
  }
  return sums;
}

async function processedEvents(service: RunningService, topic: string): Promise<number> {
  const metric = await service.parts.metrics.recordsProcessed.get();
  return metric.values.filter((v) => v.labels.topic === topic).reduce((sum, v) => sum + v.value, 0);
}

/** Kairos: the given services in-process with a frozen clock; stopped again, state left for inspection. */
export async function measureKairos(stack: BenchStack, input: Input, parts: readonly KairosPart[], name: string): Promise<KairosRun> {
  const prefix = stack.prefix(name);
  const out = await stack.createOutputs(name, input.partitions);
  const overrides = { clock: () => input.clock, logger: silentLogger };
  const services: RunningService[] = [];
  const groups = new Map(parts.map((part) => [part, `${stack.run}-${name}-${part}`]));
  // Started one after the other, the first service would read for hundreds of milliseconds
  // before the second joined and the window opened: both wait for the window (consumer-gate.ts).
  const groupIds = new Set(groups.values());
  const gate = new ConsumerGate([input.events, input.profiles], (groupId) => groupIds.has(groupId));
  const uninstall = gate.install();
  try {
    try {
      for (const [part, group] of groups) {
        const env = serviceEnv(input, out, prefix, group);
        services.push(
          part === 'segmenter'
            ? await startSegmenter(loadConfig(segmenterShape, env), overrides)
            : await startTrigger(loadConfig(triggerShape, env), overrides),
        );
      }
    } finally {
      uninstall();
    }
    await waitUntil('the services to join their groups', () => services.every((s) => s.runner.isReady()), 60_000, 5);
    gate.release();
    const joinedAt = Date.now();
    let done = false;
    await waitUntil(
      'the services to process every event',
      async () => (done = (await Promise.all(services.map((s) => processedEvents(s, input.events)))).every((n) => n >= input.count)),
      900_000,
      10,
    );
    const endedAt = Date.now();
    if (!done) throw new Error('unreachable');
    const phases: Record<string, Record<string, number>> = {};
    for (const [i, service] of services.entries()) phases[parts[i]] = await phaseSums(service);
    return { ...measured(input.count, joinedAt, endedAt), prefix, out, phases };
  } finally {
    for (const service of services) await service.stop();
  }
}

/** Baseline: per-message handlers for both logics, in-process, same frozen clock. */
export async function measureBaseline(stack: BenchStack, input: Input, name: string): Promise<KairosRun> {
  const prefix = stack.prefix(name);
  const out = await stack.createOutputs(name, input.partitions);
  const group = `${stack.run}-${name}`;
  // Its two consumers join one after the other: both wait for the window, as measureKairos's services do.
  const gate = new ConsumerGate([input.events], (groupId) => groupId.startsWith(`${group}-`));
  const uninstall = gate.install();
  const baseline = await startBaseline(stack, { input, out, prefix, group }).finally(uninstall);
  try {
    await waitUntil('the baseline to join its groups', () => baseline.ready(), 60_000, 5);
    gate.release();
    const joinedAt = Date.now();
    await waitUntil('the baseline to process every event', () => baseline.processed() >= input.count, 1_800_000, 10);
    return { ...measured(input.count, joinedAt, Date.now()), prefix, out };
  } finally {
    await baseline.stop();
  }
}
