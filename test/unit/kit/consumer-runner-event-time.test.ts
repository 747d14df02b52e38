/**
 * The runner's event-time bound, with stub collaborators (no broker): a record whose event time
 * is more than MAX_CLOCK_SKEW ahead of the injected clock is dead-lettered as 'future-time'
 * with a message an operator can act on, and never reaches the handler.
 */
import pino from 'pino';
import type { Batch, EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { AvroCodec } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { ConsumerRunner, DEFAULT_MAX_CLOCK_SKEW_MS, type ConsumedRecord, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { consumerServiceShape } from '../../../services/kit/consumer-service';
import { DLQ_HEADERS } from '../../../services/kit/dlq';
import type { PoisonReason } from '../../../services/kit/poison';
import { stubConsumer } from '../../support/stub-consumer';

const TOPIC = 'behavior.events';
const MINUTE = 60_000;
const NOW = Date.parse('2026-11-28T10:00:00Z');
const YEAR_3000 = Date.parse('3000-01-01T00:00:00Z');

/** Values travel as JSON: the codec stub only parses (every writer schema known), so a test writes plain objects. */
const jsonCodec = { decodeKnown: (buffer: Buffer) => JSON.parse(buffer.toString('utf8')), learnWriter: async () => undefined } as unknown as AvroCodec;

interface Harness {
  /** Runs one batch of `values` (null = tombstone) through the runner, as kafkajs would. */
  batch(values: Array<Record<string, unknown> | null>): Promise<void>;
  handled: ConsumedRecord<unknown>[];
  deadLetters: Message[];
  reasons: PoisonReason[];
}

async function harness(options: { binding?: Partial<AnyTopicBinding>; clock: () => number; maxClockSkewMs?: number }): Promise<Harness> {
  const { consumer, eachBatch } = stubConsumer();
  const deadLetters: Message[] = [];
  const producer = {
    send: async ({ messages }: { messages: Message[] }) => {
      deadLetters.push(...messages);
      return [];
    },
  } as unknown as Producer;
  const handled: ConsumedRecord<unknown>[] = [];
  const reasons: PoisonReason[] = [];
  const binding = { topic: TOPIC, type: {} as Type, keyField: 'customer_id', eventTimeField: 'occurred_at', tombstones: true, ...options.binding } as AnyTopicBinding;
  const runner = new ConsumerRunner({
    consumer,
    producer,
    codec: jsonCodec,
    logger: pino({ level: 'silent' }),
    instrumentation: { batchProcessed: () => undefined, deadLettered: (_topic, reason) => reasons.push(reason) },
    service: 'test',
    groupId: 'test-group',
    bindings: [binding],
    handler: async (records) => {
      handled.push(...records);
    },
    clock: options.clock,
    maxClockSkewMs: options.maxClockSkewMs,
  });
  await runner.start();
  let offset = 0;
  return {
    handled,
    deadLetters,
    reasons,
    async batch(values) {
      const messages: KafkaMessage[] = values.map((value) => ({
        key: Buffer.from(String(value?.customer_id ?? 'c-tomb')),
        value: value === null ? null : Buffer.from(JSON.stringify(value)),
        offset: String(offset++),
        timestamp: String(NOW),
        attributes: 0,
        headers: {},
      }));
      const last = messages[messages.length - 1].offset;
      const batch = {
        topic: TOPIC,
        partition: 0,
        messages,
        highWatermark: String(offset),
        isEmpty: () => messages.length === 0,
        firstOffset: () => messages[0].offset,
        lastOffset: () => last,
        offsetLag: () => '0',
        offsetLagLow: () => '0',
      } as unknown as Batch;
      await eachBatch({
        batch,
        heartbeat: async () => undefined,
        resolveOffset: () => undefined,
        commitOffsetsIfNecessary: async () => undefined,
        uncommittedOffsets: () => ({ topics: [] }),
        isRunning: () => true,
        isStale: () => false,
        pause: () => () => undefined,
      } as unknown as EachBatchPayload);
    },
  };
}

const event = (customer: string, occurredAt: unknown) => ({ event_id: `${customer}-e`, customer_id: customer, type: 'product_view', occurred_at: occurredAt });
const header = (message: Message, name: string) => String(message.headers?.[name]);

describe('ConsumerRunner: event times ahead of the clock', () => {
  it('accepts a time exactly MAX_CLOCK_SKEW ahead and dead-letters one a millisecond further, as future-time', async () => {
    const h = await harness({ clock: () => NOW });
    await h.batch([event('at-edge', NOW + DEFAULT_MAX_CLOCK_SKEW_MS), event('past-edge', NOW + DEFAULT_MAX_CLOCK_SKEW_MS + 1), event('past', NOW - MINUTE)]);
    expect(h.handled.map((r) => r.key)).toEqual(['at-edge', 'past']);
    expect(h.deadLetters.map((m) => String(m.key))).toEqual(['past-edge']);
    expect(header(h.deadLetters[0], DLQ_HEADERS.reason)).toBe('future-time');
    expect(header(h.deadLetters[0], DLQ_HEADERS.offset)).toBe('1');
    expect(h.reasons).toEqual(['future-time']);
  });

  it('names the field, the time as ISO, how far ahead and the variable to change', async () => {
    const h = await harness({ clock: () => NOW });
    await h.batch([event('far', YEAR_3000)]);
    expect(h.handled).toEqual([]);
    const message = header(h.deadLetters[0], DLQ_HEADERS.exceptionMessage);
    expect(message).toMatch(/^occurred_at 3000-01-01T00:00:00\.000Z is \d+d \d+h ahead of this service's clock \(2026-11-28T10:00:00\.000Z\), more than MAX_CLOCK_SKEW \(5m\)/);
    expect(message).toContain('raise MAX_CLOCK_SKEW');
    expect(header(h.deadLetters[0], DLQ_HEADERS.exceptionClass)).toBe('PoisonRecordError');
  });

  it('takes the tolerance from the options and reads the injected clock at each record, not Date.now', async () => {
    let now = NOW;
    const h = await harness({ clock: () => now, maxClockSkewMs: 60 * MINUTE });
    await h.batch([event('in-hour', NOW + 60 * MINUTE), event('beyond-hour', NOW + 61 * MINUTE)]);
    expect(h.handled.map((r) => r.key)).toEqual(['in-hour']);
    expect(header(h.deadLetters[0], DLQ_HEADERS.exceptionMessage)).toContain('is 1h 1m ahead');
    expect(header(h.deadLetters[0], DLQ_HEADERS.exceptionMessage)).toContain('MAX_CLOCK_SKEW (1h)');
    now = NOW + 10 * MINUTE; // the same time is no longer beyond the tolerance
    await h.batch([event('beyond-hour', NOW + 61 * MINUTE)]);
    expect(h.handled.map((r) => r.key)).toEqual(['in-hour', 'beyond-hour']);
  });

  it('checks only bindings that name an event-time field, never a tombstone, and calls a non-number time invalid', async () => {
    const unchecked = await harness({ clock: () => NOW, binding: { eventTimeField: undefined } });
    await unchecked.batch([event('far', YEAR_3000)]);
    expect(unchecked.handled.map((r) => r.key)).toEqual(['far']);

    const checked = await harness({ clock: () => NOW });
    await checked.batch([null, event('no-time', null)]);
    expect(checked.handled.map((r) => r.value)).toEqual([null]);
    expect(header(checked.deadLetters[0], DLQ_HEADERS.reason)).toBe('invalid');
    expect(header(checked.deadLetters[0], DLQ_HEADERS.exceptionMessage)).toBe('occurred_at null is not an epoch-millisecond time');
  });
});

describe('MAX_CLOCK_SKEW', () => {
  const shape = consumerServiceShape({ httpPort: 0, groupId: 'g', timerIntervalMs: 1000 });
  it('defaults to 5 minutes and takes a duration with a unit', () => {
    expect(loadConfig(shape, {}).MAX_CLOCK_SKEW).toBe(5 * MINUTE);
    expect(DEFAULT_MAX_CLOCK_SKEW_MS).toBe(5 * MINUTE);
    expect(loadConfig(shape, { MAX_CLOCK_SKEW: '2h' }).MAX_CLOCK_SKEW).toBe(120 * MINUTE);
  });
  it('refuses a value that is not a duration, naming the variable', () => {
    expect(() => loadConfig(shape, { MAX_CLOCK_SKEW: 'soon' })).toThrow(/MAX_CLOCK_SKEW/);
  });
});
