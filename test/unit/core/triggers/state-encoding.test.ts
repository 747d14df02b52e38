/**
 * The compact stored trigger state (core/triggers/state.ts): exact round trips, format-1 JSON
 * still read, the JSON fallback, hostile bytes, and rules files that change between write and read.
 */
import {
  applyEvents,
  decodeTriggerState,
  encodeTriggerState,
  encodeTriggerStateJson,
  TRIGGER_STATE_COMPACT_MARKER,
  TriggerStateError,
  type TriggerState,
} from '../../../../services/core/triggers';
import { serializeSegmentState } from '../../../../services/core/segments';
import { shopTraffic } from '../../../../services/tools/synthetic';
import { Events, HOUR, MINUTE, rulesFrom, seedRules, T0 } from './harness';
import type { ConsumedRecord } from '../../../../services/kit/consumer-runner';
import { CorruptStateError } from '../../../../services/kit/errors';
import type { KairosMetrics } from '../../../../services/kit/metrics';
import type { PartitionSnapshot, StateValue } from '../../../../services/kit/partition-state';
import { TriggerLogic } from '../../../../services/trigger/adapter';

const HASHED_KEY = `#sha256:${'x'.repeat(43)}`;

/** Every field of both shipped kinds, with the awkward values: empty, unicode, "__proto__", nulls. */
function everyField(): TriggerState {
  return {
    v: 1,
    seen: ['AAAAAAAA', '________', 'q3el-iuK', 'Zz09-_aB'],
    cart: { items: ['p-1', 'é-ü-漢', ''], lastAdded: 'é-ü-漢' },
    rules: [
      {
        rule: 'high_interest',
        kind: 'threshold',
        newest: T0 + 5 * HOUR,
        groups: [
          { key: 'p-1', times: [T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 5 * HOUR], armed: false, firedAt: T0 + 2 * HOUR },
          { key: '', times: [T0 - 400 * 86_400_000], armed: true, firedAt: null },
          { key: '__proto__', times: [], armed: true, firedAt: T0 - 1 },
          { key: HASHED_KEY, times: [T0 + 1], armed: false, firedAt: null },
          { key: 'ключ', times: [T0 + 2], armed: true, firedAt: null },
        ],
      },
      { rule: 'cart_abandoned', kind: 'absence', lastCancelAt: null, pending: { eventId: 'e-42', at: T0, dueAt: T0 + 15 * MINUTE, productId: 'p-1', category: null } },
      { rule: 'other_absence', kind: 'absence', lastCancelAt: T0 - 3, pending: { eventId: '', at: T0 + 7, dueAt: T0 + 7, productId: null, category: 'shoes' } },
      { rule: 'quiet', kind: 'absence', lastCancelAt: 0, pending: null },
      { rule: 'empty', kind: 'threshold', newest: 0, groups: [] },
    ],
  };
}

