/**
 * The compact stored segment state (core/segments/state.ts): exact round trips, format-1 JSON
 * still read (by the segmenter and by the membership view other services use), the JSON
 * fallback, hostile bytes, and a segments file that changes between write and read.
 */
import {
  applyEvent,
  reevaluate,
  memberships,
  parseSegmentDefinitions,
  parseSegmentState,
  SEGMENT_STATE_COMPACT_MARKER,
  segmentMembershipView,
  SegmentMembershipViewError,
  segmentStateView,
  serializeSegmentState,
  serializeSegmentStateJson,
  type SegmentDefinition,
  type SegmentState,
} from '../../../../services/core/segments';
import { cloneState } from '../../../../services/core/segments/state';
import { encodeTriggerState } from '../../../../services/core/triggers';
import { shopTraffic } from '../../../../services/tools/synthetic';
import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function shipped(): SegmentDefinition[] {
  return parseSegmentDefinitions('config/segments.yaml', readFileSync(join(__dirname, '../../../../config/segments.yaml'), 'utf8'));
}

function everyField(): SegmentState {
  const groups: Record<string, number[]> = { 'p-1': [T0, T0 + HOUR], 'é-漢': [T0 - 400 * DAY] };
  Object.defineProperty(groups, '__proto__', { value: [T0 + 5], enumerable: true, writable: true, configurable: true });
  return {
    v: 1,
    c: 'customer-ü-1',
    m: ['engaged', 'high_interest', 'vip'],
    w: T0 + 30 * DAY,
    a: {
      product_view: { g: { product_id: groups, category: {} } },
      purchase: { t: [T0 - 80 * DAY, T0 - DAY, T0], f: T0 - 300 * DAY, s: { g: DAY, b: [[20_000, 1500], [20_514, -250], [-3, 0]] } },
      'email_click|email_open': { t: [T0 + 1] },
      empty: {},
    },
    d: ['AAAAAAAAAAAA', '____________', 'q3el-iuKc7if'],
    p: { country: 'DE', consent_email: true, 'attributes.tier': '', 'attributes.vip': false },
    pu: T0 - 7,
    x: { p: [T0, 'p-1'], v: [T0 + 2, 'é-漢'], c: [T0 + 3, ''] },
  };
}

describe('compact segment state', () => {
  it('round-trips every field exactly (own "__proto__" keys stay data), and starts with its marker', () => {
    const state = everyField();
    const bytes = serializeSegmentState(state);
    expect(bytes[0]).toBe(SEGMENT_STATE_COMPACT_MARKER);
    const back = parseSegmentState(bytes)!;
    expect(back).toEqual(state);
    const groups = back.a['product_view']!.g!['product_id']!;
    // A data-keyed map (dataKeyed): no prototype, and no key became one.
    expect(Object.getPrototypeOf(groups)).toBeNull();
    expect(Object.keys(groups)).toEqual(['p-1', 'é-漢', '__proto__']);
    expect(groups['__proto__']).toEqual([T0 + 5]);
    expect(serializeSegmentState(back).equals(bytes)).toBe(true);
    expect(bytes.length).toBeLessThan(Buffer.byteLength(serializeSegmentStateJson(state)) * 0.6);
  });

  it('round-trips minimal states and a purchase fact without a product', () => {
    for (const state of [
      { v: 1, c: 'c', m: [], a: {}, d: [] },
      { v: 1, c: '', m: [], a: {}, d: [], x: { p: [T0] } },
      { v: 1, c: 'c', m: [], a: {}, d: [], x: {}, p: {} },
    ] as SegmentState[]) {
      expect(parseSegmentState(serializeSegmentState(state))).toEqual(state);
    }
  });

  it('round-trips every state shop traffic leaves under the shipped segments, and the engine agrees with the JSON form', () => {
    const definitions = shipped();
    const events = shopTraffic({ total: 5000, customers: 300, products: 60, seed: 5, from: T0, to: T0 + 30 * HOUR });
    const now = T0 + 31 * HOUR;
    const stored = { json: new Map<string, string>(), compact: new Map<string, Buffer>() };
    const changes = { json: [] as string[], compact: [] as string[] };
    for (const event of events) {
      for (const form of ['json', 'compact'] as const) {
        const map = stored[form] as Map<string, string | Buffer>;
        const result = applyEvent(parseSegmentState(map.get(event.customer_id) ?? null), event, definitions, now);
        changes[form].push(...result.changes.map((c) => `${c.customer_id} ${c.segment} ${c.change} ${c.at}`));
        if (result.ignored !== null) continue;
        if (result.state === null) map.delete(event.customer_id);
        else map.set(event.customer_id, form === 'json' ? serializeSegmentStateJson(result.state) : serializeSegmentState(result.state));
      }
    }
    expect(changes.compact).toEqual(changes.json);
    expect(stored.compact.size).toBeGreaterThan(250);
    for (const [customer, bytes] of stored.compact) {
      expect(bytes[0]).toBe(SEGMENT_STATE_COMPACT_MARKER);
      expect(parseSegmentState(bytes)).toEqual(JSON.parse(stored.json.get(customer)!));
      expect(segmentStateView(bytes, now)).toEqual(segmentStateView(stored.json.get(customer)!, now));
    }
  });
});

