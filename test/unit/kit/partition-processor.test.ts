import pino from 'pino';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { ConsumedRecord, BatchContext } from '../../../services/kit/consumer-runner';
import { createMetrics } from '../../../services/kit/metrics';
import { CorruptStateError } from '../../../services/kit/errors';
import { commitMetadata, StateLogMismatchError } from '../../../services/kit/log-binding';
import {
  decodeOutboxRecord,
  encodeOutboxRecord,
  FenceContentionError,
  PartitionProcessor,
  type PartitionLogic,
} from '../../../services/kit/partition-processor';
import { OutboxRelay, StateVanishedError, type OutboxRead, type OutboxStore } from '../../../services/kit/outbox-relay';
import { MemoryLog } from '../../support/memory-log';
import { turnsUntil } from '../../support/turns';
import { emptyChange, type AppliedChange, type PartitionChange, type PartitionSnapshot, type PartitionStateStore, type StateValue } from '../../../services/kit/partition-state';

/** An in-memory PartitionStateStore with the Lua script's semantics, and a way to interfere. */
class MemoryStore {
  version = 0;
  offsets = new Map<string, bigint>();
  incarnation: string | null = null;
  streamTime: number | null = null;
  /** Restore bounds as `state rebuild` writes them (fence fields r:<topic>). */
  restoreUpTo = new Map<string, bigint>();
  /** The timer watermark (fence field tt) and the rebuild's (rt). */
  timersThrough: number | null = null;
  restoreTimersThrough: number | null = null;
  states = new Map<string, StateValue>();
  outbox: string[] = [];
  timers = new Map<string, number>();
  /** Called before each apply: a test can move the version to simulate another writer. */
  beforeApply: () => void = () => undefined;
  /** Awaited before an apply changes anything (a command that reaches Redis late), and after (its answer on the way back). */
  applyLate: (() => Promise<void>) | undefined;
  answerLate: (() => Promise<void>) | undefined;

  async read(_partition: number, customers: Iterable<string>): Promise<PartitionSnapshot> {
    return {
      version: this.version,
      appliedOffsets: new Map(this.offsets),
      incarnation: this.incarnation,
      streamTime: this.streamTime,
      restoreUpTo: new Map(this.restoreUpTo),
      timersThrough: this.timersThrough,
      restoreTimersThrough: this.restoreTimersThrough,
      states: new Map([...customers].map((c) => [c, this.states.get(c) ?? null])),
    };
  }
  async fence(partition: number) {
    const { states: _states, ...fence } = await this.read(partition, []);
    return fence;
  }
  /** Reads of the due timers, as a test counts them. */
  dueReads = 0;
  async apply(partition: number, version: number, change: PartitionChange): Promise<boolean> {
    return (await this.applyChange(partition, version, change)) !== null;
  }
  async applyChange(_partition: number, version: number, change: PartitionChange): Promise<AppliedChange | null> {
    this.beforeApply();
    if (this.applyLate !== undefined) await this.applyLate();
    if (version !== this.version) return null;
    for (const [c, s] of change.states) {
      if (s === null) this.states.delete(c);
      else this.states.set(c, s);
    }
    this.outbox.push(...change.outbox);
    for (const [m, due] of change.timers) {
      if (due === null) this.timers.delete(m);
      else this.timers.set(m, due);
    }
    if (change.advance) this.offsets.set(change.advance.topic, BigInt(change.advance.offset));
    this.incarnation ??= change.incarnation ?? null;
    if (change.streamTime !== undefined) this.streamTime = Math.max(this.streamTime ?? change.streamTime, change.streamTime);
    if (change.timersThrough !== undefined) this.timersThrough = Math.max(this.timersThrough ?? change.timersThrough, change.timersThrough);
    if (change.timersRestored === true) this.restoreTimersThrough = null;
    this.version += 1;
    if (this.answerLate !== undefined) await this.answerLate();
    return { version: this.version, earliestDue: this.timers.size === 0 ? null : Math.min(...this.timers.values()) };
  }
  async dueTimers(_partition: number, now: number, limit: number) {
    this.dueReads += 1;
    return [...this.timers].filter(([, due]) => due <= now).slice(0, limit).map(([member, dueAt]) => ({ member, dueAt }));
  }
}

