/**
 * The benchmarks' connection to the local stack: private random topics and Redis key prefixes,
 * producing pre-encoded events fast, waiting for consumer groups, and cleaning up after.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from '../services/kit/kafkajs';
import { AvroCodec, readSchema, recordTypes, valueSubject, type SchemaName } from '../services/kit/codec';
import { createTopicsReady, readToEnd, withAdmin as withKafkaAdmin } from '../services/kit/kafka';
import { createRedis, type RedisClient } from '../services/kit/redis';
import { ignoreKafkajsNegativeTimeouts } from '../services/kit/node-warnings';
import type { BehaviorEvent } from '../services/core/types';

export const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SES_ENDPOINT = process.env.SES_ENDPOINT ?? 'http://127.0.0.1:8005';

ignoreKafkajsNegativeTimeouts();
export const kafka = new Kafka({ brokers: BROKERS, clientId: 'kairos-bench', logLevel: logLevel.NOTHING });
export const types = recordTypes();

export function shortId(): string {
  return randomUUID().slice(0, 8);
}

/** Runs `fn` with a connected admin client (see the kit's withAdmin). */
export function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  return withKafkaAdmin(kafka, fn);
}

/** The topics one measured pipeline writes to (its input is shared, read-only). */
export interface OutputTopics {
  triggers: string;
  segmentChanges: string;
  outcomes: string;
}

/** Everything created by one bench run; `cleanup()` removes it all. */
export class BenchStack {
  readonly run = `bench-${shortId()}`;
  readonly codec = AvroCodec.connect(REGISTRY_URL);
  readonly redis: RedisClient = createRedis({ REDIS_URL }, { connectionName: 'kairos-bench' });
  private readonly topics: string[] = [];
  private readonly prefixes: string[] = [];
  private producer: Producer | undefined;
  private readonly ids = new Map<string, number>();

  /** Creates topics (with a schema registered for each) under this run's name. */
  async createTopics(specs: Array<{ topic: string; schema: SchemaName | null }>, partitions: number): Promise<void> {
    const names = specs.map((s) => s.topic);
    this.topics.push(...names);
    await withAdmin((admin) => createTopicsReady(admin, names.map((topic) => ({ topic, numPartitions: partitions }))));
    for (const { topic, schema } of specs) {
      if (schema !== null) this.ids.set(topic, await this.codec.register(valueSubject(topic), readSchema(schema)));
    }
  }

  topic(name: string): string {
    return `${this.run}.${name}`;
  }

  /** An input topic of behavior events (plus an empty profiles topic and the DLQs the services expect). */
  async createInput(name: string, partitions: number): Promise<{ events: string; profiles: string }> {
    const events = this.topic(`${name}.behavior.events`);
    const profiles = this.topic(`${name}.customer.profiles`);
    await this.createTopics(
      [
        { topic: events, schema: 'BehaviorEvent' },
        { topic: profiles, schema: 'CustomerProfile' },
        { topic: `${events}.dlq`, schema: null },
        { topic: `${profiles}.dlq`, schema: null },
      ],
      partitions,
    );
    return { events, profiles };
  }

  /** Fresh output topics for one measured pipeline. */
  async createOutputs(name: string, partitions: number): Promise<OutputTopics> {
    const out = {
      triggers: this.topic(`${name}.triggers`),
      segmentChanges: this.topic(`${name}.segment.changes`),
      outcomes: this.topic(`${name}.email.outcomes`),
    };
    await this.createTopics(
      [
        { topic: out.triggers, schema: 'TriggerFired' },
        { topic: out.segmentChanges, schema: 'SegmentChange' },
        { topic: out.outcomes, schema: 'EmailOutcome' },
        { topic: `${out.triggers}.dlq`, schema: null },
      ],
      partitions,
    );
    return out;
  }

  /** A Redis key prefix of this run; every key under it is deleted by cleanup(). */
  prefix(name: string): string {
    // As short as the production default ("kairos"), so key names do not inflate the memory figure.
    const prefix = `b${this.run.slice(6, 12)}${this.prefixes.length}`;
    void name;
    this.prefixes.push(prefix);
    return prefix;
  }

  async connectedProducer(): Promise<Producer> {
    if (this.producer === undefined) {
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await this.producer.connect();
    }
    return this.producer;
  }

  encodeEvent(topic: string, event: BehaviorEvent): Buffer {
    const id = this.ids.get(topic);
    if (id === undefined) throw new Error(`bench: no schema registered for ${topic}`);
    return this.codec.encode(id, types.BehaviorEvent, event);
  }

  /** Produces events keyed by customer (Java-compatible partitioner), in order, in large batches. */
  async produceEvents(topic: string, events: readonly BehaviorEvent[], progress?: (done: number) => void): Promise<void> {
    const producer = await this.connectedProducer();
    const chunk = 5000;
    for (let i = 0; i < events.length; i += chunk) {
      await producer.send({
        topic,
        acks: -1,
        messages: events.slice(i, i + chunk).map((e) => ({ key: e.customer_id, value: this.encodeEvent(topic, e) })),
      });
      progress?.(Math.min(events.length, i + chunk));
    }
  }

  /** Every key under `prefix` (the services' keys are `{prefix:...}`), with SCAN. */
  async keysOf(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 5000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  async deleteKeys(prefix: string): Promise<number> {
    const keys = await this.keysOf(prefix);
    for (let i = 0; i < keys.length; i += 1000) await this.redis.unlink(...keys.slice(i, i + 1000));
    return keys.length;
  }

  /** Deletes the run's Redis keys and topics (and the subjects registered for them). */
  async cleanup(): Promise<void> {
    for (const prefix of this.prefixes) await this.deleteKeys(prefix).catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    if (this.topics.length > 0) await withAdmin((admin) => admin.deleteTopics({ topics: this.topics })).catch(() => undefined);
    for (const topic of this.ids.keys()) {
      await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(valueSubject(topic))}`, { method: 'DELETE' }).catch(() => undefined);
    }
    this.redis.disconnect();
  }
}

/** Sum of the high watermarks of `topic` (the number of records when nothing was deleted). */
export async function topicSize(topic: string): Promise<number> {
  const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Polls every `intervalMs` until `check` is true; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Reads every committed record of `topic` up to its current end (read_committed), decoded with `schema`. */
export async function readTopic<T>(codec: AvroCodec, topic: string, schema: SchemaName, timeoutMs = 120_000): Promise<T[]> {
  const values: Buffer[] = [];
  await readToEnd(kafka, topic, { groupId: `bench-reader-${shortId()}`, timeoutMs, onMessage: (m) => void values.push(m.value as Buffer) });
  return Promise.all(values.map((v) => codec.decode<T>(v, types[schema])));
}
