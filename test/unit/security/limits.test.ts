/**
 * Limits at the edge (issue 11, "Sizes"): every string, map and number of a BehaviorEvent and a
 * CustomerProfile is bounded where a consuming service decodes it. Records go through the real
 * input bindings (kit/inputs.ts), the real ConsumerRunner and the real Avro codec (its registry
 * stubbed), so what is checked is what a service does. At the limit a record is handled; over
 * it, it is dead-lettered with reason `over-limit` and a message naming the field, its size and
 * the limit, and neither the DLQ headers nor the log lines carry the value.
 *
 * The limits are written here as numbers, as docs/producers.md promises them to producers.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Batch, EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import { AvroCodec, recordTypes } from '../../../services/kit/codec';
import { ConsumerRunner, type ConsumedRecord } from '../../../services/kit/consumer-runner';
import { DLQ_HEADERS } from '../../../services/kit/dlq';
import { behaviorEventsInput, customerProfilesInput } from '../../../services/kit/inputs';
import { behaviorEvent, customerProfile, type BehaviorEvent, type CustomerProfile } from '../../../services/core/types';
import { parseLine } from '../../../services/tools/produce';
import { stubConsumer } from '../../support/stub-consumer';

const NOW = Date.parse('2026-11-28T10:00:00Z');
const T = NOW - 60_000;
const types = recordTypes();
const SCHEMA_ID = { events: 1, profiles: 2 } as const;

/** What a value of a test is made of: a marker no reason, header name or log field contains. */
const MARK = 'Q';
const marked = (length: number) => MARK.repeat(length);
const LEAK = MARK.repeat(8);

type Kind = 'events' | 'profiles';

interface Run {
  handled: ConsumedRecord<unknown>[];
  dead: Message[];
  reasons: string[];
  logs: string;
  decoded: number;
}

/** Runs one batch of records (values as objects, raw bytes, or null for a tombstone) through a real input binding. */
async function run(kind: Kind, records: Array<{ key: string; value: BehaviorEvent | CustomerProfile | Buffer | null }>): Promise<Run> {
  const { consumer, eachBatch } = stubConsumer();
  const dead: Message[] = [];
  const producer = { send: async ({ messages }: { messages: Message[] }) => (dead.push(...messages), []) } as unknown as Producer;
  const registry = { getSchema: async (id: number) => (id === SCHEMA_ID.events ? types.BehaviorEvent : types.CustomerProfile) } as unknown as SchemaRegistry;
  const codec = new AvroCodec(registry);
  let decoded = 0;
  type Reader = Parameters<AvroCodec['decode']>[1];
  const counting = {
    decodeKnown: (bytes: Buffer, type: Reader) => ((decoded += 1), codec.decodeKnown(bytes, type)),
    learnWriter: (bytes: Buffer, type: Reader) => codec.learnWriter(bytes, type),
  } as unknown as AvroCodec;
  let logs = '';
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => ((logs += String(chunk)), done()) }));
  const handled: ConsumedRecord<unknown>[] = [];
  const reasons: string[] = [];
  const topic = kind === 'events' ? 'behavior.events' : 'customer.profiles';
  const binding = kind === 'events' ? behaviorEventsInput(topic, types.BehaviorEvent) : customerProfilesInput(topic, types.CustomerProfile);
  const runner = new ConsumerRunner({
    consumer,
    producer,
    codec: counting,
    logger,
    instrumentation: { batchProcessed: () => undefined, deadLettered: (_topic, reason) => reasons.push(reason) },
    service: 'test',
    groupId: 'test-group',
    bindings: [binding],
    handler: async (batch) => void handled.push(...batch),
    clock: () => NOW,
  });
  await runner.start();
  const type = kind === 'events' ? types.BehaviorEvent : types.CustomerProfile;
  const messages: KafkaMessage[] = records.map(({ key, value }, offset) => ({
    key: Buffer.from(key),
    value: value === null || Buffer.isBuffer(value) ? value : codec.encode(SCHEMA_ID[kind], type, value),
    offset: String(offset),
    timestamp: String(NOW),
    attributes: 0,
    headers: {},
  }));
  const last = String(messages.length - 1);
  await eachBatch({
    batch: {
      topic,
      partition: 0,
      messages,
      highWatermark: String(messages.length),
      isEmpty: () => messages.length === 0,
      firstOffset: () => '0',
      lastOffset: () => last,
      offsetLag: () => '0',
      offsetLagLow: () => '0',
    } as unknown as Batch,
    heartbeat: async () => undefined,
    resolveOffset: () => undefined,
    commitOffsetsIfNecessary: async () => undefined,
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
    pause: () => () => undefined,
  } as unknown as EachBatchPayload);
  return { handled, dead, reasons, logs, decoded };
}

