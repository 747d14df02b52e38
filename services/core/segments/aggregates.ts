/**
 * Updating and trimming aggregates. Everything is kept exact where a bounded size allows it
 * (timestamps: the newest threshold + 1), and approximated only for dense sums (bucket cap).
 */
import type { AggregatePlan, SegmentPlan, SumPlan } from './plan';
import type { AggregateState, SegmentState, SumBuckets } from './state';

/**
 * Most buckets one sum keeps. When more would be needed to reach the largest threshold, the
 * oldest bucket is folded into the next newer one: its money then leaves the window later
 * than it should, so a customer may stay in a sum segment a little longer, never shorter.
 */
export const MAX_SUM_BUCKETS = 12;

/** The last millisecond of a bucket: a bucket counts while this moment is inside the window. */
export function bucketEnd(index: number, granularityMs: number): number {
  return (index + 1) * granularityMs - 1;
}

function insertSorted(times: number[], at: number): number[] {
  let index = times.length;
  // Events mostly arrive in order: search from the newest end.
  while (index > 0 && times[index - 1] > at) index--;
  return [...times.slice(0, index), at, ...times.slice(index)];
}

/** Re-expresses buckets in another width (definitions changed), keeping each at its end time. */
function rebucket(sum: SumBuckets | undefined, granularityMs: number): SumBuckets {
  if (sum === undefined) return { g: granularityMs, b: [] };
  if (sum.g === granularityMs) return { g: sum.g, b: sum.b.map(([index, cents]) => [index, cents]) };
  const merged = new Map<number, number>();
  for (const [index, cents] of sum.b) {
    const target = Math.floor(bucketEnd(index, sum.g) / granularityMs);
    merged.set(target, (merged.get(target) ?? 0) + cents);
  }
  return { g: granularityMs, b: [...merged.entries()].sort((a, b) => a[0] - b[0]) };
}

function addCents(sum: SumBuckets | undefined, plan: SumPlan, at: number, cents: number): SumBuckets {
  const next = rebucket(sum, plan.granularityMs);
  const index = Math.floor(at / next.g);
  const existing = next.b.find((bucket) => bucket[0] === index);
  if (existing !== undefined) existing[1] += cents;
  else next.b = [...next.b, [index, cents] as [number, number]].sort((a, b) => a[0] - b[0]);
  return next;
}

/** Adds one matching event (at its clamped event time) to an aggregate. */
export function recordEvent(aggregate: AggregateState, plan: AggregatePlan, at: number, valueCents: number | null): void {
  if (plan.timestampCap > 0) aggregate.t = insertSorted(aggregate.t ?? [], at);
  if (plan.keepFirst) aggregate.f = aggregate.f === undefined ? at : Math.min(aggregate.f, at);
  // Only positive amounts: refunds or corrections would break the "newest buckets decide" pruning.
  if (plan.sum !== null && valueCents !== null && valueCents > 0) aggregate.s = addCents(aggregate.s, plan.sum, at, valueCents);
}

function pruneTimestamps(times: number[] | undefined, plan: AggregatePlan, now: number): number[] | undefined {
  if (times === undefined || plan.timestampCap === 0) return undefined;
  const cutoff = now - plan.timestampHorizonMs;
  const kept = times.filter((time) => time >= cutoff).slice(-plan.timestampCap);
  return kept.length === 0 ? undefined : kept;
}

function pruneBuckets(sum: SumBuckets | undefined, plan: SumPlan | null, now: number): SumBuckets | undefined {
  if (sum === undefined || plan === null) return undefined;
  const next = rebucket(sum, plan.granularityMs);
  const cutoff = now - plan.horizonMs;
  let buckets = next.b.filter(([index]) => bucketEnd(index, next.g) >= cutoff);
  // Once the newer buckets exceed every threshold, older ones cannot change any comparison.
  let total = 0;
  for (let i = buckets.length - 1; i >= 0; i--) {
    total += buckets[i][1];
    if (total > plan.pruneAboveCents) {
      buckets = buckets.slice(i);
      break;
    }
  }
  while (buckets.length > MAX_SUM_BUCKETS) {
    const [oldest, nextOldest, ...rest] = buckets;
    buckets = [[nextOldest[0], nextOldest[1] + oldest[1]], ...rest];
  }
  return buckets.length === 0 ? undefined : { g: next.g, b: buckets };
}

function pruneAggregate(aggregate: AggregateState, plan: AggregatePlan, now: number): AggregateState {
  const pruned: AggregateState = {};
  const times = pruneTimestamps(aggregate.t, plan, now);
  if (times !== undefined) pruned.t = times;
  if (plan.keepFirst && aggregate.f !== undefined) pruned.f = aggregate.f;
  const sum = pruneBuckets(aggregate.s, plan.sum, now);
  if (sum !== undefined) pruned.s = sum;
  return pruned;
}

/** Drops what no condition can use any more: old entries, and aggregates the definitions no longer have. */
export function pruneAggregates(state: SegmentState, plan: SegmentPlan, now: number): void {
  const kept: Record<string, AggregateState> = {};
  for (const [key, aggregate] of Object.entries(state.a)) {
    const aggregatePlan = plan.aggregates.get(key);
    if (aggregatePlan === undefined) continue;
    const pruned = pruneAggregate(aggregate, aggregatePlan, now);
    if (Object.keys(pruned).length > 0) kept[key] = pruned;
  }
  state.a = kept;
}
