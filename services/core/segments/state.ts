/**
 * The per-customer segment state: a small plain object stored by the adapter (one Redis value
 * per customer). Short keys on purpose: this is stored once per active customer.
 *
 * Stored forms (parseSegmentState reads both, serializeSegmentState writes the compact one):
 * - compact (format 2): the byte SEGMENT_STATE_COMPACT_MARKER, then the layout of encodeCompact
 *   below (varints, times as zigzag differences to one base time, event-id hashes as their 9 raw
 *   bytes, every name and group value as text, so nothing depends on segments.yaml);
 * - JSON (format 1, `{"v":1,...}`): what earlier versions stored; still read, so a deployed
 *   system upgrades in place, and still written for a state the compact layout cannot hold.
 * The marker 0x92 is a UTF-8 continuation byte, so no JSON text starts with it, and it differs
 * from the trigger state's 0x82, so neither service mistakes the other's state for its own.
 * Other services read the segments and facts through membership-view.ts, which reads both.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import { ByteReader, ByteWriter, compactOrJson, CompactFormatError, storedText } from '../compact-bytes';

/**
 * A map keyed by data (a grouped count's values, such as product ids): an object without a
 * prototype, which V8 keeps as a hash table from the start. Built as `{}` or with
 * Object.fromEntries, every such object got hidden classes for its own keys, of which the
 * customers' product ids make a new set each time: that took 57% of decoding a state
 * (docs/benchmarks.md, growth). Every key is an own data property ("__proto__" included), and
 * a missing key finds nothing.
 */
export function dataKeyed<T>(entries?: Iterable<readonly [string, T]>): Record<string, T> {
  const map = Object.create(null) as Record<string, T>;
  if (entries !== undefined) for (const [key, value] of entries) map[key] = value;
  return map;
}

/** Money of one aggregate in time buckets of `g` ms: `b` holds [bucket index, cents], oldest first. */
export interface SumBuckets {
  g: number;
  b: Array<[number, number]>;
}

/** What one aggregate (one event filter) remembers. */
export interface AggregateState {
  /** Newest event times (ms, ascending), at most the plan's cap, none older than its horizon. */
  t?: number[];
  /** Earliest event time ever seen. */
  f?: number;
  s?: SumBuckets;
  /** Grouped counts: by event field, by group value (hashed when long), newest times ascending. */
  g?: Record<string, Record<string, number[]>>;
}

/**
 * Behavioural facts for templates (facts.ts), each [occurred_at, product_id]. A purchase that
 * names no product and followed no cart add is [occurred_at].
 */
export interface FactsState {
  /** The newest purchase. */
  p?: [number] | [number, string];
  /** The newest product_view with a product. */
  v?: [number, string];
  /** The newest add_to_cart not removed nor bought since: the product of a purchase that names none. */
  c?: [number, string];
}

export type StoredProfileValue = string | boolean;

export interface SegmentState {
  /** Format version. */
  v: 1;
  /** customer_id. */
  c: string;
  /** Current memberships, sorted. */
  m: string[];
  /** Earliest time membership may change without a new input (the adapter's timer), if any. */
  w?: number;
  /** Aggregates by aggregateKey(filter). */
  a: Record<string, AggregateState>;
  /** Short hashes of the latest applied event_ids, newest last: drops re-delivered duplicates. */
  d: string[];
  /** Only the profile fields some condition reads; a missing key means the field is empty. */
  p?: Record<string, StoredProfileValue>;
  /** updated_at of the profile last applied; older profile records are ignored. */
  pu?: number;
  /** Behavioural facts (facts.ts); absent while there are none. */
  x?: FactsState;
}

/** How many recent event ids are remembered for duplicate detection. */
export const RECENT_EVENT_IDS = 8;

const productFact = z.tuple([z.number(), z.string()]);
export const factsSchema = z.object({
  p: z.union([productFact, z.tuple([z.number()])]).optional(),
  v: productFact.optional(),
  c: productFact.optional(),
});

