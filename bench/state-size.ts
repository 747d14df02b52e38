/**
 * Bytes and time of the per-customer state encodings, without the stack: drives the pure
 * segment and trigger cores over the bench's traffic (same generator, clock and sizes as
 * `make bench`), then reports the stored size of every customer's states and the time to
 * decode + encode them, and with `--redis` writes the keys a run would leave (states with their
 * TTL, timers, wake-ups, segment sets) under a fresh prefix to REDIS_URL, takes MEMORY USAGE
 * (SAMPLES 0) of each, and deletes them again; then the same keys with empty state values (what
 * the key layout costs before any state). With `--layouts` it measures, on a private redis-server
 * (`--layout-port`, 19310), the services' key layout against one of fewer structures per
 * customer (state-layouts.ts; `--bucket`, customers per bucket, 100), with the states as they
 * are and without their duplicate-event memories.
 *
 *   node dist/bench/state-size.js [--events 200000] [--redis] [--layouts [--bucket 100] [--layout-port 19310]]
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { applyEvent as applySegmentEvent, parseSegmentState, serializeSegmentState, serializeSegmentStateJson, type SegmentState } from '../services/core/segments';
import { applyEvents, decodeTriggerState, encodeTriggerState, encodeTriggerStateJson, longestHorizonMs, type TriggerState } from '../services/core/triggers';
import { loadSegmentDefinitions } from '../services/segmenter/main';
import { loadTriggerRules } from '../services/trigger/main';
import { keyWrites, layoutFigures, usageByKind, writeAll, type LayoutInput } from './state-layouts';
import { shopTraffic } from './traffic';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The TTLs the services give a state key (the trigger service's: its rules' longest horizon and a day). */
const triggerTtl = () => longestHorizonMs(loadTriggerRules('config/triggers.yaml')) + DAY;
const SEGMENT_TTL = 366 * DAY;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

interface Replay {
  customers: string[];
  trigger: Map<string, TriggerState>;
  segment: Map<string, SegmentState>;
  triggerTimers: Map<string, number>;
  wakeups: Map<string, number>;
  members: Map<string, Set<string>>;
  clock: number;
}