const event = (fields: Partial<BehaviorEvent> = {}) =>
  behaviorEvent({ event_id: 'e-1', customer_id: 'c-1', type: 'purchase', occurred_at: T, ...fields });
const profile = (fields: Partial<CustomerProfile> = {}) => customerProfile({ customer_id: 'c-1', updated_at: T, ...fields });
const recordOf = (kind: Kind, fields: Record<string, unknown>) => {
  const value = kind === 'events' ? event(fields) : profile(fields);
  return { key: value.customer_id, value };
};

const header = (message: Message, name: string) => message.headers?.[name]?.toString();
/** Every header value of the dead letters, as one text. */
const headerText = (dead: Message[]) => dead.map((m) => Object.values(m.headers ?? {}).map(String).join('\n')).join('\n');

/** Runs the at-limit and the over-limit record; expects the first handled, the second dead-lettered with `message`. */
async function expectBound(kind: Kind, at: Record<string, unknown>, over: Record<string, unknown>, message: string | RegExp, reason = 'over-limit') {
  const result = await run(kind, [recordOf(kind, at), recordOf(kind, over)]);
  expect(result.handled.map((r) => r.offset)).toEqual(['0']);
  expect(result.dead).toHaveLength(1);
  expect(header(result.dead[0], DLQ_HEADERS.offset)).toBe('1');
  expect(header(result.dead[0], DLQ_HEADERS.reason)).toBe(reason);
  expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toMatch(message);
  expect(result.reasons).toEqual([reason]);
  // The value is in the DLQ record's bytes, where it came from; never in its headers or a log line.
  expect(headerText(result.dead)).not.toContain(LEAK);
  expect(result.logs).toContain('record dead-lettered');
  expect(result.logs).not.toContain(LEAK);
  return result;
}