const stateSchema = z.object({
  v: z.literal(1),
  c: z.string(),
  m: z.array(z.string()),
  w: z.number().optional(),
  a: z.record(
    z.string(),
    z.object({
      t: z.array(z.number()).optional(),
      f: z.number().optional(),
      s: z.object({ g: z.number().positive(), b: z.array(z.tuple([z.number(), z.number()])) }).optional(),
      g: z.record(z.string(), z.record(z.string(), z.array(z.number()))).optional(),
    }),
  ),
  d: z.array(z.string()),
  p: z.record(z.string(), z.union([z.string(), z.boolean()])).optional(),
  pu: z.number().optional(),
  x: factsSchema.optional(),
});

/** The first byte of a compact stored state. */
export const SEGMENT_STATE_COMPACT_MARKER = 0x92;

/** What a stored state is read from: bytes (Redis, read as a Buffer) or the JSON text of format 1. */
export type StoredSegmentState = Buffer | string;

/** True when the stored value is in the compact form. */
export function isCompactSegmentState(stored: StoredSegmentState): boolean {
  return typeof stored !== 'string' && stored.length > 0 && stored[0] === SEGMENT_STATE_COMPACT_MARKER;
}

/**
 * Parses a stored state, compact or format-1 JSON (null or empty: no state); throws when it is
 * neither (corrupt, truncated, foreign).
 */
