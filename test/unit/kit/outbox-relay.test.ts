import type { Admin, Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import {
  CHECKPOINT_METADATA_MAX_BYTES,
  checkpointCoverOf,
  checkpointGroupOf,
  checkpointMetadataOf,
  checkpointOf,
  coverOfChunk,
  coverOfFence,
  coverOfRecord,
  decodeOutboxRecord,
  encodeOutboxRecord,
  isFencedError,
  lastRecordCover,
  mergeTopicMessages,
  OutboxRelay,
  OutboxTakenError,
  RelayFencedError,
  RelayTransactionError,
  RECLAIM_AFTER_MS,
  RELAY_SEND_TOGETHER_BYTES,
  groupedBySize,
  planRelay,
  splitBySize,
  topicMessagesOf,
  transactionalIdOf,
  type OutboxStore,
  type OwedTrim,
} from '../../../services/kit/outbox-relay';
import { loadConfig } from '../../../services/kit/config';
import { consumerServiceShape } from '../../../services/kit/consumer-service';
import { ConfigError } from '../../../services/kit/errors';
import { turns, turnsUntil } from '../../support/turns';

const entries = (...values: string[]) => values.map((v) => encodeOutboxRecord({ topic: v.startsWith('s') ? 'segment.changes' : 'triggers', key: v, value: Buffer.from(v) }));

/**
 * One partition's outbox in memory (incarnation 'i'): `records` from sequence number `base` on,
 * trimmed by sequence number as trimOutboxTo-2.lua does, and by a read's owed trim first
 * (`owed`, as readOutbox-4.lua does).
 */
const memoryOutbox = (records: string[]) => {
  const outbox = {
    records,
    base: 0,
    trimTo: async (_p: number, upTo: number, incarnation = 'i') => {
      if (incarnation !== 'i') return 0;
      const n = Math.min(Math.max(0, upTo - outbox.base), records.length);
      records.splice(0, n);
      outbox.base += n;
      return n;
    },
    owed: async (trim: OwedTrim | undefined) => {
      if (trim !== undefined) await outbox.trimTo(0, trim.upTo, trim.incarnation);
    },
    claim: async () => '',
  };
  return outbox;
};

describe('planRelay: which outbox records a relay round produces', () => {
  it('produces everything from the head when nothing was committed beyond it', () => {
    expect(planRelay({ base: 10, entries: ['a', 'b', 'c'] }, null)).toEqual({ skip: 0, produce: ['a', 'b', 'c'], nextCheckpoint: 13 });
    expect(planRelay({ base: 10, entries: ['a', 'b', 'c'] }, 10)).toEqual({ skip: 0, produce: ['a', 'b', 'c'], nextCheckpoint: 13 });
  });

  it('skips the records at or below the checkpoint: committed before a crash, not trimmed', () => {
    expect(planRelay({ base: 10, entries: ['a', 'b', 'c'] }, 12)).toEqual({ skip: 2, produce: ['c'], nextCheckpoint: 13 });
    expect(planRelay({ base: 10, entries: ['a', 'b', 'c'] }, 13)).toEqual({ skip: 3, produce: [], nextCheckpoint: 13 });
  });

  it('a checkpoint behind the head (records trimmed since, an older owner) changes nothing', () => {
    expect(planRelay({ base: 10, entries: ['a'] }, 4)).toEqual({ skip: 0, produce: ['a'], nextCheckpoint: 11 });
  });

  it('a checkpoint beyond what the outbox holds skips it all and never moves back', () => {
    expect(planRelay({ base: 10, entries: ['a', 'b'] }, 20)).toEqual({ skip: 2, produce: [], nextCheckpoint: 20 });
    expect(planRelay({ base: 10, entries: [] }, null)).toEqual({ skip: 0, produce: [], nextCheckpoint: 10 });
  });
});

describe('checkpointOf: the committed relay checkpoint of this outbox', () => {
  it('is the committed offset when its metadata names this outbox incarnation, signed by a producer or not (before 2026-12-06)', () => {
    expect(checkpointOf({ offset: '42', metadata: checkpointMetadataOf('inc-1', 'p-1') }, 'inc-1')).toBe(42);
    expect(checkpointOf({ offset: '42', metadata: 'inc-1' }, 'inc-1')).toBe(42);
  });
  it('is none when nothing was committed, or for another incarnation (state lost or reset since)', () => {
    expect(checkpointOf(undefined, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '-1', metadata: null }, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '-1', metadata: 'inc-1/p-1' }, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '42', metadata: 'inc-0' }, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '42', metadata: 'inc-0/p-1' }, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '42', metadata: null }, 'inc-1')).toBeNull();
    // An incarnation that only begins like this one is another.
    expect(checkpointOf({ offset: '42', metadata: 'inc-10/p-1' }, 'inc-1')).toBeNull();
    expect(checkpointOf({ offset: '42', metadata: 'inc-1x' }, 'inc-1')).toBeNull();
  });
});