describe('compact trigger state', () => {
  it('round-trips every field of both kinds exactly, and starts with its marker', () => {
    const state = everyField();
    const bytes = encodeTriggerState(state);
    expect(bytes[0]).toBe(TRIGGER_STATE_COMPACT_MARKER);
    const back = decodeTriggerState(bytes);
    expect(back).toEqual(state);
    expect(Object.getPrototypeOf((back.rules[0] as { groups: object[] }).groups[2])).toBe(Object.prototype);
    expect(encodeTriggerState(back).equals(bytes)).toBe(true);
    expect(bytes.length).toBeLessThan(Buffer.byteLength(encodeTriggerStateJson(state)) / 2);
  });

  it('round-trips the empty state and a state with an empty cart', () => {
    for (const state of [
      { v: 1, seen: [], cart: null, rules: [] },
      { v: 1, seen: [], cart: { items: [], lastAdded: null }, rules: [] },
    ] as TriggerState[]) {
      expect(decodeTriggerState(encodeTriggerState(state))).toEqual(state);
    }
  });

  it('round-trips every state a day of shop traffic leaves, as the shipped rules build them', () => {
    const rules = seedRules();
    const events = shopTraffic({ total: 6000, customers: 400, products: 60, seed: 7, from: T0, to: T0 + 30 * HOUR });
    const states = new Map<string, TriggerState>();
    const encoded = new Map<string, Buffer>();
    let streamTime: number | null = null;
    for (const event of events) {
      // Through the stored form each time, as the service does between batches.
      const stored = encoded.get(event.customer_id);
      const result = applyEvents(stored === undefined ? null : decodeTriggerState(stored), [event], rules, T0 + 31 * HOUR, [streamTime]);
      streamTime = Math.max(streamTime ?? event.occurred_at, event.occurred_at);
      if (!result.changed) continue;
      states.set(event.customer_id, result.state);
      encoded.set(event.customer_id, encodeTriggerState(result.state));
    }
    expect(states.size).toBeGreaterThan(300);
    let pending = 0;
    let fired = 0;
    for (const [customer, state] of states) {
      const bytes = encoded.get(customer)!;
      expect(bytes[0]).toBe(TRIGGER_STATE_COMPACT_MARKER);
      expect(decodeTriggerState(bytes)).toEqual(state);
      for (const ruleState of state.rules) {
        if (ruleState.kind === 'absence' && ruleState.pending !== null) pending += 1;
        if (ruleState.kind === 'threshold' && ruleState.groups.some((g) => g.firedAt !== null)) fired += 1;
      }
    }
    expect(pending).toBeGreaterThan(0);
    expect(fired).toBeGreaterThan(0);
  });

  it('gives the same engine results as the JSON form it replaces, over the same traffic', () => {
    const rules = seedRules();
    const events = shopTraffic({ total: 3000, customers: 150, products: 40, seed: 11, from: T0, to: T0 + 30 * HOUR });
    const stored = { json: new Map<string, string>(), compact: new Map<string, Buffer>() };
    const triggers = { json: [] as string[], compact: [] as string[] };
    let streamTime: number | null = null;
    for (const event of events) {
      for (const form of ['json', 'compact'] as const) {
        const map = stored[form] as Map<string, string | Buffer>;
        const previous = map.get(event.customer_id);
        const result = applyEvents(previous === undefined ? null : decodeTriggerState(previous), [event], rules, T0 + 31 * HOUR, [streamTime]);
        triggers[form].push(...result.triggers.map((t) => t.trigger_id));
        if (result.changed) map.set(event.customer_id, form === 'json' ? encodeTriggerStateJson(result.state) : encodeTriggerState(result.state));
      }
      streamTime = Math.max(streamTime ?? event.occurred_at, event.occurred_at);
    }
    expect(triggers.compact).toEqual(triggers.json);
    expect(triggers.compact.length).toBeGreaterThan(0);
  });
});

describe('format 1 (JSON) states, as earlier versions stored them', () => {
  it('are still read, as text and as the bytes a binary read returns', () => {
    const state = everyField();
    const json = encodeTriggerStateJson(state);
    expect(json.startsWith('{"v":1,')).toBe(true);
    expect(decodeTriggerState(json)).toEqual(state);
    expect(decodeTriggerState(Buffer.from(json, 'utf8'))).toEqual(state);
  });

  it('a literal format-1 state from before this change decodes, and is written back compact', () => {
    const legacy =
      '{"v":1,"seen":["q3el-iuK","cV6h05XW"],"cart":{"items":["p-1784"],"lastAdded":"p-1784"},"rules":[{"rule":"high_interest","kind":"threshold","newest":1772463995808,"groups":[{"key":"p-1963","times":[1772452806463],"armed":true,"firedAt":null}]},{"rule":"cart_abandoned","kind":"absence","lastCancelAt":1772453083382,"pending":null}]}';
    const state = decodeTriggerState(Buffer.from(legacy));
    expect(state.rules[0]).toEqual({ rule: 'high_interest', kind: 'threshold', newest: 1772463995808, groups: [{ key: 'p-1963', times: [1772452806463], armed: true, firedAt: null }] });
    const rewritten = encodeTriggerState(state);
    expect(rewritten[0]).toBe(TRIGGER_STATE_COMPACT_MARKER);
    expect(decodeTriggerState(rewritten)).toEqual(JSON.parse(legacy));
  });

  it('is written instead when the compact layout cannot hold the state, and reads back the same', () => {
    const odd = everyField();
    odd.seen = ['not-a-hash-of-ours'];
    const bytes = encodeTriggerState(odd);
    expect(bytes.toString('utf8', 0, 7)).toBe('{"v":1,');
    expect(decodeTriggerState(bytes)).toEqual(odd);
  });
});

