/**
 * Guarantee 7 at the relay: against the real broker and Redis, a relay that dies after its
 * transaction committed but before the trim does not produce those records again, and a
 * zombie relay (the old owner) whose transaction is fenced by the new owner produces nothing a
 * read_committed reader sees. At-least-once, for contrast, repeats them.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import pino from 'pino';
import { coverOfRecord, decodeOutboxRecord, encodeOutboxRecord, isFencedError, OutboxRelay, RedisOutboxStore, RelayFencedError, type OutputGuarantee, type RelayHooks } from '../../../services/kit/outbox-relay';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { emptyChange, PartitionKeys, PartitionStateStore } from '../../../services/kit/partition-state';
import { AvroCodec, recordTypes } from '../../../services/kit/codec';
import { ConsumerRunner, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { committedOffsets, createTopics, kafka, readAll, REDIS_URL, REGISTRY_URL, waitFor, withAdmin } from '../../support/stack';

const silent = pino({ level: 'silent' });
/** kafkajs's broker requests, which the tests below watch. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Broker = require('kafkajs/src/broker') as { prototype: Record<'findGroupCoordinator' | 'endTxn', (...args: unknown[]) => Promise<unknown>> };

/** "Name(type): message <- Name(type): message ..." down an error's cause chain. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { name, type, message, cause } = current as { name?: unknown; type?: unknown; message?: unknown; cause?: unknown };
    parts.push(`${String(name)}(${String(type ?? '-')}): ${String(message)}`);
    current = cause;
  }
  return parts.length === 0 ? String(error) : parts.join(' <- ');
}

describe('the outbox relay on the real stack', () => {
  let admin: Admin;
  let redis: RedisClient;
  const relays: OutboxRelay[] = [];
  // Closed here, not at each test's end, so that a failed expectation leaves no connection open
  // (the broker would hold the run for its idle timeout, 10 minutes).
  const producers: Producer[] = [];
  const prefix = `test-relay-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    redis = createRedis({ REDIS_URL });
  });
  afterAll(async () => {
    for (const relay of relays) await relay.close();
    for (const producer of producers) await producer.disconnect();
    const keys = await redis.keys(`{${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await admin.disconnect();
  });

  async function setup(name: string, partitions = 2) {
    const input = `test.relay.${name}.${randomUUID().slice(0, 8)}.in`;
    const output = `test.relay.${name}.${randomUUID().slice(0, 8)}.out`;
    await createTopics([input, output], partitions);
    const outboxKey = (partition: number) => `{${prefix}:${name}:${partition}}:outbox`;
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    producers.push(producer);
    await producer.connect();
    const relay = (guarantee: OutputGuarantee, hooks?: RelayHooks, batchSize = 50) => {
      const created = new OutboxRelay({
        store: new RedisOutboxStore(redis, outboxKey),
        guarantee,
        kafka,
        producer,
        admin,
        group: `test-relay-${name}`,
        topic: input,
        transactionalIdPrefix: prefix,
        transactionTimeoutMs: 10_000,
        logger: silent,
        batchSize,
        hooks,
      });
      relays.push(created);
      return created;
    };
    const append = async (partition: number, values: string[]) => {
      for (const value of values) await redis.rpush(outboxKey(partition), encodeOutboxRecord({ topic: output, key: value, value: Buffer.from(value) }));
    };
    const committed = async () => (await readAll(output)).map((m) => m.value!.toString()).sort();
    return { relay, append, committed, outboxKey, input };
  }

  const values = (from: number, count: number) => Array.from({ length: count }, (_, i) => `r${String(from + i).padStart(4, '0')}`);

  /** Hooks that hold a relay just before its commit until `resume`, then run `then`: a zombie stalled by a GC pause or a partition. */
  function heldAtCommit(then?: () => void): { hooks: RelayHooks; atCommit: Promise<void>; resume: () => void } {
    let reached!: () => void;
    const atCommit = new Promise<void>((resolve) => (reached = resolve));
    let resume!: () => void;
    const held = new Promise<void>((resolve) => (resume = resolve));
    const hooks: RelayHooks = {
      beforeCommit: async () => {
        reached();
        await held;
        then?.();
      },
    };
    return { hooks, atCommit, resume };
  }

  /** A relay call's outcome without awaiting it: 'finished', or what it threw. */
  const outcomeOf = (call: Promise<number>): Promise<unknown> => call.then(() => 'finished', (error: unknown) => error);

  it('dies after the transaction committed, before the trim: the next owner trims and does not produce them again', async () => {
    const t = await setup('crash');
    await t.append(0, values(0, 120));
    const dying = t.relay('exactly_once', { afterProduce: () => { throw new Error('killed after commit'); } });
    await expect(dying.relay(0)).rejects.toThrow('killed after commit');
    // The first chunk (50) is in Kafka, still in the outbox.
    expect(await redis.llen(t.outboxKey(0))).toBe(120);
    await t.append(0, values(120, 10));

    const next = t.relay('exactly_once');
    expect(await next.relay(0)).toBe(80);
    // The last transaction's 30 records wait for the partition's next read to trim them.
    expect(await redis.llen(t.outboxKey(0))).toBe(30);
    expect(await next.relay(0)).toBe(0);
    expect(await redis.llen(t.outboxKey(0))).toBe(0);
    expect(await t.committed()).toEqual(values(0, 130));
  });

  it('a zombie whose transaction is fenced by the new owner produces nothing a read_committed reader sees', async () => {
    const t = await setup('zombie');
    await t.append(1, values(0, 30));
    const { hooks, atCommit, resume } = heldAtCommit();
    const zombie = t.relay('exactly_once', hooks);
    const zombieRun = outcomeOf(zombie.relay(1));
    await atCommit; // the zombie sent its records in an open transaction and stalls (a GC pause, a partition)

    const owner = t.relay('exactly_once');
    expect(await owner.relay(1)).toBe(30);
    await t.append(1, values(30, 5));
    // The zombie resumes the moment the owner's last commit is answered. The coordinator still writes
    // that commit's markers, and Kafka 4.1 then answers the zombie's next step (AddOffsetsToTxn)
    // CONCURRENT_TRANSACTIONS before it checks the epoch: the relay must wait that out and learn it was
    // fenced, not take it for a failed transaction and fence the owner back (kafka-concurrent-transactions.ts).
    const endTxn = Broker.prototype.endTxn;
    Broker.prototype.endTxn = async function (this: unknown, ...args: unknown[]) {
      const answer = await endTxn.apply(this, args);
      if ((args[0] as { transactionResult?: boolean }).transactionResult === true) resume();
      return answer;
    };
    try {
      expect(await owner.relay(1)).toBe(5);
    } finally {
      Broker.prototype.endTxn = endTxn;
    }
    const outcome = await zombieRun;
    // On a mismatch, the whole cause chain says what the broker answered.
    expect(outcome instanceof RelayFencedError ? 'RelayFencedError' : causeChain(outcome)).toBe('RelayFencedError');
    expect((outcome as RelayFencedError).retriable).toBe(true);
    // Fenced by the broker's answer, not only inferred from the checkpoint afterwards (which can still show the owner's earlier commit).
    expect({ fencedAnswer: isFencedError((outcome as RelayFencedError).cause), chain: causeChain(outcome) }).toMatchObject({ fencedAnswer: true });
    // Only the owner's last transaction (5 records) is left, for its next read to trim.
    expect(await redis.llen(t.outboxKey(1))).toBe(5);
    // The zombie leaves the partition alone (the outbox names the owner) instead of fencing the owner back.
    await t.append(1, values(35, 3));
    await expect(zombie.relay(1)).rejects.toBeInstanceOf(RelayFencedError);
    expect(await owner.relay(1)).toBe(3);
    expect(await t.committed()).toEqual(values(0, 38));
  });

  it('exactly_once: a relay looks its coordinators up once, not before every step of every transaction', async () => {
    // The request kafkajs's cluster sends for each lookup (kafka-coordinators.ts remembers its answers).
    const lookup = Broker.prototype.findGroupCoordinator;
    const asked: string[] = [];
    Broker.prototype.findGroupCoordinator = function (this: unknown, ...args: unknown[]) {
      const { groupId, coordinatorType } = args[0] as { groupId: string; coordinatorType?: number };
      asked.push(`${coordinatorType ?? 0}:${groupId}`);
      return lookup.apply(this, args);
    };
    try {
      const t = await setup('lookups');
      const relay = t.relay('exactly_once');
      for (let round = 0; round < 10; round += 1) {
        await t.append(0, values(round * 3, 3));
        expect(await relay.relay(0)).toBe(3);
      }
      expect(await t.committed()).toEqual(values(0, 30));
      // kafkajs alone asks about 4 times per transaction (42 here without the cache): once for the transaction coordinator
      // and once for the checkpoint group's would do; a retry after a broker hiccup may add one.
      // The transactional id and the checkpoint group both name the relay's group, test-relay-lookups.
      const relayLookups = asked.filter((key) => key.includes('test-relay-lookups'));
      expect(relayLookups.length).toBeGreaterThanOrEqual(2);
      expect(relayLookups.length).toBeLessThanOrEqual(4);
    } finally {
      Broker.prototype.findGroupCoordinator = lookup;
    }
  });

  it('at_least_once, for contrast: the same crash produces the chunk again', async () => {
    const t = await setup('alo');
    await t.append(0, values(0, 20));
    const dying = t.relay('at_least_once', { afterProduce: () => { throw new Error('killed after produce'); } });
    await expect(dying.relay(0)).rejects.toThrow('killed after produce');
    expect(await t.relay('at_least_once').relay(0)).toBe(20);
    const seen = await t.committed();
    expect(seen).toHaveLength(40);
    expect(new Set(seen).size).toBe(20);
  });

  it('at_least_once returns before its trim is answered; the connection\'s next command runs after the trim, another relay finds nothing to produce again', async () => {
    const t = await setup('alo-trim');
    await t.append(0, values(0, 20));
    const relay = t.relay('at_least_once', undefined, 8);
    expect(await relay.relay(0)).toBe(20);
    // Sent on the same connection right after the relay returned: Redis runs it after the trims.
    const [left, base] = await Promise.all([redis.llen(t.outboxKey(0)), redis.hget(`${t.outboxKey(0)}:relay`, 'base')]);
    expect({ left, base }).toEqual({ left: 0, base: '20' });
    expect(await t.relay('at_least_once').relay(0)).toBe(0);
    expect(await t.committed()).toEqual(values(0, 20));
  });

  it('a zombie whose commit fails without a fenced answer, after the new owner committed the same records, stops (the outbox names the new owner) instead of fencing the owner back', async () => {
    const t = await setup('same-head');
    await t.append(0, values(0, 20));
    const { hooks, atCommit, resume } = heldAtCommit(() => {
      // A step that timed out: an answer that does not say "fenced".
      throw new Error('request timed out');
    });
    const zombie = t.relay('exactly_once', hooks);
    const zombieRun = outcomeOf(zombie.relay(0));
    await atCommit;
    // The new owner relays the same head, so it commits the very checkpoint (20) the zombie tried to.
    const owner = t.relay('exactly_once');
    expect(await owner.relay(0)).toBe(20);
    resume();
    const outcome = await zombieRun;
    // The outbox names the new owner: the zombie knows it was taken over.
    expect(outcome instanceof RelayFencedError ? 'RelayFencedError' : causeChain(outcome)).toBe('RelayFencedError');
    await t.append(0, values(20, 3));
    await expect(zombie.relay(0)).rejects.toBeInstanceOf(RelayFencedError);
    expect(await owner.relay(0)).toBe(3);
    expect(await t.committed()).toEqual(values(0, 23));
  });

  it('exactly_once: the partitions ready while a transaction is in flight are committed together in the next one, each with its checkpoint', async () => {
    const t = await setup('together', 6);
    for (let p = 0; p < 6; p += 1) await t.append(p, values(p * 10, 3));
    const ended: boolean[] = [];
    const endTxn = Broker.prototype.endTxn;
    Broker.prototype.endTxn = async function (this: unknown, ...args: unknown[]) {
      const answer = await endTxn.apply(this, args);
      ended.push((args[0] as { transactionResult?: boolean }).transactionResult === true);
      return answer;
    };
    try {
      // The first transaction (partition 0's) is held before its commit until the other five wait for the next one.
      let reached!: () => void;
      const atCommit = new Promise<void>((resolve) => (reached = resolve));
      let hold = true;
      const relay: OutboxRelay = t.relay('exactly_once', {
        beforeCommit: async () => {
          if (!hold) return;
          hold = false;
          reached();
          await waitFor('the other partitions to wait', () => relay.chunksWaiting === 5);
        },
      });
      const first = relay.relay(0);
      await atCommit;
      const rest = [1, 2, 3, 4, 5].map((p) => relay.relay(p));
      expect(await Promise.all([first, ...rest])).toEqual([3, 3, 3, 3, 3, 3]);
    } finally {
      Broker.prototype.endTxn = endTxn;
    }
    expect(ended).toEqual([true, true]);
    expect(await t.committed()).toEqual(Array.from({ length: 6 }, (_, p) => values(p * 10, 3)).flat().sort());
    const [checkpoints] = await admin.fetchOffsets({ groupId: 'test-relay-together-relay', topics: [t.input] });
    expect(checkpoints.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, '3'], [1, '3'], [2, '3'], [3, '3'], [4, '3'], [5, '3']]);
  });

  it('a checkpoint written for an outbox that was since lost is ignored: the new outbox starts again', async () => {
    const t = await setup('reset');
    await t.append(0, values(0, 10));
    expect(await t.relay('exactly_once').relay(0)).toBe(10);
    // State reset: the outbox and its relay state are gone; new records restart the numbering.
    await redis.del(t.outboxKey(0), `${t.outboxKey(0)}:relay`);
    await t.append(0, values(10, 5));
    expect(await t.relay('exactly_once').relay(0)).toBe(5);
    await waitFor('15 committed records', async () => (await t.committed()).length === 15 || undefined);
    expect(await t.committed()).toEqual(values(0, 15));
  });
});