describe('relay covers: what a checkpoint records its outbox held the outputs of', () => {
  const cover = { incarnation: 'fence-1', offsets: { 'behavior.events': '41', 'customer.profiles': '7' }, timersThrough: 1_800_000_000_000 };

  it('travels in the checkpoint metadata and reads back; the checkpoint still reads as before', () => {
    const metadata = checkpointMetadataOf('inc-1', 'p-1', cover);
    expect(checkpointCoverOf({ offset: '42', metadata })).toEqual(cover);
    expect(checkpointOf({ offset: '42', metadata }, 'inc-1')).toBe(42);
    expect(checkpointOf({ offset: '42', metadata }, 'inc-2')).toBeNull();
    expect(checkpointCoverOf({ offset: '42', metadata: checkpointMetadataOf('inc-1', 'p-1', { ...cover, timersThrough: null }) })).toEqual({ ...cover, timersThrough: null });
  });

  it('is none without one, in the older forms, and when malformed (never a guess)', () => {
    expect(checkpointCoverOf({ offset: '42', metadata: checkpointMetadataOf('inc-1', 'p-1') })).toBeNull();
    expect(checkpointCoverOf({ offset: '42', metadata: 'inc-1/p-1' })).toBeNull();
    expect(checkpointCoverOf({ offset: '42', metadata: null })).toBeNull();
    expect(checkpointCoverOf(undefined)).toBeNull();
    const bad = (c: unknown) => checkpointCoverOf({ offset: '42', metadata: JSON.stringify({ inc: 'inc-1', by: 'p-1', cover: c }) });
    expect(bad({ i: 'f', o: { t: '12x' } })).toBeNull();
    expect(bad({ i: 'f', o: { t: 12 } })).toBeNull();
    expect(bad({ i: 'f', o: null })).toBeNull();
    expect(bad({ i: 'f', o: {}, t: 'soon' })).toBeNull();
    expect(bad({ o: { t: '12' } })).toBeNull();
    expect(checkpointCoverOf({ offset: '42', metadata: '{not json' })).toBeNull();
  });

  it('is left out rather than make the metadata longer than the broker takes', () => {
    const long = { ...cover, offsets: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`topic-${'x'.repeat(100)}-${i}`, '1'])) };
    const metadata = checkpointMetadataOf('inc-1', 'p-1', long);
    expect(Buffer.byteLength(metadata)).toBeLessThanOrEqual(CHECKPOINT_METADATA_MAX_BYTES);
    expect(checkpointCoverOf({ offset: '42', metadata })).toBeNull();
    expect(checkpointOf({ offset: '42', metadata }, 'inc-1')).toBe(42);
  });

  it("reads readOutbox-4.lua's cover of the fence", () => {
    expect(coverOfFence('{"inc":"fence-1","o":{"behavior.events":"41","customer.profiles":"7"},"tt":"1800000000000"}')).toEqual(cover);
    expect(coverOfFence('{"inc":"fence-1","o":{"behavior.events":"41"}}')).toEqual({ incarnation: 'fence-1', offsets: { 'behavior.events': '41' }, timersThrough: null });
    expect(coverOfFence('')).toBeNull();
    expect(coverOfFence('{"o":{}}')).toBeNull();
    expect(coverOfFence('nope')).toBeNull();
  });

  it('an outbox record carries the cover of the change it ends (applyPartitionChange-n.lua); others carry none', () => {
    const [plain] = entries('t1') as [string];
    const marked = `${plain.slice(0, -1)},"c":{"o":{"behavior.events":"41","customer.profiles":"7"},"inc":"fence-1","tt":"1800000000000"}}`;
    expect(coverOfRecord(marked)).toEqual(cover);
    expect(decodeOutboxRecord(marked)).toEqual(decodeOutboxRecord(plain));
    expect(coverOfRecord(plain)).toBeNull();
    expect(coverOfRecord(`${plain.slice(0, -1)},"c":{"o":{}}}`)).toBeNull();
    expect(coverOfRecord('{"c":{"o":{"x":"1"},"inc":"f"}')).toBeNull(); // truncated
    expect(lastRecordCover([marked, plain])).toEqual(cover);
    expect(lastRecordCover([plain])).toBeNull();
  });

  it("a chunk that ends a change covers what that change's last record says, whatever the checkpoint before", () => {
    const [plain] = entries('t1') as [string];
    const marked = `${plain.slice(0, -1)},"c":{"o":{"behavior.events":"41","customer.profiles":"7"},"inc":"fence-1","tt":"1800000000000"}}`;
    const known = { offset: '10', metadata: checkpointMetadataOf('inc-1', 'p-1', { ...cover, offsets: { 'behavior.events': '30' } }) };
    expect(coverOfChunk({ incarnation: 'inc-1' }, false, known, [plain, marked, plain])).toEqual(cover);
    expect(coverOfChunk({ incarnation: 'inc-1' }, false, undefined, [marked])).toEqual(cover);
  });

  it("a chunk that takes the outbox to its end covers the fence's; a chunk of a longer outbox keeps the last checkpoint's, of this outbox only", () => {
    const earlier = { ...cover, offsets: { 'behavior.events': '30' } };
    const known = { offset: '10', metadata: checkpointMetadataOf('inc-1', 'p-1', earlier) };
    expect(coverOfChunk({ incarnation: 'inc-1', cover }, true, known)).toEqual(cover);
    expect(coverOfChunk({ incarnation: 'inc-1', cover }, false, known)).toEqual(earlier);
    expect(coverOfChunk({ incarnation: 'inc-2', cover }, false, known)).toBeNull();
    expect(coverOfChunk({ incarnation: 'inc-1', cover }, false, undefined)).toBeNull();
    expect(coverOfChunk({ incarnation: 'inc-1' }, true, known)).toBeNull();
  });
});

describe('relay names and errors', () => {
  it('one transactionalId per relay (instance), one checkpoint group per service group', () => {
    expect(transactionalIdOf('kairos', 'kairos-trigger', '0f3a')).toBe('kairos-kairos-trigger-0f3a');
    expect(checkpointGroupOf('kairos-trigger')).toBe('kairos-trigger-relay');
  });

  it('groups records by topic for one sendBatch, keeping their order', () => {
    const grouped = topicMessagesOf(entries('t1', 's1', 't2'));
    expect(grouped.map((g) => [g.topic, g.messages.map((m) => m.value.toString())])).toEqual([
      ['triggers', ['t1', 't2']],
      ['segment.changes', ['s1']],
    ]);
    expect(decodeOutboxRecord(entries('t1')[0]).key).toBe('t1');
  });

  it('knows a fenced producer by the broker error (old and new codes)', () => {
    expect(isFencedError({ type: 'INVALID_PRODUCER_EPOCH', code: 47 })).toBe(true);
    expect(isFencedError({ type: 'UNKNOWN', code: 90 })).toBe(true);
    expect(isFencedError({ type: 'NOT_LEADER_FOR_PARTITION', code: 6 })).toBe(false);
    expect(isFencedError(new Error('x'))).toBe(false);
    // kafkajs's retrier wraps the protocol error (KafkaJSNumberOfRetriesExceeded, cause = the error).
    const wrapped = new Error('retries exceeded', { cause: Object.assign(new Error('epoch'), { type: 'PRODUCER_FENCED', code: 90 }) });
    expect(isFencedError(wrapped)).toBe(true);
    const looped: { cause?: unknown } = {};
    looped.cause = looped;
    expect(isFencedError(looped)).toBe(false);
  });
});