describe('limits at the edge: strings', () => {
  // [kind, field, most characters], as docs/producers.md lists them.
  const TEXT: Array<[Kind, string, number]> = [
    ['events', 'event_id', 128],
    ['events', 'type', 64],
    ['events', 'product_id', 128],
    ['events', 'category', 256],
    ['events', 'order_id', 128],
    ['events', 'campaign_id', 128],
    ['events', 'message_id', 128],
    ['profiles', 'email', 254],
    ['profiles', 'first_name', 256],
    ['profiles', 'last_name', 256],
    ['profiles', 'locale', 35],
    ['profiles', 'timezone', 64],
  ];

  it.each(TEXT)('%s: %s of %i characters passes, one more is dead-lettered, naming field, size and limit', async (kind, field, limit) => {
    await expectBound(kind, { [field]: marked(limit) }, { [field]: marked(limit + 1) }, `${field} is ${limit + 1} characters; at most ${limit}`);
  });

  it.each([['events'], ['profiles']] as Array<[Kind]>)('%s: customer_id (and so the key) of 128 characters passes, 129 is dead-lettered', async (kind) => {
    await expectBound(kind, { customer_id: marked(128) }, { customer_id: marked(129) }, /^(customer_id|record key) is 129 characters; at most 128$/);
  });

  it('country: 3 characters (alpha-2 or alpha-3) pass, 4 are dead-lettered', async () => {
    await expectBound('profiles', { country: 'DEU' }, { country: 'DEUT' }, 'country is 4 characters; at most 3');
  });

  it('currency: a 3-letter ISO 4217 code passes; 4 characters are over the limit, lower case or digits invalid', async () => {
    await expectBound('events', { currency: 'EUR' }, { currency: 'EURO' }, 'currency is 4 characters; at most 3');
    await expectBound('events', { currency: 'JPY' }, { currency: 'eur' }, /^currency is not an ISO 4217 code/, 'invalid');
  });

  it('counts characters as code points: 256 emoji (512 UTF-16 units) are a 256-character first_name', async () => {
    const result = await run('profiles', [recordOf('profiles', { first_name: '😀'.repeat(256) }), recordOf('profiles', { first_name: '😀'.repeat(257) })]);
    expect(result.handled.map((r) => r.offset)).toEqual(['0']);
    expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toBe('first_name is 257 characters; at most 256');
  });

  it('a 1 MB first_name is dead-lettered with its size, never its value', async () => {
    const result = await run('profiles', [recordOf('profiles', { first_name: marked(1_000_000) })]);
    expect(result.handled).toEqual([]);
    expect(header(result.dead[0], DLQ_HEADERS.reason)).toBe('over-limit');
    expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toBe('first_name is 1000000 characters; at most 256');
    expect(headerText(result.dead)).not.toContain(LEAK);
    expect(result.logs).not.toContain(LEAK);
    expect(result.logs.length).toBeLessThan(2000);
  });
});

describe('limits at the edge: numbers', () => {
  it('value_cents: 0 and 10^11 pass; -1, -1e15, 10^11 + 1 and 1e15 are dead-lettered without their value', async () => {
    const result = await run('events', [
      recordOf('events', { event_id: 'zero', value_cents: 0 }),
      recordOf('events', { event_id: 'max', value_cents: 100_000_000_000 }),
      recordOf('events', { event_id: 'minus-one', value_cents: -1 }),
      recordOf('events', { event_id: 'minus-1e15', value_cents: -1e15 }),
      recordOf('events', { event_id: 'over', value_cents: 100_000_000_001 }),
      recordOf('events', { event_id: '1e15', value_cents: 1e15 }),
    ]);
    expect(result.handled.map((r) => (r.value as BehaviorEvent).event_id)).toEqual(['zero', 'max']);
    expect(result.dead.map((m) => [header(m, DLQ_HEADERS.offset), header(m, DLQ_HEADERS.reason), header(m, DLQ_HEADERS.exceptionMessage)])).toEqual([
      ['2', 'over-limit', 'value_cents is below 0; it must be 0 to 100000000000'],
      ['3', 'over-limit', 'value_cents is below 0; it must be 0 to 100000000000'],
      ['4', 'over-limit', 'value_cents is above 100000000000; it must be 0 to 100000000000'],
      ['5', 'over-limit', 'value_cents is above 100000000000; it must be 0 to 100000000000'],
    ]);
    for (const leaked of ['1000000000000000', '100000000001']) {
      expect(headerText(result.dead)).not.toContain(leaked);
      expect(result.logs).not.toContain(leaked);
    }
  });

  it('quantity: 0 and 10^6 pass; -1 and 10^6 + 1 are dead-lettered', async () => {
    await expectBound('events', { quantity: 0 }, { quantity: -1 }, 'quantity is below 0; it must be 0 to 1000000');
    await expectBound('events', { quantity: 1_000_000 }, { quantity: 1_000_001 }, 'quantity is above 1000000; it must be 0 to 1000000');
  });
});