/** The outbox side of MemoryStore (incarnation 'mem'), with readOutbox-4.lua's (its owed trim too) and trimOutboxTo-2.lua's semantics. */
class MemoryOutbox implements OutboxStore {
  base = 0;
  /** Runs before each read: a test's way to flush Redis between the apply and the relay. */
  beforeRead: () => void = () => undefined;
  constructor(private readonly store: MemoryStore) {}
  async read(partition: number, limit: number, { guard, trim, after }: OutboxRead = {}) {
    this.beforeRead();
    if (trim !== undefined) await this.trimTo(partition, trim.upTo, trim.incarnation);
    if (after !== undefined && this.store.version < after) return { base: -1, incarnation: '', entries: [], early: true as const };
    if (guard !== undefined && this.store.incarnation !== guard) throw new StateVanishedError(partition, guard, this.store.incarnation);
    return { base: this.base, incarnation: 'mem', entries: this.store.outbox.slice(0, limit) };
  }
  async claim() {
    return '';
  }
  async trimTo(_partition: number, upTo: number, incarnation = 'mem') {
    if (incarnation !== 'mem') return 0;
    const count = Math.min(Math.max(0, upTo - this.base), this.store.outbox.length);
    this.store.outbox.splice(0, count);
    this.base += count;
    return count;
  }
}

/**
 * Counts events per customer; every event emits one output record; timers fire a record too.
 * A record's value is its event time; a stored state "corrupt" cannot be decoded.
 */
const countingLogic: PartitionLogic = {
  customerOfRecord: (r) => r.key as string,
  customersOfTimers: (timers) => timers.map((t) => t.member),
  eventTime: (r) => r.value as number,
  onRecords(snapshot, records) {
    const change = emptyChange();
    for (const r of records) {
      const customer = r.key as string;
      if (snapshot.states.get(customer) === 'corrupt') throw new CorruptStateError(customer, 'not a number');
      const current = Number(change.states.get(customer) ?? snapshot.states.get(customer) ?? 0);
      change.states.set(customer, String(current + 1));
      change.outbox.push(encodeOutboxRecord({ topic: 'out', key: customer, value: Buffer.from(`${customer}:${r.offset}`) }));
      change.timers.set(customer, 1000);
    }
    return change;
  },
  onTimers(snapshot, timers) {
    const change = emptyChange();
    for (const t of timers) {
      if (snapshot.states.get(t.member) === 'corrupt') throw new CorruptStateError(t.member, 'not a number');
      change.timers.set(t.member, null);
      change.outbox.push(encodeOutboxRecord({ topic: 'out', key: t.member, value: Buffer.from(`timer:${t.member}`) }));
    }
    return change;
  },
};

function setup(now = 0, timerBatchSize?: number, gatherMs?: number) {
  const store = new MemoryStore();
  const outbox = new MemoryOutbox(store);
  const log = new MemoryLog();
  const sent: string[] = [];
  const producer = {
    sendBatch: jest.fn(async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ value: Buffer }> }> }) => {
      for (const t of topicMessages) for (const m of t.messages) sent.push(m.value.toString());
      return [];
    }),
  } as unknown as Producer;
  const clock = { now };
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics('test');
  const relay = new OutboxRelay({
    store: outbox,
    guarantee: 'at_least_once',
    kafka: {} as Kafka,
    producer,
    admin: {} as Admin,
    group: 'g',
    topic: 'in',
    transactionalIdPrefix: 'test',
    transactionTimeoutMs: 10_000,
    logger,
    metrics,
    gatherMs,
  });
  const processor = new PartitionProcessor({
    store: store as unknown as PartitionStateStore,
    logic: countingLogic,
    relay,
    logger,
    metrics,
    clock: () => clock.now,
    log,
    timerTopic: 'in',
    timerBatchSize,
  });
  return { store, outbox, sent, processor, producer, clock, log, metrics };
}

/** Observations of kairos_batch_phase_seconds per phase. */
async function phaseCounts(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await metrics.batchPhaseSeconds.get()).values) if (v.metricName?.endsWith('_count')) counts[String(v.labels.phase)] = v.value;
  return counts;
}

