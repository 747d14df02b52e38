import { applyPartitionChangeArgs, emptyChange, PartitionKeys, type PartitionChangeIndex } from '../../../services/kit/partition-state';

const keys = new PartitionKeys('t', 'seg');

describe('applyPartitionChangeArgs', () => {
  it('declares the fence, outbox and timers, then the state keys, then each set once', () => {
    const change = emptyChange();
    change.states.set('c1', '{"a":1}');
    change.states.set('c2', null);
    change.sets.push({ set: 'm:vip', op: '+', member: 'c1' }, { set: 'm:new', op: '-', member: 'c2' }, { set: 'm:vip', op: '-', member: 'c2' });
    const { keys: declared } = applyPartitionChangeArgs(keys, { partition: 3, version: 7, change, stateTtlMs: 1000 });
    expect(declared).toEqual(['{t:seg:3}:fence', '{t:seg:3}:outbox', '{t:seg:3}:timers', '{t:seg:3}:c:c1', '{t:seg:3}:c:c2', '{t:seg:3}:s:m:vip', '{t:seg:3}:s:m:new']);
  });

  it('passes the fixed values, the small variable-length parts as one JSON argument, then the state values and the outbox records', () => {
    const change = emptyChange();
    change.advance = { topic: 'behavior.events', offset: '42' };
    change.incarnation = 'inc-1';
    change.streamTime = 1_764_560_000_000;
    change.states.set('c1', '{"a":1}');
    change.states.set('c2', null);
    change.outbox.push('r1', 'r2');
    change.timers.set('c1', 1_764_560_000_500);
    change.timers.set('c2', null);
    change.sets.push({ set: 'm:vip', op: '+', member: 'c1' }, { set: 'm:new', op: '-', member: 'c2' }, { set: 'm:vip', op: '-', member: 'c2' });
    const { keys: declared, args } = applyPartitionChangeArgs(keys, { partition: 3, version: 7, change, stateTtlMs: 1000 });
    expect(args.slice(0, 6)).toEqual(['7', 'behavior.events', '42', '1000', 'inc-1', '1764560000000']);
    const index = JSON.parse(args[6] as string) as PartitionChangeIndex;
    expect(index).toEqual({
      states: 2,
      timers: [
        ['c1', '1764560000500'],
        ['c2', ''],
      ],
      sets: [
        [6, '+', 'c1'],
        [7, '-', 'c2'],
        [6, '-', 'c2'],
      ],
    });
    // Lua's ARGV[7+n] is the value of KEYS[3+n]; the outbox records follow the state values.
    expect(args.slice(7)).toEqual(['{"a":1}', '', 'r1', 'r2']);
    expect(declared[3]).toBe('{t:seg:3}:c:c1');
    expect(declared[4]).toBe('{t:seg:3}:c:c2');
    // Lua's KEYS is 1-based: each set triple points at its own key.
    expect(index.sets.map(([i]) => declared[i - 1])).toEqual(['{t:seg:3}:s:m:vip', '{t:seg:3}:s:m:new', '{t:seg:3}:s:m:vip']);
  });

  it('declares each counter hash once after the sets, and passes increments as strings', () => {
    const change = emptyChange();
    change.states.set('c1', '{}');
    change.sets.push({ set: 'm:vip', op: '+', member: 'c1' });
    change.counters = [
      { hash: 'r:upsell', field: 'x', by: 3 },
      { hash: 'campaigns', field: 'upsell', by: -1 },
      { hash: 'r:upsell', field: 'sq', by: 2.5, float: true },
    ];
    const { keys: declared, args } = applyPartitionChangeArgs(keys, { partition: 1, version: 0, change, stateTtlMs: 5 });
    expect(declared.slice(4)).toEqual(['{t:seg:1}:s:m:vip', '{t:seg:1}:h:r:upsell', '{t:seg:1}:h:campaigns']);
    const index = JSON.parse(args[6] as string) as PartitionChangeIndex;
    expect(index.counters).toEqual([
      [6, 'x', '3', 0],
      [7, 'upsell', '-1', 0],
      [6, 'sq', '2.5', 1],
    ]);
  });

  it('refuses an integer counter increment that is not a safe integer', () => {
    const change = emptyChange();
    change.counters = [{ hash: 'h', field: 'f', by: 0.5 }];
    expect(() => applyPartitionChangeArgs(keys, { partition: 1, version: 0, change, stateTtlMs: 5 })).toThrow(/h\/f got the increment 0.5; expected a safe integer/);
  });

  it('leaves the optional values empty for a timer firing with nothing to write', () => {
    const { keys: declared, args } = applyPartitionChangeArgs(keys, { partition: 0, version: 0, change: emptyChange(), stateTtlMs: 5 });
    expect(declared).toHaveLength(3);
    expect(args).toEqual(['0', '', '', '5', '', '', JSON.stringify({ states: 0, timers: [], sets: [] })]);
  });

  it('asks for the cover on the last record only with coverOutbox (exactly_once) and records to append', () => {
    const index = (change: ReturnType<typeof emptyChange>, coverOutbox?: boolean) =>
      JSON.parse(applyPartitionChangeArgs(keys, { partition: 0, version: 0, change, stateTtlMs: 5, coverOutbox }).args[6] as string) as PartitionChangeIndex;
    const withRecords = { ...emptyChange(), outbox: ['r1'] };
    expect(index(withRecords, true).cover).toBe(1);
    expect(index(withRecords, false).cover).toBeUndefined();
    expect(index(withRecords).cover).toBeUndefined();
    expect(index(emptyChange(), true).cover).toBeUndefined(); // nothing to mark
  });
});