describe('cloneState', () => {
  it('copies every field deeply: equal, no shared array or object, own "__proto__" keys kept as data', () => {
    const state = everyField();
    const copy = cloneState(state);
    expect(copy).toEqual(state);
    expect(serializeSegmentState(copy).equals(serializeSegmentState(state))).toBe(true);
    const groups = copy.a['product_view']!.g!['product_id']!;
    // A data-keyed map (dataKeyed): no prototype, and no key became one.
    expect(Object.getPrototypeOf(groups)).toBeNull();
    expect(Object.keys(groups)).toEqual(['p-1', 'é-漢', '__proto__']);
    // Every nested part is a new object: changing the copy leaves the original as it was.
    copy.m.push('x');
    copy.d.push('x');
    groups['p-1']!.push(1);
    groups['__proto__']!.push(1);
    copy.a['purchase']!.t!.push(1);
    copy.a['purchase']!.s!.b[0]![1] = 1;
    copy.a['empty']!.f = 1;
    copy.p!['country'] = 'FR';
    copy.x!.v![1] = 'other';
    copy.x!.p!.push('x' as never);
    expect(state).toEqual(everyField());
  });

  it('handOver (the segmenter\'s in-place mode) gives what copying gives, for shop traffic under the shipped segments', () => {
    const definitions = shipped();
    const events = shopTraffic({ total: 5000, customers: 300, products: 60, seed: 6, from: T0, to: T0 + 30 * HOUR });
    const now = T0 + 31 * HOUR;
    const states = { copy: new Map<string, SegmentState | null>(), handOver: new Map<string, SegmentState | null>() };
    const outputs = { copy: [] as unknown[], handOver: [] as unknown[] };
    for (const event of events) {
      for (const mode of ['copy', 'handOver'] as const) {
        const before = states[mode].get(event.customer_id) ?? null;
        const result = applyEvent(before, event, definitions, now, { handOver: mode === 'handOver' });
        outputs[mode].push([result.changes, result.triggers, result.wakeAt, result.ignored]);
        states[mode].set(event.customer_id, result.state);
      }
    }
    for (const mode of ['copy', 'handOver'] as const) {
      for (const [customer, state] of states[mode]) states[mode].set(customer, reevaluate(state, definitions, now + 40 * DAY, { handOver: mode === 'handOver' }).state);
    }
    expect(outputs.handOver).toEqual(outputs.copy);
    expect([...states.handOver]).toEqual([...states.copy]);
    expect(outputs.copy.filter((o) => (o as unknown[])[0] !== undefined && ((o as unknown[])[0] as unknown[]).length > 0).length).toBeGreaterThan(100);
  });

  it('keeps absent fields absent', () => {
    const minimal: SegmentState = { v: 1, c: 'c', m: [], a: { k: {} }, d: [] };
    expect(Object.keys(cloneState(minimal))).toEqual(['v', 'c', 'm', 'a', 'd']);
    expect(Object.keys(cloneState(minimal).a['k']!)).toEqual([]);
  });
});

describe('format 1 (JSON) segment states, as earlier versions stored them', () => {
  const legacy =
    '{"v":1,"c":"a1b2c3k-c9984","m":["high_interest","new_customer"],"a":{"product_view":{"g":{"product_id":{"p-1973":[1772452807694],"p-1465":[1772464052569,1772465258532]}}},"purchase":{"t":[1772464033107],"f":1772464033107,"s":{"g":86400000,"b":[[20514,10475]]}}},"d":["ZPZ7q_P1Kx8z","Dj941Uvh4j5E"],"x":{"v":[1772468514946,"p-1465"],"p":[1772464033107,"p-1134"]},"w":1772550452570}';

  it('are read by the segmenter as text or bytes, and written back compact', () => {
    const state = parseSegmentState(Buffer.from(legacy))!;
    expect(state).toEqual(JSON.parse(legacy));
    expect(parseSegmentState(legacy)).toEqual(state);
    const rewritten = serializeSegmentState(state);
    expect(rewritten[0]).toBe(SEGMENT_STATE_COMPACT_MARKER);
    expect(parseSegmentState(rewritten)).toEqual(state);
  });

  it('are read by the membership view other services use, as are compact ones', () => {
    const now = 1772468514946 + HOUR;
    const fromJson = segmentStateView(legacy, now);
    expect(fromJson.segments).toEqual(['high_interest', 'new_customer']);
    expect(segmentStateView(Buffer.from(legacy), now)).toEqual(fromJson);
    expect(segmentStateView(serializeSegmentState(parseSegmentState(legacy)!), now)).toEqual(fromJson);
    expect(segmentMembershipView(serializeSegmentState(parseSegmentState(legacy)!))).toEqual(['high_interest', 'new_customer']);
  });

  it('is written instead when the compact layout cannot hold the state (a fractional number), and reads back the same', () => {
    // (Without the "__proto__" group: the format-1 reader, zod, drops such a key; it always has.)
    const odd = { ...everyField(), a: { purchase: { t: [T0], s: { g: DAY, b: [[20_515, 12.5]] as Array<[number, number]> } } } };
    const bytes = serializeSegmentState(odd);
    expect(bytes.toString('utf8', 0, 7)).toBe('{"v":1,');
    expect(parseSegmentState(bytes)).toEqual(odd);
    const oddHash = { ...everyField(), d: ['short'] };
    expect(serializeSegmentState(oddHash).toString('utf8', 0, 1)).toBe('{');
  });
});

