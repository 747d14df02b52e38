/**
 * Dead letters and Kafka's size limit (found by the chaos suite's hostile records, issue 14). The
 * broker refuses a record batch over message.max.bytes (1,048,588 bytes by default). Before, the
 * runner sent all dead letters of a batch in one send, so a record at the input's size limit
 * (its copy larger by the DLQ headers), two large poison records fetched together, or thousands
 * of small ones stopped the service on MESSAGE_TOO_LARGE, again after every restart. Now the
 * copies go in sends of bounded size, and a single copy the broker still refuses is sent
 * without its value, with a header saying so.
 */
import pino from 'pino';
import type { KafkaMessage, Message, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { AvroCodec } from '../../../services/kit/codec';
import { ConsumerRunner, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { DEAD_LETTER_SEND_BYTES, DLQ_HEADERS, deadLetterSends } from '../../../services/kit/dlq';
import { PoisonRecordError } from '../../../services/kit/poison';
import { stubBatch, stubConsumer, stubPayload } from '../../support/stub-consumer';

const TOPIC = 'behavior.events';
const NOW = Date.parse('2026-12-01T10:00:00Z');
/** The broker's default message.max.bytes. */
const BROKER_LIMIT = 1_048_588;

/** Every value is poison: the codec refuses it as not the wire format. */
const poisonCodec = {
  decodeKnown: (buffer: Buffer) => {
    throw new PoisonRecordError('wire-format', `magic byte is ${buffer[0]}, expected 0 (Confluent wire format)`);
  },
  learnWriter: async () => undefined,
} as unknown as AvroCodec;

const size = (m: Message) =>
  (m.value?.length ?? 0) + (m.key?.length ?? 0) + Object.entries(m.headers ?? {}).reduce((sum, [k, v]) => sum + k.length + String(v).length, 0);

async function harness(options: { fail?: (messages: Message[]) => Error | null } = {}) {
  const { consumer, eachBatch, commits } = stubConsumer();
  const sends: Message[][] = [];
  const producer = {
    send: async ({ messages }: { messages: Message[] }) => {
      const refused =
        options.fail?.(messages) ??
        (messages.reduce((sum, m) => sum + size(m) + 32, 61) > BROKER_LIMIT
          ? Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false })
          : null);
      if (refused) throw refused;
      sends.push(messages);
      return [];
    },
  } as unknown as Producer;
  const runner = new ConsumerRunner({
    consumer,
    producer,
    codec: poisonCodec,
    logger: pino({ level: 'silent' }),
    instrumentation: { batchProcessed: () => undefined, deadLettered: () => undefined },
    service: 'test',
    groupId: 'test',
    bindings: [{ topic: TOPIC, type: {} as Type } as AnyTopicBinding],
    handler: async () => undefined,
    clock: () => NOW,
  });
  await runner.start();
  let offset = 0;
  return {
    sends,
    commits,
    batch(values: Buffer[]) {
      const messages: KafkaMessage[] = values.map((value) => ({ key: Buffer.from(`c-${offset}`), value, offset: String(offset++), timestamp: String(NOW), attributes: 0, headers: {} }));
      return eachBatch(stubPayload(stubBatch(TOPIC, messages)));
    },
  };
}

const offsets = (sends: Message[][]) => sends.flat().map((m) => Number(m.headers?.[DLQ_HEADERS.offset]));

describe('dead letters and the broker size limit', () => {
  it('sends the copies of ten thousand small poison records in bounded sends, in order, and commits', async () => {
    const h = await harness();
    await h.batch(Array.from({ length: 10_000 }, (_, i) => Buffer.from(`\u0001random bytes ${i} `.repeat(5))));
    expect(offsets(h.sends)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(h.sends.length).toBeGreaterThan(10);
    for (const send of h.sends) expect(send.reduce((sum, m) => sum + size(m), 0)).toBeLessThanOrEqual(DEAD_LETTER_SEND_BYTES);
    expect(h.commits.at(-1)?.offset).toBe('10000');
  });

  it('sends two 600 KB poison records of one batch separately, values intact', async () => {
    const h = await harness();
    const big = [Buffer.alloc(600_000, 1), Buffer.alloc(600_000, 2)];
    await h.batch([big[0], Buffer.from([1, 2, 3]), big[1]]);
    expect(h.sends.map((send) => send.length)).toEqual([1, 1, 1]);
    expect(h.sends.flat().map((m) => (m.value as Buffer).length)).toEqual([600_000, 3, 600_000]);
    expect(h.commits.at(-1)?.offset).toBe('3');
  });

  it('sends a copy the broker refuses as too large without its value, saying so, and goes on', async () => {
    const h = await harness();
    // The largest value the local broker took in one record: its copy is over once the headers are added.
    await h.batch([Buffer.from([7, 7, 7]), Buffer.alloc(1_048_513, 1)]);
    expect(h.sends.map((send) => send.length)).toEqual([1, 1]);
    const [small, big] = h.sends.flat();
    expect((small.value as Buffer).length).toBe(3);
    expect(small.headers?.[DLQ_HEADERS.valueDropped]).toBeUndefined();
    expect(big.value).toBeNull();
    expect(String(big.key)).toBe('c-1');
    expect(big.headers?.[DLQ_HEADERS.offset]).toBe('1');
    expect(big.headers?.[DLQ_HEADERS.reason]).toBe('wire-format');
    expect(String(big.headers?.[DLQ_HEADERS.valueDropped])).toMatch(/^1048513 bytes: the copy was larger than the DLQ topic takes/);
    expect(h.commits.at(-1)?.offset).toBe('2');
  });

  it('still fails the batch on any other error of the DLQ send (nothing committed)', async () => {
    const h = await harness({ fail: () => Object.assign(new Error('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false }) });
    await expect(h.batch([Buffer.from([1])])).rejects.toThrow(/Not authorized/);
    expect(h.commits).toEqual([]);
  });

  it('groups in order, a message over the bound alone', () => {
    const m = (bytes: number): Message => ({ key: null, value: Buffer.alloc(bytes) });
    const groups = deadLetterSends([m(100), m(100), m(1000), m(100), m(100), m(100)], 300);
    expect(groups.map((g) => g.map((x) => (x.value as Buffer).length))).toEqual([[100, 100], [1000], [100, 100], [100]]); // 132 bytes each with the record overhead
    const roomy = deadLetterSends([m(10), m(10), m(1000), m(10)], 1100);
    expect(roomy.map((g) => g.length)).toEqual([2, 2]); // 42 + 42 + 1032 > 1100; 1032 + 42 <= 1100
  });
});