const record = (offset: number, key: string, eventTime = 0): ConsumedRecord<unknown> => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key,
  value: eventTime,
  timestamp: 0,
  headers: {},
});
const context = (records: ConsumedRecord<unknown>[], generation = 1, commit: BatchContext['commit'] = async () => undefined): BatchContext => ({
  topic: 'in',
  partition: 0,
  nextOffset: String(Number(records.at(-1)!.offset) + 1),
  firstOffset: records[0]!.offset,
  commit,
  generation,
  heartbeat: async () => undefined,
  isActive: () => true,
});

describe('PartitionProcessor', () => {
  it("sends the relay's outbox read right behind the apply, before the apply's answer, and the relay takes it instead of reading", async () => {
    const { store, outbox, sent, processor } = setup();
    let reads = 0;
    outbox.beforeRead = () => void (reads += 1);
    let answer: (() => void) | undefined;
    store.answerLate = () => new Promise<void>((resolve) => (answer = resolve));
    const batch = [record(0, 'a'), record(1, 'b')];
    const handled = processor.handleBatch(batch, context(batch));
    await turnsUntil(() => answer !== undefined);
    expect(reads).toBe(1);
    store.answerLate = undefined;
    answer!();
    await handled;
    expect({ reads, sent, outbox: store.outbox }).toEqual({ reads: 1, sent: ['a:0', 'b:1'], outbox: [] });
  });

  it('counts a batch as on its way to the relay from its start: a gathering send waits for it, never for a batch that failed before its relay or for itself', async () => {
    // A gather of a minute: a batch whose send waited for it would time the test out.
    const { store, sent, processor } = setup(0, undefined, 60_000);
    store.beforeApply = () => {
      throw new Error('Redis away');
    };
    const failing = [record(0, 'a')];
    await expect(processor.handleBatch(failing, context(failing))).rejects.toThrow('Redis away');
    store.beforeApply = () => undefined;
    const batch = [record(0, 'a'), record(1, 'b')];
    await processor.handleBatch(batch, context(batch));
    expect(sent).toEqual(['a:0', 'b:1']);
  });

  it('a read that ran before the apply it was sent behind (a command sent again) comes back early: the relay reads again', async () => {
    const { store, outbox, sent, processor } = setup();
    let reads = 0;
    outbox.beforeRead = () => void (reads += 1);
    store.applyLate = () => Promise.resolve();
    const batch = [record(0, 'a'), record(1, 'b')];
    await processor.handleBatch(batch, context(batch));
    expect({ reads, sent, outbox: store.outbox }).toEqual({ reads: 2, sent: ['a:0', 'b:1'], outbox: [] });
  });

  it('applies a batch once, relays its outbox, and moves the fence to the last offset', async () => {
    const { store, sent, processor } = setup();
    const batch = [record(0, 'a'), record(1, 'b'), record(2, 'a')];
    await processor.handleBatch(batch, context(batch));
    expect(Object.fromEntries(store.states)).toEqual({ a: '2', b: '1' });
    expect(sent).toEqual(['a:0', 'b:1', 'a:2']);
    expect(store.outbox).toEqual([]);
    expect(store.offsets.get('in')).toBe(2n);
  });

  it('skips records at or below the applied offset when a batch is replayed, even with other boundaries', async () => {
    const { store, sent, processor } = setup();
    const first = [record(0, 'a'), record(1, 'a')];
    await processor.handleBatch(first, context(first));
    // After a crash before the commit, kafkajs re-fetches from 0 with a larger batch.
    const replay = [record(0, 'a'), record(1, 'a'), record(2, 'a')];
    await processor.handleBatch(replay, context(replay));
    expect(store.states.get('a')).toBe('3');
    expect(sent).toEqual(['a:0', 'a:1', 'a:2']);
    await processor.handleBatch(replay, context(replay)); // all applied: nothing at all
    expect(store.states.get('a')).toBe('3');
    expect(store.version).toBe(2);
  });

  it('heartbeats after the apply, before the relay, and after each chunk of the timers a batch fires', async () => {
    const { store, sent, processor } = setup(0, 2);
    const steps: string[] = [];
    store.beforeApply = () => void steps.push(`apply, ${sent.length} sent`);
    const beat = async () => void steps.push(`beat, ${sent.length} sent`);
    const first = [record(0, 'a'), record(1, 'b'), record(2, 'c'), record(3, 'd'), record(4, 'e')];
    await processor.handleBatch(first, { ...context(first), heartbeat: beat });
    expect(steps).toEqual(['apply, 0 sent', 'beat, 0 sent']);
    expect(sent).toHaveLength(5);
    // Stream time 1000: six timers (a to f) are due, fired in chunks of 2; a read finding none ends the rounds.
    steps.length = 0;
    const second = [record(5, 'f', 1_000)];
    await processor.handleBatch(second, { ...context(second), heartbeat: beat });
    expect(steps).toEqual(['apply, 5 sent', 'beat, 5 sent', ...Array(3).fill(['apply, 5 sent', 'beat, 5 sent']).flat()]);
    expect(sent.filter((v) => v.startsWith('timer:'))).toHaveLength(6);
  });

  it('ends a batch at a heartbeat that finds the group rebalancing, its apply kept; the batch again relays it without applying twice', async () => {
    const { store, sent, processor } = setup();
    const batch = [record(0, 'a'), record(1, 'b')];
    const rebalancing = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS' });
    await expect(processor.handleBatch(batch, { ...context(batch), heartbeat: async () => Promise.reject(rebalancing) })).rejects.toBe(rebalancing);
    expect(Object.fromEntries(store.states)).toEqual({ a: '1', b: '1' });
    expect(sent).toEqual([]);
    expect(store.outbox).toHaveLength(2);
    const version = store.version;
    await processor.handleBatch(batch, context(batch)); // kafkajs rejoined and fetched it again
    expect(store.version).toBe(version);
    expect(Object.fromEntries(store.states)).toEqual({ a: '1', b: '1' });
    expect(sent).toEqual(['a:0', 'b:1']);
    expect(store.outbox).toEqual([]);
  });

  it('recomputes from a fresh read when another writer moved the partition in between', async () => {
    const { store, processor } = setup();
    let interfere = true;
    store.beforeApply = () => {
      if (interfere) {
        interfere = false;
        store.states.set('a', '10'); // a zombie instance applied something meanwhile
        store.version += 1;
      }
    };
    const batch = [record(0, 'a')];
    await processor.handleBatch(batch, context(batch));
    expect(store.states.get('a')).toBe('11'); // computed on top of the other writer's state
  });

  it('observes each phase of a batch once, and the read, compute and apply again when the fence moved; timer ticks not at all', async () => {
    const { store, processor, metrics, sent } = setup(2_000);
    const batch = [record(0, 'a', 1_500)]; // its timer (due at 1000) is due by the stream time it reaches
    await processor.handleBatch(batch, context(batch));
    expect(sent).toEqual(['a:0', 'timer:a']);
    expect(await phaseCounts(metrics)).toEqual({ read: 1, compute: 1, apply: 1, timers: 1, relay: 1 });
    let interfere = true;
    store.beforeApply = () => {
      if (interfere) {
        interfere = false;
        store.version += 1;
      }
    };
    const next = [record(1, 'b', 1_600)];
    await processor.handleBatch(next, context(next));
    expect(await phaseCounts(metrics)).toEqual({ read: 3, compute: 3, apply: 3, timers: 2, relay: 2 });
    store.timers.set('c', 1_800);
    await processor.fireDue(0, 2n); // caught up: fires c's timer by the clock
    expect(sent.filter((v) => v.startsWith('timer:'))).toEqual(['timer:a', 'timer:b', 'timer:c']);
    expect(await phaseCounts(metrics)).toEqual({ read: 3, compute: 3, apply: 3, timers: 2, relay: 2 });
  });

  it('reads the due timers after a batch only when the apply says the earliest is due by the stream time reached', async () => {
    const { store, processor, sent } = setup();
    const early = [record(0, 'a', 5)]; // sets a's timer at 1000: not due by 5
    await processor.handleBatch(early, context(early));
    expect(store.dueReads).toBe(0);
    const late = [record(1, 'b', 1_000)]; // due by 1000: read and fired
    await processor.handleBatch(late, context(late));
    expect(store.dueReads).toBeGreaterThan(0);
    expect(sent).toEqual(['a:0', 'b:1', 'timer:a', 'timer:b']);
  });

  it('gives up with a retriable error when the partition keeps moving', async () => {
    const { store, processor } = setup();
    store.beforeApply = () => void (store.version += 1);
    const batch = [record(0, 'a')];
    const failure = processor.handleBatch(batch, context(batch));
    await expect(failure).rejects.toBeInstanceOf(FenceContentionError);
    await expect(failure).rejects.toMatchObject({ retriable: true });
    expect(store.outbox).toEqual([]);
  });

  it('fires due timers on the injected clock once caught up with the log end, once, and not before', async () => {
    const { store, sent, processor, clock } = setup(999);
    const batch = [record(0, 'a')];
    await processor.handleBatch(batch, context(batch));
    await processor.fireDue(0, 1n);
    expect(sent).toEqual(['a:0']);
    clock.now = 1000;
    await processor.fireDue(0, 1n);
    await processor.fireDue(0, 1n);
    expect(sent).toEqual(['a:0', 'timer:a']);
    expect(store.timers.size).toBe(0);
  });

  it('a direct fireDue reads the log end itself and fails when it cannot, instead of judging by stream time alone', async () => {
    const { sent, processor, clock, log } = setup(1000);
    const batch = [record(0, 'a')];
    await processor.handleBatch(batch, context(batch));
    log.high = 1n;
    const logEnds = jest.spyOn(log, 'logEnds').mockRejectedValueOnce(new Error('broker busy'));
    await expect(processor.fireDue(0)).rejects.toThrow('broker busy');
    expect(sent).toEqual(['a:0']);
    await processor.fireDue(0); // read this time: caught up, a's timer (due at 1000) fires by the clock
    expect(sent).toEqual(['a:0', 'timer:a']);
    expect(logEnds).toHaveBeenCalledTimes(2);
    expect(clock.now).toBe(1000);
  });

  it('queues a direct fireDue behind the partition\'s other work: two at once relay the outbox once', async () => {
    const { sent, processor, clock } = setup(999);
    const batch = [record(0, 'a')];
    await processor.handleBatch(batch, context(batch));
    await processor.fireDue(0, 1n);
    clock.now = 1000;
    await Promise.all([processor.fireDue(0, 1n), processor.fireDue(0, 1n)]);
    expect(sent).toEqual(['a:0', 'timer:a']);
  });

  it('in a backlog, judges timers by the stream time read so far, not by the clock', async () => {
    const { store, sent, processor, clock } = setup(5_000);
    const first = [record(0, 'a', 500)];
    await processor.handleBatch(first, context(first));
    expect(store.streamTime).toBe(500);
    // Records 1.. are still unread (log end 10): the clock alone fires nothing.
    await processor.fireDue(0, 10n);
    await processor.fireDue(0, null);
    expect(sent).toEqual(['a:0']);
    const second = [record(1, 'b', 1_200), record(2, 'b', 900)];
    await processor.handleBatch(second, context(second));
    expect(store.streamTime).toBe(1_200); // the newest event time, never moved back
    await processor.fireDue(0, 10n);
    expect(sent).toEqual(['a:0', 'b:1', 'b:2', 'timer:a', 'timer:b']);
    expect(clock.now).toBe(5_000);
  });

  it('binds the state to the log: a fresh partition records an incarnation and commits carry it', async () => {
    const { store, processor } = setup();
    const batch = [record(0, 'a')];
    const outcome = await processor.handleBatch(batch, context(batch));
    expect(store.incarnation).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome.commitMetadata).toBe(commitMetadata(store.incarnation!));
  });

  it('binds a fresh state before applying: killed between its first apply and first commit, the next owner goes on', async () => {
    const { store, log, processor, sent } = setup();
    const first = [record(0, 'a'), record(1, 'b')];
    // The binding commit reaches Kafka (the log); the batch's own commit never does (SIGKILL).
    const toLog: BatchContext['commit'] = async (offset, metadata) => void (log.committed = { offset: BigInt(offset), metadata });
    await processor.handleBatch(first, context(first, 1, toLog));
    expect(log.committed).toEqual({ offset: 0n, metadata: commitMetadata(store.incarnation!) });
    // The replacement (a new generation) reads the same records again, and more.
    const again = [record(0, 'a'), record(1, 'b'), record(2, 'a')];
    const outcome = await processor.handleBatch(again, context(again, 2, toLog));
    expect(processor.stopped().size).toBe(0);
    expect(sent).toEqual(['a:0', 'b:1', 'a:2']);
    expect(outcome.commitMetadata).toBe(commitMetadata(store.incarnation!));
    expect(log.committed?.offset).toBe(0n); // no second binding: the state exists now
  });

  it('rebuilt: records past the bound wait (read again) until every topic of the partition reached its own bound', async () => {
    const { store, processor, sent } = setup();
    store.restoreUpTo = new Map([['in', 2n], ['profiles', 5n]]);
    const batch = [record(0, 'a'), record(1, 'a'), record(2, 'b'), record(3, 'b')];
    const held = await processor.handleBatch(batch, context(batch));
    expect(held.readAgainFrom).toBe('2'); // 0 and 1 rebuilt; 2 and 3 wait for profiles
    expect(store.offsets.get('in')).toBe(1n);
    expect(store.states).toEqual(new Map([['a', '2']]));
    store.offsets.set('profiles', 4n); // the other topic reached its bound
    const again = batch.slice(2);
    const outcome = await processor.handleBatch(again, context(again));
    expect(outcome.readAgainFrom).toBeUndefined();
    expect(sent).toEqual(['b:2', 'b:3']);
  });

  it('stops a partition whose state vanishes under it (Redis flushed) instead of applying to an empty state', async () => {
    const { store, processor, sent } = setup();
    const first = [record(0, 'a')];
    await processor.handleBatch(first, context(first));
    // FLUSHALL: the fence, the states, the outbox: all gone, in the same group generation.
    Object.assign(store, { version: 0, offsets: new Map(), incarnation: null, streamTime: null, states: new Map(), outbox: [] });
    const next = [record(1, 'b')];
    const failure = processor.handleBatch(next, context(next));
    await expect(failure).rejects.toBeInstanceOf(StateLogMismatchError);
    await expect(failure).rejects.toThrow(/vanished from Redis/);
    expect(store.states.size).toBe(0);
    expect(sent).toEqual(['a:0']);
    expect([...processor.stopped().keys()]).toEqual(['in:0']);
  });

  const flush = (store: MemoryStore) => Object.assign(store, { version: 0, offsets: new Map(), incarnation: null, streamTime: null, states: new Map(), outbox: [] });

  it('Redis lost between the apply and the relay: the batch is not committed (its outputs went with the outbox) and the partition stops', async () => {
    const { store, outbox, processor, sent } = setup();
    const first = [record(0, 'a')];
    await processor.handleBatch(first, context(first));
    outbox.beforeRead = () => flush(store);
    const next = [record(1, 'b'), record(2, 'c')];
    const failure = processor.handleBatch(next, context(next));
    await expect(failure).rejects.toBeInstanceOf(StateLogMismatchError);
    await expect(failure).rejects.toThrow(/vanished from Redis/);
    expect(sent).toEqual(['a:0']); // b:1 and c:2 are for the rebuild's replay to produce
    expect([...processor.stopped().keys()]).toEqual(['in:0']);
  });

  it('Redis lost after the relay read the outbox: the batch is committed (its outputs reached Kafka), the next batch stops', async () => {
    const { store, processor, sent, producer } = setup();
    const first = [record(0, 'a')];
    await processor.handleBatch(first, context(first));
    (producer.sendBatch as jest.Mock).mockImplementationOnce(async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ value: Buffer }> }> }) => {
      for (const t of topicMessages) for (const m of t.messages) sent.push(m.value.toString());
      flush(store); // while the records are on their way to Kafka
      return [];
    });
    const next = [record(1, 'b')];
    const outcome = await processor.handleBatch(next, context(next));
    expect(outcome.commitMetadata).not.toBeNull(); // committed: a rebuild starts past offset 1, so b:1 is not produced twice
    expect(sent).toEqual(['a:0', 'b:1']);
    const after = [record(2, 'c')];
    await expect(processor.handleBatch(after, context(after))).rejects.toThrow(/vanished from Redis/);
    expect(sent).toEqual(['a:0', 'b:1']);
  });

  it('a timer tick after Redis was lost stops the partition instead of relaying', async () => {
    const { store, processor, sent } = setup();
    const first = [record(0, 'a')];
    await processor.handleBatch(first, context(first));
    flush(store);
    await expect(processor.fireDue(0, 1_000n)).rejects.toThrow(/vanished from Redis/);
    expect(sent).toEqual(['a:0']);
    expect([...processor.stopped().keys()]).toEqual(['in:0']);
  });

  it('rebuilt after a loss of its state: replays below the restore bound without producing, then produces past it', async () => {
    const { store, processor, sent } = setup();
    store.restoreUpTo.set('in', 3n); // the group had committed offset 3 when the state was lost
    const first = [record(0, 'a'), record(1, 'b')];
    await processor.handleBatch(first, context(first));
    expect(sent).toEqual([]);
    expect(store.states).toEqual(new Map([['a', '1'], ['b', '1']]));
    // A timer due while still restoring fires into the state only.
    store.timers.set('a', 0);
    await processor.fireDue(0, 1_000n);
    expect(sent).toEqual([]);
    // A batch across the bound: offset 2 rebuilds state only, 3 and 4 produce.
    const across = [record(2, 'a'), record(3, 'a'), record(4, 'b')];
    await processor.handleBatch(across, context(across));
    expect(sent).toEqual(['a:3', 'b:4']);
    expect(store.states).toEqual(new Map([['a', '3'], ['b', '2']]));
    expect(store.offsets.get('in')).toBe(4n);
    // Past the bound, timers produce again.
    store.timers.set('b', 0);
    await processor.fireDue(0, 1_000n);
    expect(sent).toContain('timer:b');
  });

  it('fires the timers due by a batch\'s stream time before the batch is committed', async () => {
    const { store, sent, processor } = setup(0);
    const first = [record(0, 'a', 500)];
    await processor.handleBatch(first, context(first));
    expect(store.timers.get('a')).toBe(1000);
    // No tick runs: the batch that moves the stream time past the timer fires it itself.
    const second = [record(1, 'b', 1_500)];
    await processor.handleBatch(second, context(second));
    expect(sent).toEqual(['a:0', 'b:1', 'timer:a', 'timer:b']);
    expect(store.timers.size).toBe(0);
  });

  it('rebuilt: the timers due by the restore bound\'s stream time fire without output before records past it, whatever the batches', async () => {
    const { store, processor, sent } = setup();
    store.restoreUpTo.set('in', 2n); // the original run committed offset 2: everything due by then had fired
    // One replayed batch spans the bound; no tick runs in between.
    const across = [record(0, 'a', 500), record(1, 'b', 1_200), record(2, 'c', 1_300)];
    await processor.handleBatch(across, context(across));
    // a's and b's timers (due 1000) were due by the bound's stream time (1200): state only.
    expect(sent).toEqual(['c:2', 'timer:c']);
    expect(store.timers.size).toBe(0);
  });

  it('raises the timer watermark to the time it fired the due timers by, and never lowers it', async () => {
    const { store, processor, clock } = setup(999);
    const batch = [record(0, 'a', 100)];
    await processor.handleBatch(batch, context(batch));
    expect(store.timersThrough).toBeNull(); // none due yet: no firing, no watermark
    clock.now = 1_200;
    await processor.fireDue(0, 1n);
    expect(store.timersThrough).toBe(1_200);
    store.timers.set('b', 0);
    const late = [record(1, 'c', 300)];
    await processor.handleBatch(late, context(late)); // fires b by the stream time, 300
    expect(store.timers.has('b')).toBe(false);
    expect(store.timersThrough).toBe(1_200);
  });

  it('rebuilt: the timers the lost state had fired by the clock fire again without output once the replay reached its bounds, then once only', async () => {
    const { store, processor, sent, clock } = setup(5_000);
    store.restoreUpTo.set('in', 2n);
    store.restoreTimersThrough = 1_000; // the lost state's last relay: every timer due by 1000 had fired
    const replay = [record(0, 'a', 100), record(1, 'b', 200)];
    await processor.handleBatch(replay, context(replay));
    // The stream time (200) reached neither timer (due 1000): the clock had fired them.
    expect(sent).toEqual([]);
    expect(store.timers.size).toBe(2);
    await processor.fireDue(0, 2n); // caught up, clock 5000
    expect(sent).toEqual([]);
    expect(store.timers.size).toBe(0);
    expect(store.restoreTimersThrough).toBeNull();
    // A timer set after the restore, due before that watermark (a late event), fires with its output.
    const live = [record(2, 'c', 300)];
    await processor.handleBatch(live, context(live));
    clock.now = 6_000;
    await processor.fireDue(0, 3n);
    expect(sent).toEqual(['c:2', 'timer:c']);
  });

  it('rebuilt: the owed timers go before the first record past the bounds, in a batch as on a tick', async () => {
    const { store, processor, sent } = setup(0);
    store.restoreUpTo.set('in', 1n);
    store.restoreTimersThrough = 1_000;
    const across = [record(0, 'a', 100), record(1, 'b', 200)];
    await processor.handleBatch(across, context(across));
    // a's timer (due 1000 by the watermark) fired without output before b was applied; b's is live.
    expect(sent).toEqual(['b:1']);
    expect([...store.timers.keys()]).toEqual(['b']);
    expect(store.restoreTimersThrough).toBeNull();
  });

  it.each([
    ['no commit: the topic was recreated or the broker wiped', { committed: null, low: 0n, high: 50n }, /no committed offset/],
    ['commits of another incarnation', { committed: { offset: 8n, metadata: commitMetadata('other') }, low: 0n, high: 50n }, /incarnation other/],
    ['a log ending before the fence', { committed: { offset: 8n, metadata: null }, low: 0n, high: 5n }, /truncated or recreated/],
    ['records deleted before they were applied', { committed: { offset: 8n, metadata: null }, low: 9n, high: 50n }, /deleted before they were applied/],
  ])('stops the partition, skipping nothing, on %s', async (_case, view, message) => {
    const { store, log, processor, sent } = setup();
    const first = [record(0, 'a'), record(7, 'a')];
    await processor.handleBatch(first, context(first));
    Object.assign(log, view);
    // A new generation (rebalance, restart): the partition is checked again.
    const next = [record(0, 'x'), record(1, 'y')];
    const failure = processor.handleBatch(next, context(next, 2));
    await expect(failure).rejects.toBeInstanceOf(StateLogMismatchError);
    await expect(failure).rejects.toThrow(message);
    expect([...processor.stopped().keys()]).toEqual(['in:0']);
    expect(store.states.has('x')).toBe(false);
    expect(sent).toEqual(['a:0', 'a:7']);
  });

  it('accepts the same log: a commit of its incarnation at or below the fence + 1', async () => {
    const { store, log, processor } = setup();
    const first = [record(0, 'a'), record(1, 'a')];
    await processor.handleBatch(first, context(first));
    log.committed = { offset: 1n, metadata: commitMetadata(store.incarnation!) }; // crashed before committing 1
    await processor.handleBatch(first, context(first, 2));
    expect(processor.stopped().size).toBe(0);
    expect(store.states.get('a')).toBe('2');
  });

  it('dead-letters the records of a customer whose state cannot be decoded, and applies the rest', async () => {
    const { store, processor, sent } = setup();
    store.states.set('bad', 'corrupt');
    const batch = [record(0, 'bad'), record(1, 'good'), record(2, 'bad')];
    const outcome = await processor.handleBatch(batch, context(batch));
    expect(outcome.deadLetters?.map((d) => [d.record.offset, d.error.message])).toEqual([
      ['0', expect.stringMatching(/cannot be decoded: not a number/)],
      ['2', expect.stringMatching(/cannot be decoded/)],
    ]);
    expect(sent).toEqual(['good:1']);
    expect(store.offsets.get('in')).toBe(2n);
    expect(store.states.get('bad')).toBe('corrupt');
  });

  it('drops the due timer of an undecodable customer instead of failing every tick', async () => {
    const { store, processor, sent } = setup(2_000);
    store.states.set('bad', 'corrupt');
    store.timers.set('bad', 100);
    store.timers.set('good', 100);
    await processor.fireDue(0, 0n);
    expect(sent).toEqual(['timer:good']);
    expect(store.timers.size).toBe(0);
  });

  it('leaves records in the outbox when producing fails, and relays them on the next call', async () => {
    const { store, sent, processor, producer } = setup();
    (producer.sendBatch as jest.Mock).mockRejectedValueOnce(new Error('broker away'));
    const batch = [record(0, 'a')];
    await expect(processor.handleBatch(batch, context(batch))).rejects.toThrow('broker away');
    expect(store.outbox.map((r) => decodeOutboxRecord(r).value.toString())).toEqual(['a:0']);
    expect(await processor.relay(0)).toBe(1);
    expect(sent).toEqual(['a:0']);
    expect(store.outbox).toEqual([]);
  });
});