describe('OUTPUT_GUARANTEE and the transaction settings', () => {
  const shape = consumerServiceShape({ httpPort: 1, groupId: 'g', timerIntervalMs: 1000 });
  it('defaults to exactly_once with a 30 s transaction timeout', () => {
    const config = loadConfig(shape, {});
    expect(config.OUTPUT_GUARANTEE).toBe('exactly_once');
    expect(config.KAFKA_TRANSACTION_TIMEOUT).toBe(30_000);
    expect(config.KAFKA_TRANSACTIONAL_ID_PREFIX).toBe('kairos');
    expect(config.RELAY_GATHER).toBe(3);
    expect(loadConfig(shape, { RELAY_GATHER: '0' }).RELAY_GATHER).toBe(0);
    expect(loadConfig(shape, { OUTPUT_GUARANTEE: 'AT_LEAST_ONCE' }).OUTPUT_GUARANTEE).toBe('at_least_once');
  });
  it('refuses other values with a clear error', () => {
    expect(() => loadConfig(shape, { OUTPUT_GUARANTEE: 'exactly-once' })).toThrow(ConfigError);
    expect(() => loadConfig(shape, { OUTPUT_GUARANTEE: 'exactly-once' })).toThrow('OUTPUT_GUARANTEE: "exactly-once" is not an allowed value; expected one of exactly_once, at_least_once');
    expect(() => loadConfig(shape, { KAFKA_TRANSACTION_TIMEOUT: '20m' })).toThrow('KAFKA_TRANSACTION_TIMEOUT: "20m" is out of range; expected a duration from 1s to 15m');
    expect(() => loadConfig(shape, { RELAY_GATHER: '2s' })).toThrow(/RELAY_GATHER: "2s" is too long; expected .*from 0 to 1000 ms/);
  });
});

describe('GROUP_ID and KAFKA_TRANSACTIONAL_ID_PREFIX: every checkpoint they allow keeps its cover', () => {
  const shape = consumerServiceShape({ httpPort: 1, groupId: 'g', timerIntervalMs: 1000 });
  // The longest of the rest of a checkpoint's metadata: UUIDs for the incarnations and the relay,
  // the segmenter's two input topics at Kafka's 249-character limit, offsets of 19 digits, and
  // the longest timer watermark the cover reads back.
  const uuid = '00000000-0000-4000-8000-000000000000';
  const cover = { incarnation: uuid, offsets: { ['a'.repeat(249)]: '9'.repeat(19), ['b'.repeat(249)]: '9'.repeat(19) }, timersThrough: Number.MIN_SAFE_INTEGER };

  it.each([
    ['ASCII', 'g'.repeat(255)],
    ['quotes (escaped in JSON)', '"'.repeat(255)],
    ['four-byte characters', '\u{10FFFF}'.repeat(255)],
    ['lone surrogates (escaped in JSON)', '\ud800'.repeat(255)],
  ])('the longest GROUP_ID of %s, with the longest prefix', (_, group) => {
    const config = loadConfig(shape, { GROUP_ID: group, KAFKA_TRANSACTIONAL_ID_PREFIX: 'p'.repeat(255) });
    const metadata = checkpointMetadataOf(uuid, transactionalIdOf(config.KAFKA_TRANSACTIONAL_ID_PREFIX, config.GROUP_ID, uuid), cover);
    expect(checkpointCoverOf({ offset: '1', metadata })).toEqual(cover);
  });

  it('refuses a longer one, or a control character, naming the variable', () => {
    expect(() => loadConfig(shape, { GROUP_ID: 'g'.repeat(256) })).toThrow(/ GROUP_ID: "g+\.\.\." is not valid; expected up to 255 characters, none of them a control character/);
    expect(() => loadConfig(shape, { GROUP_ID: 'kairos\nsegmenter' })).toThrow(/ GROUP_ID: "kairos\\nsegmenter" is not valid/);
    expect(() => loadConfig(shape, { KAFKA_TRANSACTIONAL_ID_PREFIX: 'p'.repeat(256) })).toThrow(/ KAFKA_TRANSACTIONAL_ID_PREFIX: "p+\.\.\." is not valid; expected up to 255 letters/);
    expect(loadConfig(shape, { GROUP_ID: 'kairos-segmenter.eu_1' }).GROUP_ID).toBe('kairos-segmenter.eu_1');
  });
});

describe('OutboxRelay exactly_once: the transactional producer', () => {
  it('retries after 20 ms at first, not kafkajs\'s 300 ms: back-to-back transactions of a partition meet CONCURRENT_TRANSACTIONS', async () => {
    const created: Array<Parameters<Kafka['producer']>[0]> = [];
    const kafka = {
      producer: (options: Parameters<Kafka['producer']>[0]) => {
        created.push(options);
        return { connect: async () => Promise.reject(new Error('no broker in this test')), disconnect: async () => undefined };
      },
    } as unknown as Kafka;
    const store: OutboxStore = { read: async () => ({ base: 0, incarnation: 'i', entries: entries('t1') }), trimTo: async () => 0, claim: async () => '' };
    const relay = new OutboxRelay({
      store, guarantee: 'exactly_once', kafka, producer: {} as Producer, admin: {} as Admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }),
    });
    await expect(relay.relay(3)).rejects.toThrow('no broker in this test');
    expect(created).toHaveLength(1);
    expect(relay.transactionalId).toMatch(/^p-g-[0-9a-f-]{36}$/);
    expect(created[0]?.transactionalId).toBe(relay.transactionalId);
    expect(created[0]?.retry).toEqual({ retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000, initialRetryTime: 20 });
  });

  it("waits out a group coordinator not ready yet when it reads the checkpoint (kafkajs's fetchOffsets asks once)", async () => {
    const producer = { connect: async () => undefined, disconnect: async () => undefined, transaction: async () => ({ abort: async () => undefined }) };
    const kafka = { producer: () => producer } as unknown as Kafka;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };
    const answers = [
      () => Promise.reject(createErrorFromCode(16)), // NOT_COORDINATOR, as kafkajs's fetchOffsets throws it
      () => Promise.resolve([{ topic: 'in', partitions: [{ partition: 3, offset: '7', metadata: 'i' }] }]),
    ];
    let asked = 0;
    const admin = { fetchOffsets: async () => (answers[asked++] as () => Promise<unknown>)() } as unknown as Admin;
    const store: OutboxStore = { read: async () => ({ base: 7, incarnation: 'i', entries: [] }), trimTo: async () => 0, claim: async () => '' };
    const relay = new OutboxRelay({
      store, guarantee: 'exactly_once', kafka, producer: {} as Producer, admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }),
    });
    await expect(relay.relay(3)).resolves.toBe(0);
    expect(asked).toBe(2);
  });
});