describe('limits at the edge: maps', () => {
  const entries = (count: number, value = 'v') => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, value]));

  it.each([['events', 'properties'], ['profiles', 'attributes']] as Array<[Kind, string]>)('%s: %s of 50 entries pass, 51 are dead-lettered', async (kind, field) => {
    await expectBound(kind, { [field]: entries(50) }, { [field]: entries(51) }, `${field} has 51 entries; at most 50`);
  });

  it.each([['events', 'properties'], ['profiles', 'attributes']] as Array<[Kind, string]>)('%s: %s keys of 64 characters pass, 65 are dead-lettered, named by position', async (kind, field) => {
    await expectBound(kind, { [field]: { a: 'v', [marked(64)]: 'v' } }, { [field]: { a: 'v', [marked(65)]: 'v' } }, `${field} key #2 is 65 characters; at most 64`);
  });

  it.each([['events', 'properties'], ['profiles', 'attributes']] as Array<[Kind, string]>)('%s: %s values of 1024 characters pass, 1025 are dead-lettered, naming the key', async (kind, field) => {
    await expectBound(kind, { [field]: { note: marked(1024) } }, { [field]: { note: marked(1025) } }, `${field} value of key "note" is 1025 characters; at most 1024`);
  });

  it('names a key that is not field-like (it may itself be customer data) by position only', async () => {
    const result = await run('profiles', [recordOf('profiles', { attributes: { tier: 'gold', 'QQQQQQQQ@example.com': marked(2000) } })]);
    expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toBe('attributes value of key #2 is 2000 characters; at most 1024');
    expect(headerText(result.dead)).not.toContain(LEAK);
    expect(result.logs).not.toContain(LEAK);
  });
});

describe('limits at the edge: the whole record', () => {
  it('every field at its limit in ASCII fits the 64 KiB record bound; multi-byte text beyond it is dead-lettered by its bytes', async () => {
    const fifty = (char: string) => Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`key-${String(i).padStart(2, '0')}-${'k'.repeat(57)}`, char.repeat(1024)]));
    const full = { event_id: marked(128), product_id: marked(128), category: marked(256), order_id: marked(128), campaign_id: marked(128), message_id: marked(128) };
    const result = await run('events', [recordOf('events', { ...full, properties: fifty('a') }), recordOf('events', { ...full, properties: fifty('€') })]);
    expect(result.handled.map((r) => r.offset)).toEqual(['0']);
    expect(header(result.dead[0], DLQ_HEADERS.reason)).toBe('over-limit');
    expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toMatch(/^record is \d{6} bytes; at most 65536$/);
  });

  it('a record over 1 MiB is dead-lettered without being decoded', async () => {
    const huge = Buffer.alloc(2 * 1024 * 1024, 0x51);
    huge[0] = 0;
    const result = await run('profiles', [{ key: 'c-1', value: huge }]);
    expect(result.decoded).toBe(0);
    expect(header(result.dead[0], DLQ_HEADERS.reason)).toBe('over-limit');
    expect(header(result.dead[0], DLQ_HEADERS.exceptionMessage)).toBe('record is 2097152 bytes, more than the 1048576 this service decodes');
  });

  it('a tombstone whose key is over the customer_id limit is dead-lettered, and a key that is not the customer_id is named without either', async () => {
    const result = await run('profiles', [
      { key: marked(129), value: null },
      { key: 'QQQQQQQQ-other', value: profile({ customer_id: 'QQQQQQQQ-mine' }) },
    ]);
    expect(result.handled).toEqual([]);
    expect(result.dead.map((m) => [header(m, DLQ_HEADERS.reason), header(m, DLQ_HEADERS.exceptionMessage)])).toEqual([
      ['over-limit', 'record key is 129 characters; at most 128'],
      ['invalid', "record key is not the record's customer_id; produce with the customer_id (UTF-8) as key"],
    ]);
    expect(headerText(result.dead)).not.toContain(LEAK);
    expect(result.logs).not.toContain(LEAK);
  });
});

