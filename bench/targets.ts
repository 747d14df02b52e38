/**
 * The performance issue's targets and how a bench run is judged against them (pure: no I/O).
 * Every target is a comparison of one figure of the run; `judgeTargets` gives, per target, the
 * value, the target as text and whether it is met. A figure that was not measured (null) does
 * not meet its target.
 */
import type { StreamsGuarantee } from './streams';

export type Comparison = '>=' | '<=' | '<';

export interface TargetResult {
  value: number | null;
  /** The target as text, e.g. ">= 0.5" (the value's unit is in the target's name). */
  target: string;
  met: boolean;
  /** Why the target is judged not met although the comparison would hold, or what the value is. */
  note?: string;
}

export function judge(value: number | null, comparison: Comparison, bound: number, note?: string): TargetResult {
  const holds = value !== null && Number.isFinite(value) && (comparison === '>=' ? value >= bound : comparison === '<=' ? value <= bound : value < bound);
  return { value, target: `${comparison} ${bound}`, met: holds, ...(note === undefined ? {} : { note }) };
}

/** `a / b` rounded to two decimals; null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !(b > 0)) return null;
  return Math.round((a / b) * 100) / 100;
}

/** The Kafka Streams guarantee a latency row of OUTPUT_GUARANTEE `guarantee` is compared with. */
export function streamsGuaranteeOf(guarantee: string): StreamsGuarantee {
  return guarantee === 'exactly_once' ? 'exactly_once_v2' : 'at_least_once';
}

/** a / b of two latencies (ms), to two decimals; null when either was not measured (NaN: no probe timed) or b is 0. */
export function latencyRatio(a: number | null | undefined, b: number | null | undefined): number | null {
  return Number.isFinite(a) && Number.isFinite(b) ? ratio(a, b) : null;
}

/** One event -> trigger latency measurement at an offered rate under one OUTPUT_GUARANTEE. */
export interface LatencyRow {
  offered_eps: number;
  achieved_eps: number;
  guarantee: string;
  p99_ms: number | null;
  /** Timed probes whose trigger did not arrive in time (they would be the tail). */
  probes_missing: number;
}

/** A rate counts as produced when the probe producer reached 95% of it. */
export const RATE_REACHED = 0.95;

export function latencyTargetName(row: Pick<LatencyRow, 'offered_eps' | 'guarantee'>): string {
  return `latency_p99_ms_at_${row.offered_eps}_eps_${row.guarantee}`;
}

export function judgeLatency(row: LatencyRow): TargetResult {
  if (row.probes_missing > 0) return { ...judge(null, '<', 100), value: row.p99_ms, note: `${row.probes_missing} timed probes never fired within the wait` };
  if (row.achieved_eps < RATE_REACHED * row.offered_eps) {
    return { ...judge(row.p99_ms, '<', 100), met: false, note: `the probe producer reached only ${row.achieved_eps} of ${row.offered_eps} events/s` };
  }
  return judge(row.p99_ms, '<', 100);
}

export interface TargetFigures {
  ceiling_eps: number;
  kairos_eps: number;
  segmenter_eps: number;
  trigger_eps: number;
  latency: LatencyRow[];
  /** Growth runs in the order measured (the issue's are 100k and 1M events). */
  growth: Array<{ events: number; kairos_eps: number }>;
  redis_bytes_per_customer: number | null;
  render_only_eps: number;
  render_bare_eps: number;
  render_send_eps: number | null;
  bare_ses_eps: number | null;
  /** The Kafka Streams app at_least_once (bench/streams.ts); null when not measured. */
  streams_eps?: number | null;
  /** Whether every Streams run wrote exactly the trigger service's triggers; null when none ran. */
  streams_same_triggers?: boolean | null;
}

/** The issue's targets, judged on one run's figures. Names are stable keys of results.json `targets`. */
export function judgeTargets(f: TargetFigures): Record<string, TargetResult> {
  const targets: Record<string, TargetResult> = {
    kairos_to_ceiling: judge(ratio(f.kairos_eps, f.ceiling_eps), '>=', 0.5),
    segmenter_to_ceiling: judge(ratio(f.segmenter_eps, f.ceiling_eps), '>=', 0.6),
    trigger_to_ceiling: judge(ratio(f.trigger_eps, f.ceiling_eps), '>=', 0.6),
    trigger_to_streams:
      f.streams_same_triggers === false
        ? { ...judge(ratio(f.trigger_eps, f.streams_eps), '>=', 1.5), met: false, note: "the Kafka Streams app's triggers differ from the trigger service's" }
        : judge(ratio(f.trigger_eps, f.streams_eps), '>=', 1.5, f.streams_eps === null || f.streams_eps === undefined ? 'the Kafka Streams app was not run' : undefined),
  };
  for (const row of f.latency) targets[latencyTargetName(row)] = judgeLatency(row);
  const first = f.growth[0];
  const last = f.growth.at(-1);
  const growthNote = first && last && f.growth.length >= 2 ? `${last.events} vs ${first.events} events` : 'needs two growth sizes';
  targets.growth_eps_ratio = judge(f.growth.length >= 2 ? ratio(last?.kairos_eps, first?.kairos_eps) : null, '>=', 0.9, growthNote);
  targets.redis_bytes_per_customer = judge(f.redis_bytes_per_customer, '<=', 400);
  targets.render_only_to_bare = judge(ratio(f.render_only_eps, f.render_bare_eps), '>=', 0.8);
  targets.render_bare_eps = judge(f.render_bare_eps, '>=', 20_000);
  targets.render_send_to_bare_ses = judge(ratio(f.render_send_eps, f.bare_ses_eps), '>=', 0.5);
  return targets;
}

/** "met" / "not met" with the target, for the table. */
export function verdict(t: TargetResult): string {
  return `${t.met ? 'met' : 'NOT MET'} (target ${t.target}${t.note === undefined ? '' : `; ${t.note}`})`;
}

/** Counts items by a key; keys sorted, so two counts print and compare the same way. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return Object.fromEntries([...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every name present in either count, with the count that differs; empty when they are equal. */
export function countDifferences(a: Record<string, number>, b: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.filter((n) => (a[n] ?? 0) !== (b[n] ?? 0)).map((n) => `${n}: ${a[n] ?? 0} vs ${b[n] ?? 0}`);
}

/**
 * The part of a triggers-per-rule count that a run of only some services writes: segment-entry
 * triggers (rule `segment:<name>`) come from the segmenter, every other rule from the trigger
 * service.
 */
export function triggersWrittenBy(triggersByRule: Record<string, number>, parts: { segmenter: boolean; trigger: boolean }, segmentRulePrefix = 'segment:'): Record<string, number> {
  return Object.fromEntries(Object.entries(triggersByRule).filter(([rule]) => (rule.startsWith(segmentRulePrefix) ? parts.segmenter : parts.trigger)));
}

/** "high_interest 1,234, cart_abandoned 567" */
export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
}

/** A comma-separated list of positive integers (an env knob); the fallback when unset or empty. */
export function positiveIntList(name: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined || raw.trim() === '') return fallback;
  const values = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (values.length === 0 || values.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new Error(`bench: ${name}=${raw} is not a list of positive integers`);
  return values;
}