describe('hostile stored segment bytes', () => {
  const good = serializeSegmentState(everyField());

  it('every truncation and a trailing byte fail with "segment state is not valid"', () => {
    for (let length = 1; length < good.length; length += 1) {
      expect(() => parseSegmentState(good.subarray(0, length))).toThrow(/segment state is not valid/);
    }
    expect(() => parseSegmentState(Buffer.concat([good, Buffer.from([0])]))).toThrow(/unread bytes/);
  });

  it('any single changed byte decodes or fails with a plain Error, and the membership view raises only its own error', () => {
    for (let i = 1; i < good.length; i += 1) {
      for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
        const changed = Buffer.from(good);
        changed[i] = value;
        try {
          parseSegmentState(changed);
        } catch (error) {
          expect((error as Error).message).toMatch(/segment state is not valid/);
        }
        try {
          segmentStateView(changed, T0);
        } catch (error) {
          expect(error).toBeInstanceOf(SegmentMembershipViewError);
        }
      }
    }
  });

  it('foreign values are refused: a trigger state, a mangled (UTF-8 decoded) compact state', () => {
    const trigger = encodeTriggerState({ v: 1, seen: [], cart: null, rules: [] });
    expect(() => parseSegmentState(trigger)).toThrow();
    expect(() => segmentMembershipView(trigger)).toThrow(SegmentMembershipViewError);
    expect(() => parseSegmentState(good.toString('utf8'))).toThrow();
    expect(() => segmentMembershipView(good.toString('utf8'))).toThrow(SegmentMembershipViewError);
    expect(() => segmentMembershipView(Buffer.from([SEGMENT_STATE_COMPACT_MARKER, 0]))).toThrow(/not readable/);
  });
});

describe('a segment state written under one segments file and read under another', () => {
  it('keeps aggregates and memberships by name, and re-evaluation under the new file matches the JSON form', () => {
    const before = parseSegmentDefinitions(
      'before.yaml',
      `segments:
  - name: viewer
    conditions: { count: { event: product_view, group_by: product_id, within: 24h, gt: 1 } }
  - name: buyer
    conditions: { count: { event: purchase, within: 90d, gte: 1 } }
`,
    );
    const after = parseSegmentDefinitions(
      'after.yaml',
      `segments:
  - name: big_buyer
    conditions: { sum: { event: purchase, within: 365d, gte: 100 } }
  - name: buyer
    conditions: { count: { event: purchase, within: 30d, gte: 2 } }
`,
    );
    const event = (type: string, at: number, fields: Partial<BehaviorEvent> = {}) => behaviorEvent({ event_id: `e${at}${type}`, customer_id: 'c1', type, occurred_at: at, ...fields });
    let state: SegmentState | null = null;
    for (const e of [event('product_view', T0, { product_id: 'p1' }), event('product_view', T0 + 1, { product_id: 'p1' }), event('purchase', T0 + 2, { value_cents: 500 })]) {
      state = applyEvent(state, e, before, T0 + 10).state;
    }
    expect(memberships(state)).toEqual(['buyer', 'viewer']);
    const compact = parseSegmentState(serializeSegmentState(state!))!;
    expect(compact).toEqual(state);
    const next = event('purchase', T0 + 20, { value_cents: 700 });
    const fromCompact = applyEvent(compact, next, after, T0 + 30);
    const fromJson = applyEvent(parseSegmentState(serializeSegmentStateJson(state!)), next, after, T0 + 30);
    expect(fromCompact).toEqual(fromJson);
    expect(parseSegmentState(serializeSegmentState(fromCompact.state!))).toEqual(fromCompact.state);
  });
});