describe('OutboxRelay at_least_once (no broker)', () => {
  it('produces chunks and trims by sequence number; a failed send leaves the outbox as it was', async () => {
    const outbox = memoryOutbox(entries('t1', 't2', 't3'));
    const store: OutboxStore = { trimTo: outbox.trimTo, claim: outbox.claim, read: async (_p, limit) => ({ base: outbox.base, incarnation: 'i', entries: outbox.records.slice(0, limit) }) };
    const sent: string[] = [];
    const sendBatch = jest.fn(async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ value: Buffer }> }> }) => {
      for (const t of topicMessages) for (const m of t.messages) sent.push(m.value.toString());
      return [];
    });
    const relay = new OutboxRelay({
      store, guarantee: 'at_least_once', kafka: {} as Kafka, producer: { sendBatch } as unknown as Producer, admin: {} as Admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }), batchSize: 2,
    });
    sendBatch.mockRejectedValueOnce(new Error('broker away'));
    await expect(relay.relay(0)).rejects.toThrow('broker away');
    expect(outbox.records).toHaveLength(3);
    expect(await relay.relay(0)).toBe(3);
    expect(sendBatch).toHaveBeenCalledTimes(3);
    expect(sent).toEqual(['t1', 't2', 't3']);
    expect({ outbox: outbox.records, base: outbox.base }).toEqual({ outbox: [], base: 3 });
  });

  it('sends the trim as soon as the records are produced and returns without its answer; until answered (or when it failed) the next read carries it, and close does it', async () => {
    const outbox = memoryOutbox(entries('t1', 't2', 't3'));
    const trims: Array<{ upTo: number; answer: (fail?: boolean) => void }> = [];
    const reads: Array<OwedTrim | undefined> = [];
    const store: OutboxStore = {
      claim: outbox.claim,
      // The trim is applied when sent (Redis runs it before the next command on the connection); its answer is held.
      trimTo: (p, upTo, incarnation) => {
        void outbox.trimTo(p, upTo, incarnation);
        return new Promise((resolve, reject) => void trims.push({ upTo, answer: (fail) => (fail === true ? reject(new Error('connection lost')) : resolve(1)) }));
      },
      read: async (_p, limit, read) => {
        reads.push(read?.trim);
        await outbox.owed(read?.trim);
        return { base: outbox.base, incarnation: 'i', entries: outbox.records.slice(0, limit) };
      },
    };
    const relay = new OutboxRelay({
      store, guarantee: 'at_least_once', kafka: {} as Kafka, producer: { sendBatch: async () => [] } as unknown as Producer, admin: {} as Admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }), batchSize: 2,
    });
    // Two chunks; neither trim answered, and the relay returned.
    expect(await relay.relay(0)).toBe(3);
    expect(trims.map((t) => t.upTo)).toEqual([2, 3]);
    // The second read went out with the first trim still unanswered, so it carried it.
    expect(reads).toEqual([undefined, { upTo: 2, incarnation: 'i' }]);
    trims[0].answer();
    trims[1].answer(true);
    await turns();
    // The failed one stays owed: the next read (here sent ahead, behind an apply) carries it.
    outbox.records.push(...entries('t4'));
    const ahead = relay.readAhead(0, 1);
    expect(reads[2]).toEqual({ upTo: 3, incarnation: 'i' });
    expect(await relay.relay(0, undefined, ahead)).toBe(1);
    expect(trims.map((t) => t.upTo)).toEqual([2, 3, 4]);
    // Unanswered at close: close trims it again, and waits for that.
    const closed = relay.close();
    await turnsUntil(() => trims.length === 4);
    expect(trims[3].upTo).toBe(4);
    trims[3].answer();
    await closed;
    expect({ outbox: outbox.records, base: outbox.base }).toEqual({ outbox: [], base: 4 });
  });
});