/** The states the bench's traffic leaves, event by event through the pure cores. */
function replay(count: number, seed: number): Replay {
  const clock = Date.parse('2026-03-02T18:00:00Z');
  const customers = Math.max(100, Math.round(count / 10));
  const events = shopTraffic({ total: count, customers, products: 2000, seed, from: clock - 6 * HOUR, to: clock, run: 'a1b2c3k' });
  const definitions = loadSegmentDefinitions('config/segments.yaml');
  const rules = loadTriggerRules('config/triggers.yaml');
  const out: Replay = { customers: [], trigger: new Map(), segment: new Map(), triggerTimers: new Map(), wakeups: new Map(), members: new Map(), clock };
  const seen = new Set<string>();
  let streamTime: number | null = null;
  for (const event of events) {
    const customer = event.customer_id;
    if (!seen.has(customer)) {
      seen.add(customer);
      out.customers.push(customer);
    }
    const t = applyEvents(out.trigger.get(customer) ?? null, [event], rules, clock, [streamTime]);
    streamTime = streamTime === null ? event.occurred_at : Math.max(streamTime, event.occurred_at);
    if (t.changed) out.trigger.set(customer, t.state);
    for (const { id, dueAt } of t.timers.set) out.triggerTimers.set(id, dueAt);
    for (const id of t.timers.cancel) out.triggerTimers.delete(id);
    const s = applySegmentEvent(out.segment.get(customer) ?? null, event, definitions, clock);
    if (s.ignored !== null) continue;
    if (s.state === null) out.segment.delete(customer);
    else out.segment.set(customer, s.state);
    for (const change of s.changes) {
      const set = out.members.get(change.segment) ?? new Set<string>();
      if (change.change === 'entered') set.add(customer);
      else set.delete(customer);
      out.members.set(change.segment, set);
    }
    if (s.state === null || s.wakeAt === null) out.wakeups.delete(customer);
    else out.wakeups.set(customer, Math.max(s.wakeAt, clock + 1));
  }
  return out;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Ns per decode and per encode of one stored value: batches of 500 values, many rounds, the
 * fastest round of each (the machine is shared; the minimum is the least disturbed figure).
 */
function timeRoundTrip<T>(stored: Array<string | Buffer>, decode: (s: string | Buffer) => T, encode: (v: T) => string | Buffer, rounds = 200): { decodeNs: number; encodeNs: number } {
  const batch = 500;
  let best = { decodeNs: Infinity, encodeNs: Infinity };
  let sink = 0;
  for (let r = 0; r < rounds; r += 1) {
    const start = (r * batch) % Math.max(1, stored.length - batch);
    const slice = stored.slice(start, start + batch);
    const t0 = process.hrtime.bigint();
    const values = slice.map(decode);
    const t1 = process.hrtime.bigint();
    for (const v of values) sink += encode(v).length;
    const t2 = process.hrtime.bigint();
    best = {
      decodeNs: Math.min(best.decodeNs, Number(t1 - t0) / slice.length),
      encodeNs: Math.min(best.encodeNs, Number(t2 - t1) / slice.length),
    };
  }
  if (sink < 0) console.log(sink);
  return best;
}

/** The layout input of the replay's timers, wake-ups and members with these encoded states (12 partitions, the services' TTLs). */
function layoutInput(r: Replay, trigger: Map<string, string | Buffer>, segment: Map<string, string | Buffer>): LayoutInput {
  return { customers: r.customers.length, partitions: 12, trigger, segment, triggerTimers: r.triggerTimers, wakeups: r.wakeups, members: r.members, triggerTtlMs: triggerTtl(), segmentTtlMs: SEGMENT_TTL };
}

/** The services' layout of `input` (keyWrites) under a fresh prefix on REDIS_URL: MEMORY USAGE per kind per active customer; the keys deleted after. */
async function redisFigures(input: LayoutInput) {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `b${randomBytes(2).toString('hex')}z`; // as long as the bench's prefixes
  const writes = keyWrites(input, prefix);
  try {
    await writeAll(redis, writes);
    const { bytes } = await usageByKind(redis, writes);
    const usage = Object.fromEntries(Object.entries(bytes).map(([kind, total]) => [kind, total / input.customers]));
    return { prefix, usage };
  } finally {
    const all = [...new Set(writes.map(({ key }) => key))];
    for (let i = 0; i < all.length; i += 1000) await redis.del(...all.slice(i, i + 1000));
    redis.disconnect();
  }
}

type Form = 'json' | 'compact';

function figures(r: Replay, form: Form) {
  const encodeT = form === 'json' ? (s: TriggerState) => encodeTriggerStateJson(s) : encodeTriggerState;
  const encodeS = form === 'json' ? (s: SegmentState) => serializeSegmentStateJson(s) : serializeSegmentState;
  const trigger = new Map([...r.trigger].map(([c, s]) => [c, encodeT(s)]));
  const segment = new Map([...r.segment].map(([c, s]) => [c, encodeS(s)]));
  const triggerBytes = [...trigger.values()].map((v) => Buffer.byteLength(v));
  const segmentBytes = [...segment.values()].map((v) => Buffer.byteLength(v));
  const tTime = timeRoundTrip([...trigger.values()], decodeTriggerState, encodeT);
  const sTime = timeRoundTrip([...segment.values()], (v) => parseSegmentState(v)!, encodeS);
  return {
    trigger,
    segment,
    report: {
      trigger_value_bytes_mean: Math.round(mean(triggerBytes)),
      segment_value_bytes_mean: Math.round(mean(segmentBytes)),
      trigger_value_bytes_per_customer: Math.round(triggerBytes.reduce((a, b) => a + b, 0) / r.customers.length),
      segment_value_bytes_per_customer: Math.round(segmentBytes.reduce((a, b) => a + b, 0) / r.customers.length),
      trigger_decode_ns: Math.round(tTime.decodeNs),
      trigger_encode_ns: Math.round(tTime.encodeNs),
      segment_decode_ns: Math.round(sTime.decodeNs),
      segment_encode_ns: Math.round(sTime.encodeNs),
    } as Record<string, unknown>,
  };
}

async function main(): Promise<void> {
  const count = Number(arg('events', '200000'));
  const r = replay(count, Number(arg('seed', '42')));
  const report: Record<string, unknown> = {
    node: process.version,
    events: count,
    customers: r.customers.length,
    trigger_states: r.trigger.size,
    segment_states: r.segment.size,
    trigger_timers: r.triggerTimers.size,
    segment_wakeups: r.wakeups.size,
    set_members: [...r.members.values()].reduce((a, s) => a + s.size, 0),
  };
  const redisReport = async (encoded: { trigger: Map<string, string | Buffer>; segment: Map<string, string | Buffer> }) => {
    const { usage } = await redisFigures(layoutInput(r, encoded.trigger, encoded.segment));
    return {
      redis_bytes_per_customer: Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, Math.round(v)])),
      redis_bytes_per_customer_total: Math.round(Object.values(usage).reduce((a, b) => a + b, 0)),
    };
  };
  for (const form of ['json', 'compact'] as const) {
    const f = figures(r, form);
    if (process.argv.includes('--redis')) Object.assign(f.report, await redisReport({ trigger: f.trigger, segment: f.segment }));
    report[form] = f.report;
    if (form === 'compact' && process.argv.includes('--layouts')) {
      const port = Number(arg('layout-port', '19310'));
      const perBucket = Number(arg('bucket', '100'));
      report.layouts = await layoutFigures(layoutInput(r, f.trigger, f.segment), port, perBucket);
      // The same states with their duplicate-event memories (`seen`, `d`) empty.
      const trigger = new Map([...r.trigger].map(([c, s]) => [c, encodeTriggerState({ ...s, seen: [] })]));
      const segment = new Map([...r.segment].map(([c, s]) => [c, serializeSegmentState({ ...s, d: [] })]));
      report.layouts_without_duplicate_memories = await layoutFigures(layoutInput(r, trigger, segment), port, perBucket);
    }
  }
  if (process.argv.includes('--redis')) {
    // The same keys, TTLs, timers, wake-ups and set members with every state value empty: what
    // the layout of keys costs before a single byte of state.
    const empty = (states: Map<string, unknown>) => new Map([...states.keys()].map((customer) => [customer, Buffer.alloc(0)]));
    report.empty_values = await redisReport({ trigger: empty(r.trigger), segment: empty(r.segment) });
  }
  console.log(JSON.stringify(report, null, 2));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
