import { randomBytes } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { AvroCodec, recordTypes } from '../../../services/kit/codec';
import { bindTopic } from '../../../services/kit/consumer-runner';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { behaviorEvent, behaviorEventProblem, type BehaviorEvent } from '../../../services/core/types';
import { connectedProducer, createTopics, randomTopic, readMessages, registerValueSchema, REGISTRY_URL, waitFor } from '../../support/stack';
import { startTestRunner, type TestRunner } from '../../support/runner';

const types = recordTypes();

describe('poison records go to the DLQ and the partition moves on', () => {
  const topic = randomTopic('poison');
  const codec = AvroCodec.connect(REGISTRY_URL);
  let producer: Producer;
  let consumer: TestRunner | undefined;

  beforeAll(async () => {
    // One partition: the poison sits between valid records of the same partition.
    await createTopics([topic, dlqTopic(topic)], 1);
    producer = await connectedProducer();
  });
  afterAll(async () => {
    await consumer?.stop();
    await producer.disconnect();
  });

  it('dead-letters random bytes, a garbage Avro body, a wrong magic byte, an unknown schema id and an empty customer_id, keeping the valid ones', async () => {
    const id = await registerValueSchema(codec, topic, 'BehaviorEvent');
    const valid = (n: number) =>
      codec.encode(id, types.BehaviorEvent, behaviorEvent({ event_id: `ok-${n}`, customer_id: `c-${n}`, type: 'page_view', occurred_at: 1795861190000 + n }));
    const goodBody = valid(99);
    const wrongMagic = Buffer.from(goodBody);
    wrongMagic[0] = 1;
    const unknownId = Buffer.from(goodBody);
    unknownId.writeInt32BE(2_000_000_000, 1);
    const emptyCustomer = codec.encode(id, types.BehaviorEvent, behaviorEvent({ event_id: 'bad-1', customer_id: '', type: 'page_view', occurred_at: 1795861190000 }));
    const garbageBody = Buffer.concat([goodBody.subarray(0, 5), Buffer.from('ffffffffffffffffffff', 'hex')]);
    const poison = [
      { key: 'p-random', value: randomBytes(48), reason: /^(wire-format|unknown-schema-id|undecodable)$/ },
      { key: 'p-garbage', value: garbageBody, reason: 'undecodable' },
      { key: 'p-magic', value: wrongMagic, reason: 'wire-format' },
      { key: 'p-unknown', value: unknownId, reason: 'unknown-schema-id' },
      { key: 'p-empty', value: emptyCustomer, reason: 'invalid' },
    ];
    await producer.send({
      topic,
      messages: [
        { key: 'c-1', value: valid(1) },
        { ...poison[0], headers: { origin: 'test' } },
        { key: 'c-2', value: valid(2) },
        poison[1],
        poison[2],
        poison[3],
        { key: 'c-3', value: valid(3) },
        poison[4],
        { key: 'c-4', value: valid(4) },
      ].map((m) => ({ key: m.key, value: m.value, headers: 'headers' in m ? m.headers : undefined })),
    });

    consumer = await startTestRunner({
      producer,
      bindings: [bindTopic<BehaviorEvent>({ topic, type: types.BehaviorEvent, validate: (e) => behaviorEventProblem(e) })],
    });
    const runner = consumer;
    await waitFor('the 4 valid records', () => runner.records.length >= 4);
    expect(runner.records.map((r) => (r.value as BehaviorEvent).event_id)).toEqual(['ok-1', 'ok-2', 'ok-3', 'ok-4']);

    const dead = await readMessages(dlqTopic(topic), 5);
    expect(dead).toHaveLength(5);
    const offsets: Record<string, string> = { 'p-random': '1', 'p-garbage': '3', 'p-magic': '4', 'p-unknown': '5', 'p-empty': '7' };
    for (const expected of poison) {
      const record = dead.find((m) => m.key?.toString() === expected.key);
      expect(record).toBeDefined();
      const header = (name: string) => record!.headers?.[name]?.toString();
      expect(record!.value).toEqual(expected.value); // original bytes, untouched
      expect(header(DLQ_HEADERS.topic)).toBe(topic);
      expect(header(DLQ_HEADERS.partition)).toBe('0');
      expect(header(DLQ_HEADERS.offset)).toBe(offsets[expected.key]);
      expect(header(DLQ_HEADERS.reason)).toMatch(expected.reason);
      expect(header(DLQ_HEADERS.consumerGroup)).toBe(runner.groupId);
      expect(header(DLQ_HEADERS.exceptionClass)).toBe('PoisonRecordError');
      expect(header(DLQ_HEADERS.exceptionMessage)).toBeTruthy();
    }
    expect(dead.find((m) => m.key?.toString() === 'p-random')!.headers?.origin?.toString()).toBe('test');
    expect(dead.find((m) => m.key?.toString() === 'p-empty')!.headers?.[DLQ_HEADERS.exceptionMessage]?.toString()).toBe('customer_id is empty');

    const counted = await runner.metrics.recordsDeadLettered.get();
    const total = counted.values.reduce((sum, v) => sum + v.value, 0);
    expect(total).toBe(5);
    const byReason = Object.fromEntries(counted.values.map((v) => [v.labels.reason, v.value]));
    expect(byReason.invalid).toBe(1);
    expect(byReason.undecodable).toBeGreaterThanOrEqual(1);
    await waitFor('offsets committed past the last record', async () => {
      const processed = await runner.metrics.recordsProcessed.get();
      return processed.values[0]?.value === 9;
    });
  });

  it('dead-letters what the handler rejects, and processes the rest of the batch', async () => {
    const topic2 = randomTopic('handler-poison');
    await createTopics([topic2, dlqTopic(topic2)], 1);
    const id = await registerValueSchema(codec, topic2, 'BehaviorEvent');
    await producer.send({
      topic: topic2,
      messages: [1, 2, 3].map((n) => ({
        key: `c-${n}`,
        value: codec.encode(id, types.BehaviorEvent, behaviorEvent({ event_id: `e-${n}`, customer_id: `c-${n}`, type: 'purchase', occurred_at: 1795861190000 })),
      })),
    });
    const handled = await startTestRunner({
      producer,
      bindings: [bindTopic({ topic: topic2, type: types.BehaviorEvent })],
      handler: async (records) => ({
        deadLetters: records.filter((r) => (r.value as BehaviorEvent).event_id === 'e-2').map((record) => ({ record, error: new Error('template "offer" failed: missing partial') })),
      }),
    });
    try {
      const [dead] = await readMessages(dlqTopic(topic2), 1);
      expect(dead.key?.toString()).toBe('c-2');
      expect(dead.headers?.[DLQ_HEADERS.reason]?.toString()).toBe('processing');
      expect(dead.headers?.[DLQ_HEADERS.stage]?.toString()).toBe('PROCESSING');
      expect(dead.headers?.[DLQ_HEADERS.exceptionMessage]?.toString()).toContain('missing partial');
      expect(handled.records).toHaveLength(3);
    } finally {
      await handled.stop();
    }
  });
});