describe('OutboxRelay at_least_once: partitions relaying at once share requests', () => {
  /** An outbox per partition, kept in memory. */
  const memoryOutboxes = (contents: Record<number, string[]>): OutboxStore => {
    const bases = new Map<number, number>();
    return {
      read: async (p, limit) => ({ base: bases.get(p) ?? 0, incarnation: 'i', entries: (contents[p] ?? []).slice(0, limit) }),
      trimTo: async (p, upTo) => {
        const n = Math.min(Math.max(0, upTo - (bases.get(p) ?? 0)), contents[p].length);
        contents[p].splice(0, n);
        bases.set(p, (bases.get(p) ?? 0) + n);
        return n;
      },
      claim: async () => '',
    };
  };
  type SendBatchRequest = { topicMessages: Array<{ topic: string; messages: Array<{ key: string; value: Buffer }> }> };
  const relayOver = (store: OutboxStore, sendBatch: (request: SendBatchRequest) => Promise<unknown>, gatherMs?: number) =>
    new OutboxRelay({
      store, guarantee: 'at_least_once', kafka: {} as Kafka, producer: { sendBatch } as unknown as Producer, admin: {} as Admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }), gatherMs,
    });
  const contentOf = (request: SendBatchRequest) =>
    request.topicMessages.map((t) => [t.topic, t.messages.map((m) => m.value.toString())]);

  it('sends the outboxes asked for while a send is in flight in one sendBatch, one entry per topic, in order', async () => {
    const requests: Array<{ content: unknown; land: () => void }> = [];
    const relay = relayOver(memoryOutboxes({ 0: entries('t0a'), 1: entries('t1a', 's1a', 't1b'), 2: entries('s2a', 't2a') }), (request) =>
      new Promise((land) => void requests.push({ content: contentOf(request), land: () => land([]) })));
    const relays = [relay.relay(0), relay.relay(1), relay.relay(2)];
    // The reads of partitions 1 and 2 end after partition 0's send went out: they wait for it.
    await turnsUntil(() => requests.length === 1);
    await turns();
    expect(requests.map((r) => r.content)).toEqual([[['triggers', ['t0a']]]]);
    requests[0].land();
    await turnsUntil(() => requests.length === 2);
    expect(requests[1].content).toEqual([
      ['triggers', ['t1a', 't1b', 't2a']],
      ['segment.changes', ['s1a', 's2a']],
    ]);
    requests[1].land();
    expect(await Promise.all(relays)).toEqual([1, 3, 2]);
    expect(requests).toHaveLength(2);
  });

  it('with RELAY_GATHER, a first send waits for the partitions of the same fetch: one sendBatch for all, none in flight before', async () => {
    const requests: unknown[] = [];
    const relay = relayOver(memoryOutboxes({ 0: entries('t0a'), 1: entries('t1a', 's1a'), 2: entries('t2a') }), async (request) => {
      requests.push(contentOf(request));
      return [];
    }, 5);
    // The three reads end in the same turn; the gather's timer fires only after them.
    expect(await Promise.all([relay.relay(0), relay.relay(1), relay.relay(2)])).toEqual([1, 2, 1]);
    expect(requests).toEqual([[['triggers', ['t0a', 't1a', 't2a']], ['segment.changes', ['s1a']]]]);
  });

  it('a gathering send waits for the relay calls on their way (expect), and goes out once none is, not after the full RELAY_GATHER', async () => {
    const requests: unknown[] = [];
    // A gather of a minute: the test would time out if the send waited for it.
    const relay = relayOver(memoryOutboxes({ 0: entries('t0a'), 1: entries('t1a'), 2: entries('t2a') }), async (request) => {
      requests.push(contentOf(request));
      return [];
    }, 60_000);
    const ways = [relay.expect(), relay.expect(), relay.expect()];
    const relays = [relay.relay(0)];
    ways[0].release(); // handed over to its relay call
    await turns();
    expect(requests).toEqual([]);
    // The second batch ends without a relay (a replay, a failure): the send still waits for the third.
    ways[1].release();
    await turns();
    expect(requests).toEqual([]);
    relays.push(relay.relay(2));
    ways[2].release();
    expect(await Promise.all(relays)).toEqual([1, 1]);
    expect(requests).toEqual([[['triggers', ['t0a', 't2a']]]]);
    // Nothing on its way: a lone relay sends at once.
    expect(await relay.relay(1)).toBe(1);
    expect(requests).toHaveLength(2);
  });

  it('a failed shared send fails the relay of every partition it carried; their outboxes stay for the next try', async () => {
    const contents = { 0: entries('t0a'), 1: entries('t1a'), 2: entries('t2a') };
    let calls = 0;
    let release: () => void = () => undefined;
    const relay = relayOver(memoryOutboxes(contents), async () => {
      calls += 1;
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      if (calls === 2) throw new Error('broker away');
      return [];
    });
    const first = relay.relay(0);
    await turnsUntil(() => calls === 1);
    const others = [relay.relay(1), relay.relay(2)];
    await turns();
    release();
    await first;
    for (const other of others) await expect(other).rejects.toThrow('broker away');
    expect(contents).toEqual({ 0: [], 1: entries('t1a'), 2: entries('t2a') });
    expect(await relay.relay(1)).toBe(1);
  });

  it('merges sends topic by topic', () => {
    const send = (topic: string, ...values: string[]) => [{ topic, messages: values.map((v) => ({ key: v, value: Buffer.from(v) })) }];
    const merged = mergeTopicMessages([send('a', '1', '2'), [...send('b', '3'), ...send('a', '4')], send('b', '5')]);
    expect(merged.map((t) => [t.topic, t.messages.map((m) => m.value.toString())])).toEqual([
      ['a', ['1', '2', '4']],
      ['b', ['3', '5']],
    ]);
  });

  it('splits one send larger than the bound into sends within it, order kept per topic (a record larger than it alone)', () => {
    const record = (key: string, bytes: number) => ({ key, value: Buffer.alloc(bytes - key.length) });
    const send = [
      { topic: 'a', messages: [record('a1', 40), record('a2', 40), record('a3', 40)] },
      { topic: 'b', messages: [record('b1', 150), record('b2', 40)] },
    ];
    const pieces = splitBySize(send, 100);
    expect(pieces.map((piece) => piece.map(({ topic, messages }) => `${topic}:${messages.map((m) => m.key).join(',')}`))).toEqual([['a:a1,a2'], ['a:a3'], ['b:b1'], ['b:b2']]);
    expect(splitBySize(send, 1000)).toEqual([send]);
    expect(pieces.flatMap((piece) => piece.flatMap(({ messages }) => messages.map((m) => m.key)))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
  });

  it('groups sends in order, each group within the byte bound (a send larger than it alone)', () => {
    const send = (key: string, bytes: number) => [{ topic: 't', messages: [{ key, value: Buffer.alloc(bytes - key.length) }] }];
    const keys = (groups: ReturnType<typeof groupedBySize>) => groups.map((group) => group.map((s) => s[0].messages[0].key));
    expect(keys(groupedBySize([send('a', 40), send('b', 50), send('c', 20), send('d', 150), send('e', 10)], 100))).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
    expect(keys(groupedBySize([send('a', 40), send('b', 60)], 100))).toEqual([['a', 'b']]);
    expect(groupedBySize([], 100)).toEqual([]);
  });

  it('carries no more than RELAY_SEND_TOGETHER_BYTES of waiting sends in one request (the broker takes 1 MB per partition batch)', async () => {
    const big = (name: string) => encodeOutboxRecord({ topic: 'triggers', key: name, value: Buffer.alloc(Math.ceil(RELAY_SEND_TOGETHER_BYTES * 0.6), name) });
    const requests: Array<{ keys: string[]; land: () => void }> = [];
    const relay = relayOver(memoryOutboxes({ 0: [big('a')], 1: [big('b')], 2: [big('c')], 3: entries('t3') }), (request) =>
      new Promise((land) => void requests.push({ keys: request.topicMessages.flatMap((t) => t.messages.map((m) => m.key)), land: () => land([]) })));
    const first = relay.relay(0);
    await turnsUntil(() => requests.length === 1);
    const others = [relay.relay(1), relay.relay(2), relay.relay(3)];
    await turns();
    for (let n = 1; n <= 2; n += 1) {
      requests[n - 1].land();
      await turnsUntil(() => requests.length === n + 1);
    }
    requests[2].land();
    await Promise.all([first, ...others]);
    expect(requests.map((r) => r.keys)).toEqual([['a'], ['b'], ['c', 't3']]);
  });
});