describe('a consumer of a transactional topic (the renderer on triggers)', () => {
  it('commits past a tail of transaction markers and aborted records with commitPastMarkers, so its lag reaches 0', async () => {
    const topic = `test.relay.markers.${randomUUID().slice(0, 8)}`;
    await createTopics([topic], 1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const binding = { topic, type: recordTypes().TriggerFired, tombstones: true } as AnyTopicBinding;
    const start = async (commitPastMarkers: boolean) => {
      const groupId = `test-markers-${randomUUID()}`;
      const seen: string[] = [];
      const runner = new ConsumerRunner({
        consumer: kafka.consumer({ groupId }), producer, codec: AvroCodec.connect(REGISTRY_URL), logger: silent,
        instrumentation: { batchProcessed: () => undefined, deadLettered: () => undefined }, service: 'test', groupId, bindings: [binding],
        handler: async (records) => void seen.push(...records.map((r) => r.key as string)), commitPastMarkers,
      });
      await runner.start();
      return { runner, groupId, seen };
    };
    const [past, plain] = await Promise.all([start(true), start(false)]);
    const transactional = kafka.producer({ transactionalId: `test-markers-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
    try {
      await waitFor('both runners to join', () => past.runner.isReady() && plain.runner.isReady());
      await transactional.connect();
      const committedTxn = await transactional.transaction();
      await committedTxn.send({ topic, messages: [{ key: 'a', value: null }, { key: 'b', value: null }, { key: 'c', value: null }] });
      await committedTxn.commit();
      for (const { groupId } of [past, plain]) await waitFor('the committed batch', async () => (await committedOffsets(groupId, topic)).get(0) === 4 || undefined);
      // Then a transaction that aborts: the tail is 2 aborted records and an abort marker.
      const abortedTxn = await transactional.transaction();
      await abortedTxn.send({ topic, messages: [{ key: 'x', value: null }, { key: 'y', value: null }] });
      await abortedTxn.abort();
      // The coordinator writes the abort marker after abort() returns: 3 records, 1 marker, 2 aborted, 1 marker.
      await waitFor('the abort marker', async () => (await withAdmin((a) => a.fetchTopicOffsets(topic)))[0]?.high === '7' || undefined);
      await waitFor('the commit past the markers', async () => (await committedOffsets(past.groupId, topic)).get(0) === 7 || undefined);
      expect(past.seen).toEqual(['a', 'b', 'c']);
      expect(plain.seen).toEqual(['a', 'b', 'c']);
      // Without it, the aborted tail is never committed: lag 3 for good.
      expect((await committedOffsets(plain.groupId, topic)).get(0)).toBe(4);
    } finally {
      await transactional.disconnect();
      await past.runner.stop();
      await plain.runner.stop();
      await producer.disconnect();
    }
  });
});

/** An outbox (partition 0) and its store, without a fence, on real Redis under a key of its own; both its keys deleted afterwards. */
async function withOutbox(name: string, test: (parts: { redis: RedisClient; outbox: string; store: RedisOutboxStore }) => Promise<void>): Promise<void> {
  const redis = createRedis({ REDIS_URL });
  const outbox = `{${name}-${randomUUID().slice(0, 8)}:0}:outbox`;
  try {
    await test({ redis, outbox, store: new RedisOutboxStore(redis, () => outbox) });
  } finally {
    await redis.del(outbox, `${outbox}:relay`);
    redis.disconnect();
  }
}

describe('claiming an outbox (claimOutbox-1.lua) and reading it as its owner (readOutbox-4.lua) on real Redis', () => {
  it('a claim names the new owner and returns the one it replaced; a read as an owner that is not the current one reads nothing', async () => {
    await withOutbox('test-owner', async ({ redis, outbox, store }) => {
      await redis.rpush(outbox, 'r1');
      expect(await store.claim(0, 'relay-a')).toBe('');
      expect((await store.read(0, 10, { owner: 'relay-a' })).entries).toEqual(['r1']);
      expect(await store.claim(0, 'relay-b')).toBe('relay-a');
      await expect(store.read(0, 10, { owner: 'relay-a' })).rejects.toMatchObject({ name: 'OutboxTakenError', owner: 'relay-b' });
      expect((await store.read(0, 10, { owner: 'relay-b' })).entries).toEqual(['r1']);
      expect((await store.read(0, 10)).entries).toEqual(['r1']); // no owner given: no check
      expect(await store.claim(0, 'relay-b')).toBe('relay-b');
    });
  });
});

describe("a read's owed trim (readOutbox-4.lua) and trimOutboxTo-2.lua's incarnation on real Redis", () => {
  it('a read drops what is owed before it reads, even when it is then refused, and never from an outbox begun again since', async () => {
    await withOutbox('test-owed', async ({ redis, outbox, store }) => {
      await redis.rpush(outbox, 'r0', 'r1', 'r2', 'r3', 'r4');
      expect(await store.claim(0, 'relay-a')).toBe('');
      const first = await store.read(0, 2, { owner: 'relay-a' });
      expect(first).toMatchObject({ base: 0, entries: ['r0', 'r1'] });
      const head = await store.read(0, 2, { owner: 'relay-a', trim: { upTo: 2, incarnation: first.incarnation } });
      expect(head).toMatchObject({ base: 2, entries: ['r2', 'r3'] });
      // Owed again (the answer was lost): nothing more goes.
      expect(await store.read(0, 10, { owner: 'relay-a', trim: { upTo: 2, incarnation: first.incarnation } })).toMatchObject({ base: 2, entries: ['r2', 'r3', 'r4'] });
      // Taken over: the read is refused, but what the old owner's transaction committed goes.
      await store.claim(0, 'relay-b');
      await expect(store.read(0, 10, { owner: 'relay-a', trim: { upTo: 3, incarnation: first.incarnation } })).rejects.toMatchObject({ name: 'OutboxTakenError' });
      expect(await redis.lrange(outbox, 0, -1)).toEqual(['r3', 'r4']);
      // Another incarnation's trim (an outbox lost and begun again) drops nothing, by read or by trimTo.
      expect(await store.read(0, 10, { owner: 'relay-b', trim: { upTo: 5, incarnation: 'lost-one' } })).toMatchObject({ base: 3, entries: ['r3', 'r4'] });
      expect(await store.trimTo(0, 5, 'lost-one')).toBe(0);
      expect(await store.trimTo(0, 4, first.incarnation)).toBe(1);
      expect(await store.trimTo(0, 9)).toBe(1); // no incarnation: by sequence number alone, never past the list
      expect(await store.read(0, 10)).toMatchObject({ base: 5, entries: [] });
    });
  });
});

describe('a guarded outbox read (readOutbox-4.lua) on real Redis', () => {
  it('reads while the fence holds the incarnation, and refuses without reading once the state is gone or replaced', async () => {
    const redis = createRedis({ REDIS_URL });
    const tag = `{test-guard-${randomUUID().slice(0, 8)}:0}`;
    const keys = { outbox: `${tag}:outbox`, fence: `${tag}:fence` };
    try {
      const store = new RedisOutboxStore(redis, () => keys.outbox, () => keys.fence);
      await redis.hset(keys.fence, 'inc', 'inc-1', 'v', '3');
      await redis.rpush(keys.outbox, 'r1', 'r2');
      expect((await store.read(0, 10, { guard: 'inc-1' })).entries).toEqual(['r1', 'r2']);
      expect((await store.read(0, 10)).entries).toEqual(['r1', 'r2']); // unguarded: no check
      await redis.hset(keys.fence, 'inc', 'inc-2');
      await expect(store.read(0, 10, { guard: 'inc-1' })).rejects.toMatchObject({ name: 'StateVanishedError', expected: 'inc-1', found: 'inc-2' });
      await redis.del(keys.fence, keys.outbox, `${keys.outbox}:relay`); // FLUSHALL, as far as this partition goes
      await expect(store.read(0, 10, { guard: 'inc-1' })).rejects.toMatchObject({ name: 'StateVanishedError', found: null });
      expect(await redis.exists(`${keys.outbox}:relay`)).toBe(0); // a refused read records no outbox incarnation
      await expect(new RedisOutboxStore(redis, () => keys.outbox).read(0, 10, { guard: 'inc-1' })).rejects.toThrow(/needs the fence key/);
    } finally {
      await redis.del(keys.fence, keys.outbox, `${keys.outbox}:relay`);
      redis.disconnect();
    }
  });
});

/** A partition's state store and covered outbox store on real Redis under a prefix of their own; every key of it deleted afterwards. */
async function withCoveredOutbox(
  name: string,
  test: (stores: { redis: RedisClient; keys: PartitionKeys; state: PartitionStateStore; outbox: RedisOutboxStore }) => Promise<void>,
  coverOutbox = false,
): Promise<void> {
  const redis = createRedis({ REDIS_URL });
  const keys = new PartitionKeys(`${name}-${randomUUID().slice(0, 8)}`, 'svc');
  try {
    const state = new PartitionStateStore(redis, keys, 60_000, false, coverOutbox);
    await test({ redis, keys, state, outbox: new RedisOutboxStore(redis, (p) => keys.outbox(p), (p) => keys.fence(p), (p) => keys.timers(p)) });
  } finally {
    const found = await redis.keys(keys.pattern());
    if (found.length > 0) await redis.del(...found);
    redis.disconnect();
  }
}

describe('a read sent right behind an apply (readOutbox-4.lua ARGV[9]) on real Redis', () => {
  it('runs after the apply when sent before its answer; one that ran first (no fence, or one below the version) comes back early, nothing read or checked', async () => {
    await withCoveredOutbox('test-ahead', async ({ state, outbox }) => {
      // No fence yet (a fresh partition's first apply has not run): early, and the guard not judged.
      expect(await outbox.read(0, 10, { after: 1, guard: 'fence-1' })).toMatchObject({ early: true, entries: [] });
      // Sent before the apply's answer, as PartitionProcessor does: Redis runs them in that order.
      for (let version = 0; version < 20; version += 1) {
        const change = { ...emptyChange(), advance: { topic: 'behavior.events', offset: String(version) }, incarnation: 'fence-1', outbox: [`r${version}`] };
        const applying = state.applyChange(0, version, change);
        const read = outbox.read(0, 100, { after: version + 1, guard: 'fence-1' });
        expect(await applying).toMatchObject({ version: version + 1 });
        const head = await read;
        expect({ early: head.early, last: head.entries.at(-1), offset: head.cover?.offsets['behavior.events'] }).toEqual({ early: undefined, last: `r${version}`, offset: String(version) });
      }
      // A fence below the version (the read ran first): early, even with a guard that would not hold.
      expect(await outbox.read(0, 10, { after: 21, guard: 'another' })).toMatchObject({ early: true, entries: [] });
      await expect(outbox.read(0, 10, { after: 20, guard: 'another' })).rejects.toMatchObject({ name: 'StateVanishedError' });
    });
  });
});

describe("an outbox read's cover (readOutbox-4.lua, applyPartitionChange-n.lua) on real Redis", () => {
  it("returns the fence's incarnation, applied offsets and timer watermark, lowered below the earliest timer still set; rt is removed once restored", async () => {
    await withCoveredOutbox('test-cover', async ({ redis, keys, state, outbox }) => {
      expect((await outbox.read(0, 10)).cover).toBeUndefined(); // nothing applied yet
      const batch = { ...emptyChange(), advance: { topic: 'behavior.events', offset: '41' }, incarnation: 'fence-1', outbox: ['r1'] };
      batch.timers.set('t1', 5_000);
      await state.applyChange(0, 0, batch);
      expect((await outbox.read(0, 10)).cover).toEqual({ incarnation: 'fence-1', offsets: { 'behavior.events': '41' }, timersThrough: null });
      // Timers fired by 6000: t1 leaves the set, the watermark is 6000 (and never moves back).
      const fired = { ...emptyChange(), timersThrough: 6_000, outbox: ['r2'] };
      fired.timers.set('t1', null);
      await state.applyChange(0, 1, fired);
      await state.applyChange(0, 2, { ...emptyChange(), timersThrough: 5_500 });
      expect((await state.fence(0)).timersThrough).toBe(6_000);
      const head = await outbox.read(0, 10);
      expect(head.entries).toEqual(['r1', 'r2']);
      expect(head.cover).toEqual({ incarnation: 'fence-1', offsets: { 'behavior.events': '41' }, timersThrough: 6_000 });
      // A batch sets a timer already due by the watermark (a late event): the cover no longer claims it fired.
      const late = { ...emptyChange(), advance: { topic: 'behavior.events', offset: '42' } };
      late.timers.set('t2', 5_800);
      await state.applyChange(0, 3, late);
      expect((await outbox.read(0, 10)).cover).toEqual({ incarnation: 'fence-1', offsets: { 'behavior.events': '42' }, timersThrough: 5_799 });
      // A store without the timers key (the renderer's marker) reads no cover.
      expect((await new RedisOutboxStore(redis, (p) => keys.outbox(p), (p) => keys.fence(p)).read(0, 10)).cover).toBeUndefined();
      // state rebuild's rt reads back, and a change that says so removes it.
      await redis.hset(keys.fence(0), 'rt', '6000');
      expect((await state.fence(0)).restoreTimersThrough).toBe(6_000);
      await state.applyChange(0, 4, { ...emptyChange(), timersRestored: true });
      expect((await state.fence(0)).restoreTimersThrough).toBeNull();
    });
  });

  it("with coverOutbox, the last record of each change carries the fence's cover after it; a read from an index reads past the head", async () => {
    await withCoveredOutbox('test-cover', async ({ redis, keys, state, outbox }) => {
      const record = (key: string) => encodeOutboxRecord({ topic: 'triggers', key, value: Buffer.from(key) });
      const batch = { ...emptyChange(), advance: { topic: 'behavior.events', offset: '41' }, incarnation: 'fence-1', outbox: [record('a1'), record('a2')] };
      batch.timers.set('t1', 5_000);
      await state.applyChange(0, 0, batch);
      // A timer firing (watermark 6,000) with a timer still set at 5,800: its cover says 5,799.
      const fired = { ...emptyChange(), timersThrough: 6_000, outbox: [record('b1')] };
      fired.timers.set('t1', null);
      fired.timers.set('t2', 5_800);
      await state.applyChange(0, 1, fired);
      await state.applyChange(0, 2, { ...emptyChange(), advance: { topic: 'behavior.events', offset: '42' } }); // no records: nothing marked
      const head = await outbox.read(0, 10);
      expect(head.entries.map((entry) => decodeOutboxRecord(entry).key)).toEqual(['a1', 'a2', 'b1']);
      expect(head.entries.map(coverOfRecord)).toEqual([
        null,
        { incarnation: 'fence-1', offsets: { 'behavior.events': '41' }, timersThrough: null },
        { incarnation: 'fence-1', offsets: { 'behavior.events': '41' }, timersThrough: 5_799 },
      ]);
      expect(head.cover).toEqual({ incarnation: 'fence-1', offsets: { 'behavior.events': '42' }, timersThrough: 5_799 });
      const on = await outbox.read(0, 10, { from: 1 });
      expect({ base: on.base, keys: on.entries.map((entry) => decodeOutboxRecord(entry).key) }).toEqual({ base: 0, keys: ['a2', 'b1'] });
      // Without coverOutbox the records are stored as given.
      await new PartitionStateStore(redis, keys, 60_000).applyChange(0, 3, { ...emptyChange(), outbox: [record('c1')] });
      expect((await outbox.read(0, 1, { from: 3 })).entries).toEqual([record('c1')]);
    }, true);
  });
});
