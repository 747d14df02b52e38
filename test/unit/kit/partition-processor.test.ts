import pino from 'pino';
import type { Producer } from 'kafkajs';
import type { ConsumedRecord, BatchContext } from '../../../services/kit/consumer-runner';
import { createMetrics } from '../../../services/kit/metrics';
import {
  decodeOutboxRecord,
  encodeOutboxRecord,
  FenceContentionError,
  PartitionProcessor,
  type PartitionLogic,
} from '../../../services/kit/partition-processor';
import { emptyChange, type PartitionChange, type PartitionSnapshot, type PartitionStateStore } from '../../../services/kit/partition-state';

/** An in-memory PartitionStateStore with the Lua script's semantics, and a way to interfere. */
class MemoryStore {
  version = 0;
  offsets = new Map<string, bigint>();
  states = new Map<string, string>();
  outbox: string[] = [];
  timers = new Map<string, number>();
  /** Called before each apply: a test can move the version to simulate another writer. */
  beforeApply: () => void = () => undefined;

  async read(_partition: number, customers: Iterable<string>): Promise<PartitionSnapshot> {
    return {
      version: this.version,
      appliedOffsets: new Map(this.offsets),
      states: new Map([...customers].map((c) => [c, this.states.get(c) ?? null])),
    };
  }
  async apply(_partition: number, version: number, change: PartitionChange): Promise<boolean> {
    this.beforeApply();
    if (version !== this.version) return false;
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
    this.version += 1;
    return true;
  }
  async dueTimers(_partition: number, now: number, limit: number) {
    return [...this.timers].filter(([, due]) => due <= now).slice(0, limit).map(([member, dueAt]) => ({ member, dueAt }));
  }
  async peekOutbox(_partition: number, limit: number) {
    return this.outbox.slice(0, limit);
  }
  async trimOutbox(_partition: number, count: number, head: string) {
    if (this.outbox[0] !== head) return 0;
    this.outbox.splice(0, count);
    return count;
  }
}

/** Counts events per customer; every event emits one output record; timers fire a record too. */
const countingLogic: PartitionLogic = {
  customersOfRecords: (records) => records.map((r) => r.key as string),
  customersOfTimers: (timers) => timers.map((t) => t.member),
  onRecords(snapshot, records) {
    const change = emptyChange();
    for (const r of records) {
      const customer = r.key as string;
      const current = Number(change.states.get(customer) ?? snapshot.states.get(customer) ?? 0);
      change.states.set(customer, String(current + 1));
      change.outbox.push(encodeOutboxRecord({ topic: 'out', key: customer, value: Buffer.from(`${customer}:${r.offset}`) }));
      change.timers.set(customer, 1000);
    }
    return change;
  },
  onTimers(_snapshot, timers) {
    const change = emptyChange();
    for (const t of timers) {
      change.timers.set(t.member, null);
      change.outbox.push(encodeOutboxRecord({ topic: 'out', key: t.member, value: Buffer.from(`timer:${t.member}`) }));
    }
    return change;
  },
};

function setup(now = 0) {
  const store = new MemoryStore();
  const sent: string[] = [];
  const producer = {
    sendBatch: jest.fn(async ({ topicMessages }: { topicMessages: Array<{ messages: Array<{ value: Buffer }> }> }) => {
      for (const t of topicMessages) for (const m of t.messages) sent.push(m.value.toString());
      return [];
    }),
  } as unknown as Producer;
  const clock = { now };
  const processor = new PartitionProcessor({
    store: store as unknown as PartitionStateStore,
    logic: countingLogic,
    producer,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('test'),
    clock: () => clock.now,
  });
  return { store, sent, processor, producer, clock };
}

const record = (offset: number, key: string): ConsumedRecord<unknown> => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key,
  value: {},
  timestamp: 0,
  headers: {},
});
const context = (records: ConsumedRecord<unknown>[]): BatchContext => ({
  topic: 'in',
  partition: 0,
  nextOffset: String(Number(records.at(-1)!.offset) + 1),
  heartbeat: async () => undefined,
  isActive: () => true,
});

describe('PartitionProcessor', () => {
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

  it('gives up with a retriable error when the partition keeps moving', async () => {
    const { store, processor } = setup();
    store.beforeApply = () => void (store.version += 1);
    const batch = [record(0, 'a')];
    const failure = processor.handleBatch(batch, context(batch));
    await expect(failure).rejects.toBeInstanceOf(FenceContentionError);
    await expect(failure).rejects.toMatchObject({ retriable: true });
    expect(store.outbox).toEqual([]);
  });

  it('fires due timers on the injected clock, once, and not before', async () => {
    const { store, sent, processor, clock } = setup(999);
    const batch = [record(0, 'a')];
    await processor.handleBatch(batch, context(batch));
    await processor.fireDue(0);
    expect(sent).toEqual(['a:0']);
    clock.now = 1000;
    await processor.fireDue(0);
    await processor.fireDue(0);
    expect(sent).toEqual(['a:0', 'timer:a']);
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