describe('OutboxRelay exactly_once: one producer, partitions in one transaction, owners claimed and fenced (no broker)', () => {
  /** Outboxes in memory (incarnation 'i') with readOutbox-4.lua's owed trim and owner check and claimOutbox-1.lua's claim. */
  const ownedOutboxes = (contents: Record<number, string[]>, owners: Map<number, string> = new Map()) => {
    const bases = new Map<number, number>();
    const trimTo = async (p: number, upTo: number, incarnation = 'i') => {
      if (incarnation !== 'i') return 0;
      const n = Math.min(Math.max(0, upTo - (bases.get(p) ?? 0)), contents[p].length);
      contents[p].splice(0, n);
      bases.set(p, (bases.get(p) ?? 0) + n);
      return n;
    };
    const store: OutboxStore = {
      read: async (p, limit, { owner, trim } = {}) => {
        if (trim !== undefined) await trimTo(p, trim.upTo, trim.incarnation);
        if (owner !== undefined && (owners.get(p) ?? '') !== owner) throw new OutboxTakenError(p, owners.get(p) ?? '');
        return { base: bases.get(p) ?? 0, incarnation: 'i', entries: (contents[p] ?? []).slice(0, limit) };
      },
      trimTo,
      claim: async (p, owner) => {
        const previous = owners.get(p) ?? '';
        owners.set(p, owner);
        return previous;
      },
    };
    return { store, owners };
  };

  /** kafkajs's transactional producers and the admin's checkpoint reads, as a log of what reached the "broker". */
  const fakeBroker = () => {
    const log: string[] = [];
    const gates: Array<() => void> = [];
    const broker = {
      log, gates, holdCommits: false, failNextCommit: undefined as Error | undefined, checkpoints: [] as Array<{ partition: number; offset: string; metadata: string | null }>,
      /** Transactions' steps as they go out and are answered ('records out', 'checkpoint answered', 'commit', 'abort', ...), the producer's initialization's abort included. */
      steps: [] as string[],
      /** The steps held until their gate in `stepGates` is called; the records' next send fails with `failNextSend` when one is set. */
      hold: new Set<'records' | 'checkpoint'>(),
      stepGates: [] as Array<() => void>,
      failNextSend: undefined as Error | undefined,
    };
    /** One step of a transaction, logged as it goes out and as it is answered; held while `broker.hold` names it. */
    const step = async (name: 'records' | 'checkpoint', work: () => void) => {
      broker.steps.push(`${name} out`);
      if (broker.hold.has(name)) await new Promise<void>((resolve) => broker.stepGates.push(resolve));
      const failure = name === 'records' ? broker.failNextSend : undefined;
      if (failure !== undefined) {
        broker.failNextSend = undefined;
        broker.steps.push(`${name} failed`);
        throw failure;
      }
      work();
      broker.steps.push(`${name} answered`);
    };
    const kafka = {
      producer: ({ transactionalId }: { transactionalId: string }) => {
        // The relay's own id is `p-g-<random uuid>`: logged as 'me'; another relay's (a test's 'p-g-old') as it is.
        const id = transactionalId.startsWith('p-g-') && transactionalId.length > 20 ? 'me' : transactionalId;
        return {
          connect: async () => void log.push(`init ${id}`),
          disconnect: async () => undefined,
          transaction: async () => {
            let active = true;
            const sent: string[] = [];
            return {
              sendBatch: ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ value: Buffer }> }> }) =>
                step('records', () => {
                  for (const t of topicMessages) for (const m of t.messages) sent.push(m.value.toString());
                }),
              sendOffsets: ({ topics }: { topics: Array<{ partitions: Array<{ partition: number; offset: string; metadata?: string }> }> }) =>
                step('checkpoint', () => {
                  sent.push(`@${topics[0].partitions.map((p) => `${p.partition}:${p.offset}`).join(',')}`);
                  for (const p of topics[0].partitions) broker.checkpoints.push({ partition: p.partition, offset: p.offset, metadata: p.metadata ?? null });
                }),
              commit: async () => {
                broker.steps.push('commit');
                if (broker.holdCommits) await new Promise<void>((resolve) => gates.push(resolve));
                const failure = broker.failNextCommit;
                broker.failNextCommit = undefined;
                if (failure !== undefined) throw failure;
                active = false;
                log.push(`commit ${id} ${sent.join(' ')}`);
              },
              abort: async () => {
                broker.steps.push('abort');
                active = false;
                log.push(`abort ${id}`);
              },
              isActive: () => active,
            };
          },
        };
      },
    } as unknown as Kafka;
    const admin = {
      fetchOffsets: async () => {
        log.push('checkpoints read');
        return [{ topic: 'in', partitions: [] }];
      },
    } as unknown as Admin;
    return { broker, kafka, admin };
  };

  const relayOn = (store: OutboxStore, kafka: Kafka, admin: Admin, sizes: { batchSize?: number; transactionRecords?: number; generation?: () => number } = {}) =>
    new OutboxRelay({
      store, guarantee: 'exactly_once', kafka, producer: {} as Producer, admin,
      group: 'g', topic: 'in', transactionalIdPrefix: 'p', transactionTimeoutMs: 10_000, logger: pino({ level: 'silent' }),
      ...sizes,
    });

  describe('an outbox whose changes mark their ends (covered: applyPartitionChange-n.lua with coverOutbox)', () => {
    const coverAt = (offset: string) => ({ incarnation: 'fence-1', offsets: { in: offset }, timersThrough: null });
    /** `count` records of one change, its last one carrying the fence's cover as the apply script writes it. */
    const change = (name: string, count: number, offset: string) => {
      const records = entries(...Array.from({ length: count }, (_, i) => `t${name}${i + 1}`));
      const last = records[count - 1] as string;
      records[count - 1] = `${last.slice(0, -1)},"c":${JSON.stringify({ o: { in: offset }, inc: 'fence-1' })}}`;
      return records;
    };
    /** One partition's outbox in memory with readOutbox-4.lua's `from` and the fence's cover (every record appended by then). */
    const coveredOutbox = (contents: string[], fenceAt: string) => {
      const outbox = memoryOutbox(contents);
      const reads: number[] = [];
      const store: OutboxStore = {
        covered: true,
        read: async (_p, limit, { from = 0, trim } = {}) => {
          await outbox.owed(trim);
          reads.push(from);
          return { base: outbox.base, incarnation: 'i', entries: contents.slice(from, from + limit), cover: coverAt(fenceAt) };
        },
        trimTo: outbox.trimTo,
        claim: outbox.claim,
      };
      return { store, reads };
    };
    const coverOfCheckpoint = (metadata: string | null) => checkpointCoverOf({ offset: '0', metadata });
    const commits = (log: string[]) => log.filter((line) => line.startsWith('commit'));

    it('each transaction ends where a change ends: a chunk is cut after its last mark, one inside a change reads on to its end', async () => {
      const { broker, kafka, admin } = fakeBroker();
      const { store, reads } = coveredOutbox([...change('A', 3, '10'), ...change('B', 6, '20'), ...change('C', 3, '30')], '30');
      expect(await relayOn(store, kafka, admin, { batchSize: 4 }).relay(0)).toBe(12);
      expect(commits(broker.log)).toEqual(['commit me tA1 tA2 tA3 @0:3', 'commit me tB1 tB2 tB3 tB4 tB5 tB6 @0:9', 'commit me tC1 tC2 tC3 @0:12']);
      expect(broker.checkpoints.map(({ metadata }) => coverOfCheckpoint(metadata))).toEqual([coverAt('10'), coverAt('20'), coverAt('30')]);
      // A's chunk, cut after tA3; B's from its head, on from 4 (tB5 tB6 tC1 tC2), cut after tB6; C to the end.
      expect(reads).toEqual([0, 0, 4, 0]);
    });

    it('a change of more than RELAY_TRANSACTION_RECORDS goes in several transactions, the first ones keeping the cover before it', async () => {
      const { broker, kafka, admin } = fakeBroker();
      const { store } = coveredOutbox([...change('A', 1, '10'), ...change('B', 5, '20')], '20');
      expect(await relayOn(store, kafka, admin, { batchSize: 2, transactionRecords: 4 }).relay(0)).toBe(6);
      expect(commits(broker.log)).toEqual(['commit me tA1 @0:1', 'commit me tB1 tB2 tB3 tB4 @0:5', 'commit me tB5 @0:6']);
      expect(broker.checkpoints.map(({ metadata }) => coverOfCheckpoint(metadata))).toEqual([coverAt('10'), coverAt('10'), coverAt('20')]);
    });

    it('records without marks (queued before the upgrade) are read on to the end of the outbox, which the fence covers', async () => {
      const { broker, kafka, admin } = fakeBroker();
      const { store } = coveredOutbox(entries('t1', 't2', 't3', 't4', 't5'), '30');
      expect(await relayOn(store, kafka, admin, { batchSize: 2 }).relay(0)).toBe(5);
      expect(commits(broker.log)).toEqual(['commit me t1 t2 t3 t4 t5 @0:5']);
      expect(coverOfCheckpoint(broker.checkpoints[0]!.metadata)).toEqual(coverAt('30'));
    });

    it('a store without covers (the renderer\'s outbox) is relayed a chunk at a time, as before', async () => {
      const { broker, kafka, admin } = fakeBroker();
      const { store } = coveredOutbox(entries('t1', 't2', 't3'), '30');
      const plain: OutboxStore = { read: store.read, trimTo: store.trimTo, claim: store.claim };
      expect(await relayOn(plain, kafka, admin, { batchSize: 2 }).relay(0)).toBe(3);
      expect(commits(broker.log)).toEqual(['commit me t1 t2 @0:2', 'commit me t3 @0:3']);
    });
  });

  it('commits the chunks of the partitions ready while a transaction is in flight in the next one, each with its checkpoint', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const { store } = ownedOutboxes({ 0: entries('t0a'), 1: entries('t1a', 's1a'), 2: entries('t2a') });
    const relay = relayOn(store, kafka, admin);
    broker.holdCommits = true;
    const first = relay.relay(0);
    await turnsUntil(() => broker.gates.length === 1);
    const others = [relay.relay(1), relay.relay(2)];
    await turns();
    broker.gates.shift()!();
    await turnsUntil(() => broker.gates.length === 1);
    broker.gates.shift()!();
    expect(await Promise.all([first, ...others])).toEqual([1, 2, 1]);
    expect(broker.log.filter((line) => line.startsWith('commit'))).toEqual(['commit me t0a @0:1', 'commit me t1a t2a s1a @1:2,2:1']);
    // One producer, initialized once; no previous owner to fence.
    expect(broker.log.filter((line) => line.startsWith('init'))).toEqual(['init me']);
  });

  /**
   * One record relayed with the fake broker holding `held` (and failing the records' send with
   * `failSend`): the transaction's steps while it is held and once the call ended, and how it ended.
   */
  const relayWithStepHeld = async (held: 'records' | 'checkpoint', failSend?: Error) => {
    const { broker, kafka, admin } = fakeBroker();
    const { store } = ownedOutboxes({ 0: entries('t0a') });
    broker.hold.add(held);
    broker.failNextSend = failSend;
    const call = relayOn(store, kafka, admin).relay(0).then((count) => count, (error: unknown) => error);
    await turnsUntil(() => broker.stepGates.length === 1);
    await turns();
    // The producer's initialization (an empty transaction aborted) came first.
    expect(broker.steps[0]).toBe('abort');
    const whileHeld = broker.steps.slice(1);
    broker.stepGates.shift()!();
    const outcome = await call;
    return { whileHeld, after: broker.steps.slice(1), outcome, commits: broker.log.filter((line) => line.startsWith('commit')) };
  };

  it('sends the checkpoint beside the records (AddOffsetsToTxn and TxnOffsetCommit while the records are in flight) and commits once both are answered', async () => {
    const { whileHeld, after, outcome, commits } = await relayWithStepHeld('records');
    expect(whileHeld).toEqual(['records out', 'checkpoint out', 'checkpoint answered']);
    expect(outcome).toBe(1);
    expect(after).toEqual(['records out', 'checkpoint out', 'checkpoint answered', 'records answered', 'commit']);
    expect(commits).toEqual(['commit me @0:1 t0a']);
  });

  it('a failed send aborts the transaction only once the checkpoint beside it is answered, and commits nothing', async () => {
    const { whileHeld, after, outcome, commits } = await relayWithStepHeld('checkpoint', new Error('request timed out'));
    expect(whileHeld).toEqual(['records out', 'records failed', 'checkpoint out']);
    expect(outcome).toBeInstanceOf(RelayTransactionError);
    expect(after).toEqual(['records out', 'records failed', 'checkpoint out', 'checkpoint answered', 'abort']);
    expect(commits).toEqual([]);
  });

  it('trims what a transaction committed with the partition\'s next read, not in a call of its own; a released partition and a closing relay trim what is owed', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const contents = { 0: entries('t0a', 't0b', 't0c'), 1: entries('t1a') };
    const { store } = ownedOutboxes(contents);
    const trims: string[] = [];
    const read = store.read;
    const trimTo = store.trimTo;
    store.read = async (p, limit, options) => {
      if (options?.trim !== undefined) trims.push(`read ${p} <${options.trim.upTo}`);
      return read(p, limit, options);
    };
    store.trimTo = async (p, upTo, incarnation) => {
      trims.push(`trimTo ${p} <${upTo}`);
      return trimTo(p, upTo, incarnation);
    };
    const relay = relayOn(store, kafka, admin, { batchSize: 2 });
    expect(await relay.relay(0)).toBe(3);
    // t0a t0b, then t0c read with the trim of the first transaction; the last one's is owed.
    expect(broker.log.filter((line) => line.startsWith('commit'))).toEqual(['commit me t0a t0b @0:2', 'commit me t0c @0:3']);
    expect(trims).toEqual(['read 0 <2']);
    expect(contents[0]).toEqual(entries('t0c'));
    contents[0].push(...entries('t0d'));
    expect(await relay.relay(0)).toBe(1);
    expect(trims).toEqual(['read 0 <2', 'read 0 <3']);
    expect(await relay.relay(1)).toBe(1);
    await relay.release([1]);
    expect(trims).toEqual(['read 0 <2', 'read 0 <3', 'trimTo 0 <4']);
    expect(contents).toEqual({ 0: [], 1: entries('t1a') });
    await relay.close();
    expect(trims).toEqual(['read 0 <2', 'read 0 <3', 'trimTo 0 <4', 'trimTo 1 <1']);
    expect(contents).toEqual({ 0: [], 1: [] });
  });

  it('takes a read sent ahead of the call (readAhead) as its first read under the same producer and claim; one with another guard, or before a new claim, is read again', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const contents = { 0: entries('t0a') };
    const { store } = ownedOutboxes(contents);
    let reads = 0;
    const read = store.read;
    store.read = async (p, limit, options) => {
      reads += 1;
      return read(p, limit, options);
    };
    let generation = 1;
    const relay = relayOn(store, kafka, admin, { generation: () => generation });
    // No producer initialized and no claim yet: the read waits for the call.
    expect(relay.readAhead(0, 1)).toBeUndefined();
    expect(await relay.relay(0)).toBe(1);
    contents[0].push(...entries('t0b'));
    reads = 0;
    expect(await relay.relay(0, undefined, relay.readAhead(0, 1))).toBe(1);
    expect(reads).toBe(1);
    contents[0].push(...entries('t0c'));
    reads = 0;
    expect(await relay.relay(0, 'another', relay.readAhead(0, 1))).toBe(1);
    expect(reads).toBe(2);
    contents[0].push(...entries('t0d'));
    reads = 0;
    const ahead = relay.readAhead(0, 1);
    generation = 2; // a rebalance: the relay claims the partition again, then reads
    expect(await relay.relay(0, undefined, ahead)).toBe(1);
    expect(reads).toBe(2);
    expect(broker.log.filter((line) => line.startsWith('commit'))).toEqual(['commit me t0a @0:1', 'commit me t0b @0:2', 'commit me t0c @0:3', 'commit me t0d @0:4']);
  });

  it('a relay that claims a partition another relay owned fences that relay\'s transactional id before it reads the checkpoint', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const { store, owners } = ownedOutboxes({ 0: entries('t0a') }, new Map([[0, 'p-g-old']]));
    const relay = relayOn(store, kafka, admin);
    expect(await relay.relay(0)).toBe(1);
    expect(owners.get(0)).toBe(relay.transactionalId);
    expect(broker.log).toEqual(['init p-g-old', 'abort p-g-old', 'init me', 'abort me', 'checkpoints read', 'commit me t0a @0:1']);
    // Claimed once per generation: the next relay call neither claims nor fences again.
    await relay.relay(0);
    expect(broker.log.filter((line) => line.includes('p-g-old'))).toHaveLength(2);
  });

  it('a relay whose partition another relay claimed since produces nothing of it: RelayFencedError', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const contents = { 0: entries('t0a') };
    const { store } = ownedOutboxes(contents);
    const relay = relayOn(store, kafka, admin);
    expect(await relay.relay(0)).toBe(1);
    // A new owner (after a rebalance this relay has not heard of yet) claims the partition.
    await store.claim(0, 'p-g-newer');
    contents[0].push(...entries('t0b'));
    await expect(relay.relay(0)).rejects.toBeInstanceOf(RelayFencedError);
    expect(contents[0]).toEqual(entries('t0b'));
    expect(broker.log.filter((line) => line.startsWith('commit'))).toEqual(['commit me t0a @0:1']);
  });

  it('a relay whose outbox another relay claimed within the same generation claims it again only after RECLAIM_AFTER_MS (a late zombie cannot stall it for longer)', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const contents = { 0: entries('t0a') };
    const { store, owners } = ownedOutboxes(contents);
    const relay = relayOn(store, kafka, admin);
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      expect(await relay.relay(0)).toBe(1);
      await store.claim(0, 'p-g-late');
      contents[0].push(...entries('t0b'));
      await expect(relay.relay(0)).rejects.toBeInstanceOf(RelayFencedError);
      now += RECLAIM_AFTER_MS - 1;
      await expect(relay.relay(0)).rejects.toBeInstanceOf(RelayFencedError);
      expect(broker.log.filter((line) => line.includes('p-g-late'))).toEqual([]);
      now += 1;
      expect(await relay.relay(0)).toBe(1);
      expect(owners.get(0)).toBe(relay.transactionalId);
      expect(broker.log.filter((line) => line.includes('p-g-late') || line.startsWith('commit'))).toEqual(['commit me t0a @0:1', 'init p-g-late', 'abort p-g-late', 'commit me t0b @0:2']);
    } finally {
      clock.mockRestore();
    }
  });

  it('a failed transaction fails the relays it carried; the next chunk is committed by a producer initialized again, which reads the checkpoints again', async () => {
    const { broker, kafka, admin } = fakeBroker();
    const { store } = ownedOutboxes({ 0: entries('t0a'), 1: entries('t1a') });
    const relay = relayOn(store, kafka, admin);
    broker.failNextCommit = new Error('request timed out');
    await expect(relay.relay(0)).rejects.toBeInstanceOf(RelayTransactionError);
    expect(await relay.relay(0)).toBe(1);
    expect(await relay.relay(1)).toBe(1);
    expect(broker.log).toEqual([
      'init me', 'abort me', 'checkpoints read', 'abort me',
      'init me', 'abort me', 'checkpoints read', 'commit me t0a @0:1',
      'checkpoints read', 'commit me t1a @1:1',
    ]);
  });
});
