/**
 * A private set of topics and a Redis key prefix for one test file, so services under test
 * run against the real stack without seeing anybody else's records or keys.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Consumer, KafkaMessage, Producer } from 'kafkajs';
import { AvroCodec, readSchema, recordTypes, valueSubject, type SchemaName } from '../../services/kit/codec';
import { createRedis } from '../../services/kit/redis';
import type { BehaviorEvent, CustomerProfile } from '../../services/core/types';
import { COMMITTED_READER_FETCH_WAIT_MS, topicEnds } from '../../services/kit/kafka';
import { BROKERS, createTopics, kafka, readMessages, REDIS_URL, REGISTRY_URL, waitFor } from './stack';

export const silentLogger = pino({ level: 'silent' });

/** How many records are repeats of another (same decoded content: a record produced twice). */
export function repeatedRecords(records: readonly unknown[]): number {
  return records.length - new Set(records.map((r) => JSON.stringify(r))).size;
}

export interface TestPipeline {
  env: Record<string, string>;
  topics: { events: string; profiles: string; triggers: string; segmentChanges: string; outcomes: string };
  prefix: string;
  codec: AvroCodec;
  produceEvents(events: BehaviorEvent[]): Promise<void>;
  produceProfiles(profiles: Array<CustomerProfile | { customer_id: string; tombstone: true }>): Promise<void>;
  /** Decoded records of an output topic, waiting until at least `count` are there. */
  read<T>(topic: string, schema: SchemaName, count: number, timeoutMs?: number): Promise<T[]>;
  /** Every decoded record of an output topic right now: every transaction committed before the call (see topicEnds). */
  readAll<T>(topic: string, schema: SchemaName): Promise<T[]>;
  /** Every Redis key under the prefix. */
  redisKeys(): Promise<string[]>;
  /** Resolves once no partition outbox under the prefix holds a record (relayed and trimmed). */
  outboxesDrained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createTestPipeline(name: string, partitions = 3): Promise<TestPipeline> {
  const id = randomUUID().slice(0, 8);
  const topics = {
    events: `test.${name}.${id}.behavior.events`,
    profiles: `test.${name}.${id}.customer.profiles`,
    triggers: `test.${name}.${id}.triggers`,
    segmentChanges: `test.${name}.${id}.segment.changes`,
    outcomes: `test.${name}.${id}.email.outcomes`,
  };
  await createTopics([...Object.values(topics), `${topics.events}.dlq`, `${topics.profiles}.dlq`, `${topics.triggers}.dlq`], partitions);
  const codec = AvroCodec.connect(REGISTRY_URL);
  const schemaOf: Record<string, SchemaName> = {
    [topics.events]: 'BehaviorEvent',
    [topics.profiles]: 'CustomerProfile',
    [topics.triggers]: 'TriggerFired',
    [topics.segmentChanges]: 'SegmentChange',
    [topics.outcomes]: 'EmailOutcome',
  };
  const ids: Record<string, number> = {};
  for (const [topic, schema] of Object.entries(schemaOf)) ids[topic] = await codec.register(valueSubject(topic), readSchema(schema));
  const types = recordTypes();
  const prefix = `test-${name}-${id}`;
  const env = {
    // The stack the tests use (test/support/stack.ts), also for the services they start: a
    // stack on other ports (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL) is then theirs too.
    KAFKA_BROKERS: BROKERS.join(','),
    SCHEMA_REGISTRY_URL: REGISTRY_URL,
    REDIS_URL,
    TOPIC_BEHAVIOR_EVENTS: topics.events,
    TOPIC_CUSTOMER_PROFILES: topics.profiles,
    TOPIC_TRIGGERS: topics.triggers,
    TOPIC_SEGMENT_CHANGES: topics.segmentChanges,
    TOPIC_EMAIL_OUTCOMES: topics.outcomes,
    REDIS_KEY_PREFIX: prefix,
    GROUP_ID: `test-${name}-${id}`,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
  };
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const redis = createRedis({ REDIS_URL });
  // One long-lived reader per output topic: joining a new group for every look costs seconds.
  const collectors = new Map<string, Promise<{ messages: KafkaMessage[]; next: Map<number, number>; consumer: Consumer }>>();
  const collectorFor = (topic: string) => {
    let collector = collectors.get(topic);
    if (!collector) {
      collector = (async () => {
        // read_committed: aborted transactions and markers are skipped, as analytics readers see the topic.
        const consumer = kafka.consumer({ groupId: `test-collector-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: COMMITTED_READER_FETCH_WAIT_MS });
        const state = { messages: [] as KafkaMessage[], next: new Map<number, number>(), consumer };
        // The position passes transaction markers too (batches of markers only have no messages).
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          if (payload.topic === topic) state.next.set(payload.partition, Math.max(state.next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
        });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message, partition }) => {
            state.messages.push(message);
            state.next.set(partition, Number(message.offset) + 1);
          },
        });
        return state;
      })();
      collectors.set(topic, collector);
    }
    return collector;
  };

  const redisKeys = async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found;
  };

  return {
    env,
    topics,
    prefix,
    codec,
    async produceEvents(events) {
      for (let i = 0; i < events.length; i += 1000) {
        await producer.send({
          topic: topics.events,
          messages: events.slice(i, i + 1000).map((e) => ({ key: e.customer_id, value: codec.encode(ids[topics.events], types.BehaviorEvent, e) })),
        });
      }
    },
    async produceProfiles(profiles) {
      await producer.send({
        topic: topics.profiles,
        messages: profiles.map((p) => ({
          key: p.customer_id,
          value: 'tombstone' in p ? null : codec.encode(ids[topics.profiles], types.CustomerProfile, p),
        })),
      });
    },
    async read<T>(topic: string, schema: SchemaName, count: number, timeoutMs?: number) {
      const messages = await readMessages(topic, count, timeoutMs);
      return Promise.all(messages.map((m) => codec.decode<T>(m.value!, types[schema])));
    },
    async readAll<T>(topic: string, schema: SchemaName) {
      const collector = await collectorFor(topic);
      // To the high watermarks: a transaction a service committed just before is in, its markers written or not.
      const highs = await topicEnds(kafka, topic);
      await waitFor(`every record of ${topic}`, () => highs.every((p) => (collector.next.get(p.partition) ?? 0) >= Number(p.high)));
      return Promise.all(collector.messages.map((m) => codec.decode<T>(m.value!, types[schema])));
    },
    redisKeys,
    async outboxesDrained(timeoutMs = 30_000) {
      // LTRIM that empties a list deletes the key.
      await waitFor('the outboxes to be relayed and trimmed', async () => (await redisKeys()).every((key) => !key.endsWith(':outbox')), timeoutMs);
    },
    async close() {
      for (const collector of collectors.values()) await (await collector).consumer.disconnect();
      const keys = await redisKeys();
      for (const key of keys) await redis.del(key);
      await producer.disconnect();
      redis.disconnect();
    },
  };
}