describe('limits at the edge: control characters', () => {
  it('ids, names, codes and map keys take none; map values may hold tabs and line breaks', async () => {
    await expectBound('profiles', { first_name: 'Ann-Marie' }, { first_name: `${LEAK}\r\nBcc: x` }, 'first_name contains the control character U+000D', 'invalid');
    await expectBound('events', { event_id: 'e-1' }, { event_id: `${LEAK}\u0000` }, 'event_id contains the control character U+0000', 'invalid');
    await expectBound('events', { category: 'shoes' }, { category: `${LEAK}\u0085` }, 'category contains the control character U+0085', 'invalid');
    await expectBound('events', { properties: { note: `a\tb\r\nc` } }, { properties: { note: `${LEAK}\u001b[31m` } }, 'properties value of key "note" contains the control character U+001B', 'invalid');
    await expectBound('profiles', { attributes: { tier: 'gold' } }, { attributes: { [`${LEAK}\n`]: 'gold' } }, 'attributes key #1 contains the control character U+000A', 'invalid');
  });
});

describe('limits at the edge: a malformed address is the renderer\'s to refuse', () => {
  it('passes a profile whose email holds a line break or a list, so the customer is still segmented (the renderer suppresses it with invalid_address)', async () => {
    const result = await run('profiles', [
      recordOf('profiles', { email: 'm5@example.com\r\nBcc: evil@attacker.example' }),
      recordOf('profiles', { email: 'm6@example.com, evil@attacker.example' }),
    ]);
    expect(result.handled.map((r) => r.offset)).toEqual(['0', '1']);
    expect(result.dead).toHaveLength(0);
  });
});

describe('the produce tool refuses what the services would dead-letter, before sending', () => {
  const line = (fields: Record<string, unknown>) => JSON.stringify({ event_id: 'e-1', customer_id: 'c-1', type: 'purchase', occurred_at: T, ...fields });
  const profileLine = (fields: Record<string, unknown>) => JSON.stringify({ customer_id: 'c-1', updated_at: T, ...fields });
  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('the line was accepted');
  };

  it('accepts records at the limits', () => {
    expect(parseLine('events', line({ value_cents: 100_000_000_000, quantity: 1_000_000, event_id: marked(128) }), 1, types.BehaviorEvent).value).toMatchObject({ value_cents: 100_000_000_000 });
    expect(parseLine('profiles', profileLine({ first_name: marked(256) }), 1, types.CustomerProfile).value).toMatchObject({ customer_id: 'c-1' });
  });

  it.each([
    ['value_cents -1e15', 'events', line({ value_cents: -1e15 }), 'line 3: value_cents is below 0; it must be 0 to 100000000000'],
    ['value_cents 1e15', 'events', line({ value_cents: 1e15 }), 'line 3: value_cents is above 100000000000; it must be 0 to 100000000000'],
    ['51 properties', 'events', line({ properties: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }), 'line 3: properties has 51 entries; at most 50'],
    ['a 1 MB first_name', 'profiles', profileLine({ first_name: marked(1_000_000) }), 'line 3: first_name is 1000000 characters; at most 256'],
    ['a tombstone with a 129-character customer_id', 'profiles', JSON.stringify({ customer_id: marked(129), tombstone: true }), 'line 3: customer_id is 129 characters; at most 128'],
  ] as Array<[string, Kind, string, string]>)('refuses %s, naming the line, the field, its size and the limit, not the value', (_name, kind, text, expected) => {
    const message = refusal(() => parseLine(kind, text, 3, kind === 'events' ? types.BehaviorEvent : types.CustomerProfile));
    expect(message.startsWith(expected)).toBe(true);
    expect(message).toContain('docs/producers.md');
    expect(message).not.toContain(LEAK);
    expect(message).not.toContain('1000000000000000');
  });

  it('refuses a record whose encoding is over 64 KiB', () => {
    const properties = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, '€'.repeat(1024)]));
    expect(refusal(() => parseLine('events', line({ properties }), 7, types.BehaviorEvent))).toMatch(/^line 7: record is \d+ bytes; at most 65536/);
  });
});