describe('hostile stored bytes', () => {
  const good = encodeTriggerState(everyField());

  it('every truncation and a trailing byte raise TriggerStateError', () => {
    for (let length = 1; length < good.length; length += 1) {
      expect(() => decodeTriggerState(good.subarray(0, length))).toThrow(TriggerStateError);
    }
    expect(() => decodeTriggerState(Buffer.concat([good, Buffer.from([0])]))).toThrow(/unread bytes/);
  });

  it('random bytes after the marker, and any single changed byte, decode or raise TriggerStateError, nothing else', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const attempts: Buffer[] = [];
    for (let i = 0; i < 3000; i += 1) {
      attempts.push(Buffer.from([TRIGGER_STATE_COMPACT_MARKER, ...Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 256))]));
    }
    for (let i = 1; i < good.length; i += 1) {
      for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
        const changed = Buffer.from(good);
        changed[i] = value;
        attempts.push(changed);
      }
    }
    for (const bytes of attempts) {
      try {
        const state = decodeTriggerState(bytes);
        expect(Array.isArray(state.rules)).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(TriggerStateError);
      }
    }
  });

  it('a count larger than the bytes left is refused before anything is allocated', () => {
    // marker, base 0, then a seen count of 2^35.
    expect(() => decodeTriggerState(Buffer.from([TRIGGER_STATE_COMPACT_MARKER, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).toThrow(/exceeds the bytes left/);
  });

  it('foreign values raise TriggerStateError: a segment state, text, a mangled (UTF-8 decoded) compact state, an unknown kind', () => {
    const segment = serializeSegmentState({ v: 1, c: 'c1', m: ['vip'], a: {}, d: [] });
    expect(() => decodeTriggerState(segment)).toThrow(TriggerStateError);
    expect(() => decodeTriggerState('OK')).toThrow(TriggerStateError);
    expect(() => decodeTriggerState(Buffer.from('OK'))).toThrow(TriggerStateError);
    expect(() => decodeTriggerState(good.toString('utf8'))).toThrow(TriggerStateError);
    expect(() => decodeTriggerState(Buffer.from(good.toString('utf8'), 'utf8'))).toThrow(TriggerStateError);
    // An unknown kind code, and a state of an unregistered kind carried as JSON (code 0).
    const unknownCode = Buffer.from([TRIGGER_STATE_COMPACT_MARKER, 0, 0, 0, 1, 1, 0x72, 9]);
    expect(() => decodeTriggerState(unknownCode)).toThrow(/kind code 9/);
    const json = JSON.stringify({ rule: 'r', kind: 'nope' });
    const unregistered = Buffer.concat([
      Buffer.from([TRIGGER_STATE_COMPACT_MARKER, 0, 0, 0, 1, 1, 0x72, 0, 4]),
      Buffer.from('nope'),
      Buffer.from([json.length]),
      Buffer.from(json),
    ]);
    expect(() => decodeTriggerState(unregistered)).toThrow(/rules\[0\] is malformed/);
  });
});

describe('a state written under one rules file and read under another', () => {
  const before = rulesFrom(`
rules:
  - { name: views, kind: threshold, event: product_view, group_by: product_id, window: 24h, greater_than: 2 }
  - { name: cats, kind: threshold, event: product_view, group_by: category, window: 24h, greater_than: 1 }
  - { name: cart_abandoned, kind: absence, event: add_to_cart, not_followed_by: [purchase], within: 15m, context: cart }
`);
  // Reordered, one rule retired, one added, one's kind changed under the same name.
  const after = rulesFrom(`
rules:
  - { name: fresh, kind: threshold, event: product_view, group_by: product_id, window: 1h, greater_than: 0 }
  - { name: cart_abandoned, kind: absence, event: add_to_cart, not_followed_by: [purchase, checkout_started], within: 30m, context: cart }
  - { name: cats, kind: absence, event: product_view, not_followed_by: [purchase], within: 1h }
  - { name: views, kind: threshold, event: product_view, group_by: product_id, window: 24h, greater_than: 3 }
`);

  it('keeps every rule state under its name (no index into the file), and the engine does under the new file what it does with the JSON form', () => {
    const e = new Events();
    const first = [e.view('p1', 0), e.view('p1', MINUTE), e.view('p2', 2 * MINUTE), e.add('p1', 3 * MINUTE)];
    const written = applyEvents(null, first, before, T0 + HOUR, first.map(() => null)).state;
    const compact = decodeTriggerState(encodeTriggerState(written));
    expect(compact).toEqual(written);
    expect(compact.rules.map((r) => [r.rule, r.kind])).toEqual([
      ['views', 'threshold'],
      ['cats', 'threshold'],
      ['cart_abandoned', 'absence'],
    ]);
    const next = [e.view('p1', 10 * MINUTE), e.view('p1', 11 * MINUTE), e.of('checkout_started', 12 * MINUTE)];
    const fromCompact = applyEvents(compact, next, after, T0 + HOUR, next.map(() => null));
    const fromJson = applyEvents(decodeTriggerState(encodeTriggerStateJson(written)), next, after, T0 + HOUR, next.map(() => null));
    expect(fromCompact.triggers).toEqual(fromJson.triggers);
    expect(fromCompact.timers).toEqual(fromJson.timers);
    expect(fromCompact.state).toEqual(fromJson.state);
    expect(decodeTriggerState(encodeTriggerState(fromCompact.state))).toEqual(fromCompact.state);
  });
});

describe('the trigger service adapter on stored bytes', () => {
  const metrics = { eventsIgnored: { inc: () => undefined } } as unknown as KairosMetrics;
  const encoder = { topic: 'triggers', encode: (value: unknown) => Buffer.from(JSON.stringify(value)) };
  const snapshot = (states: Map<string, StateValue | null>): PartitionSnapshot => ({ version: 1, appliedOffsets: new Map(), incarnation: null, streamTime: null, states });
  const record = (event: ReturnType<Events['view']>, offset: number): ConsumedRecord<unknown> => ({
    topic: 'behavior.events', partition: 0, offset: String(offset), key: event.customer_id, value: event, timestamp: event.occurred_at, headers: {},
  });

  it('upgrades a format-1 state read as a Buffer to the compact form, with the same outcome as from compact', () => {
    const logic = new TriggerLogic(seedRules(), encoder, metrics);
    const e = new Events();
    const views = [e.view('p1', 0), e.view('p1', MINUTE), e.view('p1', 2 * MINUTE)];
    const first = logic.onRecords(snapshot(new Map()), views.map(record), T0 + HOUR);
    const compact = first.states.get(views[0].customer_id) as Buffer;
    expect(compact[0]).toBe(TRIGGER_STATE_COMPACT_MARKER);
    const legacy = Buffer.from(encodeTriggerStateJson(decodeTriggerState(compact)));
    const fourth = [e.view('p1', 3 * MINUTE)];
    const fromLegacy = logic.onRecords(snapshot(new Map([[views[0].customer_id, legacy]])), fourth.map(record), T0 + HOUR);
    const fromCompact = logic.onRecords(snapshot(new Map([[views[0].customer_id, compact]])), fourth.map(record), T0 + HOUR);
    expect(fromLegacy.outbox).toHaveLength(1); // the 4th view fires high_interest
    expect(fromLegacy.outbox).toEqual(fromCompact.outbox);
    expect((fromLegacy.states.get(views[0].customer_id) as Buffer).equals(fromCompact.states.get(views[0].customer_id) as Buffer)).toBe(true);
  });

  it('reports unreadable bytes as a corrupt state of that customer (dead-lettered by the processor)', () => {
    const logic = new TriggerLogic(seedRules(), encoder, metrics);
    const e = new Events();
    const broken = Buffer.from([TRIGGER_STATE_COMPACT_MARKER, 0, 0x80]);
    expect(() => logic.onRecords(snapshot(new Map([[e.view('p1', 0).customer_id, broken]])), [record(e.view('p1', 0), 0)], T0)).toThrow(CorruptStateError);
  });
});