export function parseSegmentState(stored: StoredSegmentState | null): SegmentState | null {
  if (stored === null || stored.length === 0) return null;
  if (isCompactSegmentState(stored)) {
    try {
      return decodeCompact(stored as Buffer);
    } catch (error) {
      if (error instanceof CompactFormatError) throw new Error(`segment state is not valid: compact form: ${error.message}`);
      throw error;
    }
  }
  const json = storedText(stored);
  const result = stateSchema.safeParse(JSON.parse(json));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`segment state is not valid: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data as SegmentState;
}

/** The bytes to store for a state: compact, or format-1 JSON when the compact layout cannot hold it. */
export function serializeSegmentState(state: SegmentState): Buffer {
  return compactOrJson(state, encodeCompact, serializeSegmentStateJson);
}

/** The format-1 stored form (JSON text), as earlier versions wrote it. */
export function serializeSegmentStateJson(state: SegmentState): string {
  return JSON.stringify(state);
}

/** A fresh state for a customer. */
export function emptyState(customerId: string): SegmentState {
  return { v: 1, c: customerId, m: [], a: {}, d: [] };
}

/**
 * A deep copy, so the functions of this package never mutate their inputs. Written out (the
 * engine copies the state once per event): structuredClone took 15% of the segmenter's CPU.
 * Maps are copied with spread, which keeps every own key as data ("__proto__" included).
 */
export function cloneState(state: SegmentState): SegmentState {
  const copy: SegmentState = { ...state, m: [...state.m], a: {}, d: [...state.d] };
  const aggregates: Record<string, AggregateState> = { ...state.a };
  for (const key of Object.keys(aggregates)) aggregates[key] = cloneAggregate(aggregates[key]);
  copy.a = aggregates;
  if (state.p !== undefined) copy.p = { ...state.p };
  if (state.x !== undefined) {
    const { p, v, c } = state.x;
    const x: FactsState = {};
    if (p !== undefined) x.p = [...p] as FactsState['p'];
    if (v !== undefined) x.v = [v[0], v[1]];
    if (c !== undefined) x.c = [c[0], c[1]];
    copy.x = x;
  }
  return copy;
}

function cloneAggregate(aggregate: AggregateState): AggregateState {
  const copy: AggregateState = { ...aggregate };
  if (aggregate.t !== undefined) copy.t = [...aggregate.t];
  if (aggregate.s !== undefined) copy.s = { g: aggregate.s.g, b: aggregate.s.b.map(([index, cents]) => [index, cents]) };
  if (aggregate.g !== undefined) {
    const fields: Record<string, Record<string, number[]>> = { ...aggregate.g };
    for (const field of Object.keys(fields)) {
      const values = dataKeyed<number[]>();
      for (const [value, times] of Object.entries(fields[field])) values[value] = [...times];
      fields[field] = values;
    }
    copy.g = fields;
  }
  return copy;
}

/** 72 bits of SHA-256, base64url: collisions are negligible within a list of a few ids. */
export function eventIdHash(eventId: string): string {
  return hash('sha256', eventId, 'base64url').slice(0, 12);
}

/** Remembers an applied event id, forgetting the oldest beyond RECENT_EVENT_IDS. */
export function rememberEventId(state: SegmentState, hash: string): void {
  state.d.push(hash);
  if (state.d.length > RECENT_EVENT_IDS) state.d.splice(0, state.d.length - RECENT_EVENT_IDS);
}

/** Whether nothing is worth keeping (the adapter may then delete the key). */
export function isEmptyState(state: SegmentState): boolean {
  return state.m.length === 0 && Object.keys(state.a).length === 0 && state.pu === undefined && state.x === undefined;
}

// The compact layout. Integers are varints, times zigzag differences to `base` (compact-bytes.ts).
//   marker, base (signed), c, flags (1 w, 2 p, 4 pu, 8 x), m (count, strings), [w],
//   a: count, per aggregate: key, flags (1 t, 2 f, 4 s, 8 g), [t: count, times], [f],
//      [s: g, count, per bucket: index (signed), cents (signed)],
//      [g: field count, per field: name, value count, per value: value, count, times],
//   d: count, hashes (9 bytes each),
//   [p: count, per field: name, 0 + string | 1 (false) | 2 (true)], [pu],
//   [x: flags (1 p, 2 p names a product, 4 v, 8 c), [p time, [product]], [v time, product], [c time, product]]
const EVENT_HASH_CHARS = 12;
const EVENT_HASH_BYTES = 9;

function baseTime(state: SegmentState): number {
  if (state.w !== undefined) return state.w;
  for (const aggregate of Object.values(state.a)) {
    if (aggregate.t !== undefined && aggregate.t.length > 0) return aggregate.t[aggregate.t.length - 1];
    if (aggregate.f !== undefined) return aggregate.f;
  }
  return state.x?.v?.[0] ?? state.x?.p?.[0] ?? state.x?.c?.[0] ?? state.pu ?? 0;
}

function encodeCompact(state: SegmentState): Buffer {
  const w = new ByteWriter();
  w.byte(SEGMENT_STATE_COMPACT_MARKER);
  const base = baseTime(state);
  w.int(base);
  w.string(state.c);
  w.byte((state.w === undefined ? 0 : 1) | (state.p === undefined ? 0 : 2) | (state.pu === undefined ? 0 : 4) | (state.x === undefined ? 0 : 8));
  w.uint(state.m.length);
  for (const segment of state.m) w.string(segment);
  if (state.w !== undefined) w.time(state.w, base);
  // Object.keys rather than entries: no pair arrays on the hot path.
  const aggregateKeys = Object.keys(state.a);
  w.uint(aggregateKeys.length);
  for (const key of aggregateKeys) {
    const aggregate = state.a[key];
    w.string(key);
    w.byte((aggregate.t === undefined ? 0 : 1) | (aggregate.f === undefined ? 0 : 2) | (aggregate.s === undefined ? 0 : 4) | (aggregate.g === undefined ? 0 : 8));
    if (aggregate.t !== undefined) w.times(aggregate.t, base);
    if (aggregate.f !== undefined) w.time(aggregate.f, base);
    if (aggregate.s !== undefined) {
      w.uint(aggregate.s.g);
      w.uint(aggregate.s.b.length);
      for (const [index, cents] of aggregate.s.b) {
        w.int(index);
        w.int(cents);
      }
    }
    if (aggregate.g !== undefined) {
      const groups = aggregate.g;
      const fields = Object.keys(groups);
      w.uint(fields.length);
      for (const field of fields) {
        w.string(field);
        const values = groups[field];
        const keys = Object.keys(values);
        w.uint(keys.length);
        for (const value of keys) {
          w.string(value);
          w.times(values[value], base);
        }
      }
    }
  }
  w.uint(state.d.length);
  for (const hash of state.d) w.base64url(hash, EVENT_HASH_CHARS);
  if (state.p !== undefined) {
    const fields = Object.entries(state.p);
    w.uint(fields.length);
    for (const [field, value] of fields) {
      w.string(field);
      if (typeof value === 'string') {
        w.byte(0);
        w.string(value);
      } else w.byte(value ? 2 : 1);
    }
  }
  if (state.pu !== undefined) w.time(state.pu, base);
  if (state.x !== undefined) {
    const { p, v, c } = state.x;
    w.byte((p === undefined ? 0 : 1) | (p !== undefined && p.length > 1 ? 2 : 0) | (v === undefined ? 0 : 4) | (c === undefined ? 0 : 8));
    if (p !== undefined) {
      w.time(p[0], base);
      if (p.length > 1) w.string(p[1]!);
    }
    if (v !== undefined) {
      w.time(v[0], base);
      w.string(v[1]);
    }
    if (c !== undefined) {
      w.time(c[0], base);
      w.string(c[1]);
    }
  }
  return w.finish();
}

function decodeCompact(bytes: Buffer): SegmentState {
  const r = new ByteReader(bytes, 1);
  const base = r.int();
  const c = r.string();
  const flags = r.flags(15, 'state');
  const m: string[] = [];
  for (let i = 0, n = r.count(); i < n; i += 1) m.push(r.string());
  const state: SegmentState = { v: 1, c, m, a: {}, d: [] };
  if ((flags & 1) !== 0) state.w = r.time(base);
  // Maps are built with Object.fromEntries or dataKeyed: both create own properties whatever
  // their names, as JSON.parse does ("__proto__" from a producer's group value stays data).
  const aggregates: Array<[string, AggregateState]> = [];
  for (let i = 0, n = r.count(2); i < n; i += 1) {
    const key = r.string();
    const has = r.flags(15, 'aggregate');
    const aggregate: AggregateState = {};
    if ((has & 1) !== 0) aggregate.t = r.times(base);
    if ((has & 2) !== 0) aggregate.f = r.time(base);
    if ((has & 4) !== 0) {
      const g = r.uint();
      if (g === 0) throw new CompactFormatError('a sum granularity of 0');
      const b: Array<[number, number]> = [];
      for (let k = 0, n2 = r.count(2); k < n2; k += 1) b.push([r.int(), r.int()]);
      aggregate.s = { g, b };
    }
    if ((has & 8) !== 0) {
      const groups: Array<[string, Record<string, number[]>]> = [];
      for (let k = 0, n2 = r.count(2); k < n2; k += 1) {
        const field = r.string();
        const values = dataKeyed<number[]>();
        for (let j = 0, n3 = r.count(2); j < n3; j += 1) {
          const value = r.string();
          values[value] = r.times(base);
        }
        groups.push([field, values]);
      }
      aggregate.g = Object.fromEntries(groups);
    }
    aggregates.push([key, aggregate]);
  }
  state.a = Object.fromEntries(aggregates);
  for (let i = 0, n = r.count(EVENT_HASH_BYTES); i < n; i += 1) state.d.push(r.base64url(EVENT_HASH_BYTES));
  if ((flags & 2) !== 0) {
    const p: Array<[string, StoredProfileValue]> = [];
    for (let i = 0, n = r.count(2); i < n; i += 1) {
      const field = r.string();
      const type = r.byte();
      if (type > 2) throw new CompactFormatError(`profile value type ${type}`);
      p.push([field, type === 0 ? r.string() : type === 2]);
    }
    state.p = Object.fromEntries(p);
  }
  if ((flags & 4) !== 0) state.pu = r.time(base);
  if ((flags & 8) !== 0) {
    const has = r.flags(15, 'facts');
    if ((has & 3) === 2) throw new CompactFormatError('facts flags name a product without a purchase');
    const x: FactsState = {};
    if ((has & 1) !== 0) {
      const at = r.time(base);
      x.p = (has & 2) !== 0 ? [at, r.string()] : [at];
    }
    if ((has & 4) !== 0) x.v = [r.time(base), r.string()];
    if ((has & 8) !== 0) x.c = [r.time(base), r.string()];
    state.x = x;
  }
  r.end();
  return state;
}
