import { randomUUID } from 'node:crypto';
import { createRedis } from '../../../services/kit/redis';
import { emptyChange, PartitionKeys, PartitionStateStore } from '../../../services/kit/partition-state';
import { REDIS_URL } from '../../support/stack';
import { decodeTriggerState, encodeTriggerState, TriggerStateError } from '../../../services/core/triggers';

describe('PartitionStateStore on a real Redis (applyPartitionChange-n.lua, trimOutbox-1.lua)', () => {
  const redis = createRedis({ REDIS_URL });
  const keys = new PartitionKeys(`test-ps-${randomUUID().slice(0, 8)}`, 'svc');
  const store = new PartitionStateStore(redis, keys, 60_000);

  afterAll(async () => {
    const found = await redis.keys(`${keys.pattern()}`);
    if (found.length > 0) await redis.del(...found);
    redis.disconnect();
  });

  it('applies states, timers, sets, outbox and the fence atomically, and refuses a stale version', async () => {
    const change = emptyChange();
    change.advance = { topic: 'behavior.events', offset: '41' };
    change.states.set('c1', '{"x":1}');
    change.states.set('c2', '{"x":2}');
    change.timers.set('c1', 5000);
    change.sets.push({ set: 'm:engaged', op: '+', member: 'c1' }, { set: 'm:vip', op: '+', member: 'c2' });
    change.timers.set('c2', 9000);
    change.outbox.push('r1', 'r2');
    expect(await store.applyChange(7, 0, change)).toEqual({ version: 1, earliestDue: 5000 }); // the earliest timer after the change

    const snapshot = await store.read(7, ['c1', 'c2', 'c3']);
    expect(snapshot.version).toBe(1);
    expect(snapshot.appliedOffsets.get('behavior.events')).toBe(41n);
    expect(Object.fromEntries(snapshot.states)).toEqual({ c1: '{"x":1}', c2: '{"x":2}', c3: null });
    expect(await redis.pttl(keys.customer(7, 'c1'))).toBeGreaterThan(50_000);
    expect(await redis.smembers(keys.set(7, 'm:engaged'))).toEqual(['c1']);
    expect(await store.dueTimers(7, 4999, 10)).toEqual([]);
    expect(await store.dueTimers(7, 5000, 10)).toEqual([{ member: 'c1', dueAt: 5000 }]);

    const stale = emptyChange();
    stale.states.set('c1', '{"x":"stale"}');
    stale.outbox.push('never');
    expect(await store.apply(7, 0, stale)).toBe(false);
    expect(await redis.get(keys.customer(7, 'c1'))).toBe('{"x":1}');
    expect(await store.peekOutbox(7, 10)).toEqual(['r1', 'r2']);

    const erase = emptyChange();
    erase.states.set('c1', null);
    erase.timers.set('c1', null);
    erase.sets.push({ set: 'm:engaged', op: '-', member: 'c1' });
    expect(await store.applyChange(7, 1, erase)).toEqual({ version: 2, earliestDue: 9000 });
    expect(await redis.exists(keys.customer(7, 'c1'), keys.set(7, 'm:engaged'))).toBe(0);
    expect(await store.dueTimers(7, Number.MAX_SAFE_INTEGER, 10)).toEqual([{ member: 'c2', dueAt: 9000 }]);
    const last = emptyChange();
    last.timers.set('c2', null);
    expect(await store.applyChange(7, 2, last)).toEqual({ version: 3, earliestDue: null }); // no timer left
    expect(await store.applyChange(7, 2, last)).toBeNull(); // stale
  });

  it('carries binary states byte for byte (binaryStates: read as Buffers, written as Lua arguments)', async () => {
    const binary = new PartitionStateStore(redis, keys, 60_000, true);
    // Every byte value, a leading 0x82 (a UTF-8 continuation byte) and invalid UTF-8 sequences.
    const everyByte = Buffer.from([0x82, ...Array.from({ length: 256 }, (_, i) => i), 0xc3, 0x28, 0xff, 0x00]);
    const trigger = encodeTriggerState({
      v: 1,
      seen: ['AAAAAAAA', '________'],
      cart: null,
      rules: [{ rule: 'high_interest', kind: 'threshold', newest: 1_772_468_798_803, groups: [{ key: 'p-\u00e9', times: [1_772_468_798_803], armed: false, firedAt: 1_772_468_798_803 }] }],
    });
    const change = emptyChange();
    change.advance = { topic: 'behavior.events', offset: '1' };
    change.states.set('b1', everyByte);
    change.states.set('b2', trigger);
    expect(await binary.apply(5, 0, change)).toBe(true);
    const snapshot = await binary.read(5, ['b1', 'b2', 'b3']);
    expect(Buffer.isBuffer(snapshot.states.get('b1'))).toBe(true);
    expect((snapshot.states.get('b1') as Buffer).equals(everyByte)).toBe(true);
    expect((snapshot.states.get('b2') as Buffer).equals(trigger)).toBe(true);
    expect(snapshot.states.get('b3')).toBeNull();
    expect(decodeTriggerState(snapshot.states.get('b2'))).toEqual(decodeTriggerState(trigger));
    expect(await redis.strlen(keys.customer(5, 'b1'))).toBe(everyByte.length);
    // A format-1 (JSON) state stored by an earlier version is read as bytes and still decodes.
    const legacy = JSON.stringify({ v: 1, seen: [], cart: null, rules: [] });
    await redis.set(keys.customer(5, 'old'), legacy);
    const old = (await binary.read(5, ['old'])).states.get('old');
    expect(decodeTriggerState(old)).toEqual({ v: 1, seen: [], cart: null, rules: [] });
    // Read as a string instead, the binary state is mangled (why the services read Buffers), and
    // decoding it fails loudly rather than yielding a wrong state.
    const mangled = await redis.get(keys.customer(5, 'b2'));
    expect(() => decodeTriggerState(mangled)).toThrow(TriggerStateError);
  });

  it('increments counter hashes with the change, without TTL, and a stale version increments nothing', async () => {
    const change = emptyChange();
    change.advance = { topic: 'email.outcomes', offset: '9' };
    change.counters = [
      { hash: 'r:upsell', field: 'a', by: 2 },
      { hash: 'r:upsell', field: 'b', by: -1 },
      { hash: 'campaigns', field: 'upsell', by: 1 },
      { hash: 'r:upsell', field: 'sq', by: 12_345_678_901_234_568, float: true },
    ];
    const { version } = await store.read(5, []);
    expect(await store.apply(5, version, change)).toBe(true);
    // The same batch replayed against the old version (a zombie, a retry) changes nothing.
    expect(await store.apply(5, version, change)).toBe(false);
    expect(await redis.hgetall(keys.hash(5, 'r:upsell'))).toEqual({ a: '2', b: '-1', sq: '12345678901234568' });
    expect(await redis.hgetall(keys.hash(5, 'campaigns'))).toEqual({ upsell: '1' });
    expect(await redis.pttl(keys.hash(5, 'r:upsell'))).toBe(-1);
  });

  it('trims only what this relay produced: a second relay that trimmed first makes the trim a no-op', async () => {
    const change = emptyChange();
    change.outbox.push('a', 'b', 'c');
    const { version } = await store.read(3, []);
    await store.apply(3, version, change);
    const head = (await store.peekOutbox(3, 2))[0];
    expect(await store.trimOutbox(3, 2, head)).toBe(2); // relay 1 produced a, b
    expect(await store.trimOutbox(3, 2, head)).toBe(0); // relay 2 read the same head earlier: must not drop c
    expect(await store.peekOutbox(3, 10)).toEqual(['c']);
  });
});
