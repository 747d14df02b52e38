/**
 * Updating and trimming aggregates. Everything is kept exact where a bounded size allows it
 * (timestamps: the newest threshold + 1), and approximated only for dense sums (bucket cap).
 */
import { hash as digestOf } from 'node:crypto';
import { eventFieldValue, type EventField } from '../definitions';
import type { BehaviorEvent } from '../types';
import { MAX_GROUPS, type AggregatePlan, type GroupPlan, type SegmentPlan, type SumPlan } from './plan';
import { dataKeyed, type AggregateState, type SegmentState, type SumBuckets } from './state';

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

/** Puts `at` into ascending `times` (in place: the engine owns the state it changes) and returns the array. */
function insertSorted(times: number[], at: number): number[] {
  let index = times.length;
  // Events mostly arrive in order: search from the newest end.
  while (index > 0 && times[index - 1] > at) index--;
  if (index === times.length) times.push(at);
  else times.splice(index, 0, at);
  return times;
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

/** Longest group value stored verbatim; a longer one is stored as a hash (still one group per value). */
export const MAX_GROUP_KEY_CHARS = 64;

/** The key a group value is stored under (`__proto__` hashed too: assigned to an object, it would set its prototype). */
export function groupKey(value: string): string {
  return value.length <= MAX_GROUP_KEY_CHARS && value !== '__proto__' ? value : `#${digestOf('sha256', value, 'base64url').slice(0, 22)}`;
}

/** Adds one matching event (at its clamped event time) to an aggregate. */
export function recordEvent(aggregate: AggregateState, plan: AggregatePlan, event: BehaviorEvent, at: number): void {
  if (plan.timestampCap > 0) aggregate.t = insertSorted(aggregate.t ?? [], at);
  if (plan.keepFirst) aggregate.f = aggregate.f === undefined ? at : Math.min(aggregate.f, at);
  // Only positive amounts: refunds or corrections would break the "newest buckets decide" pruning.
  const valueCents = event.value_cents;
  if (plan.sum !== null && valueCents !== null && valueCents > 0) aggregate.s = addCents(aggregate.s, plan.sum, at, valueCents);
  for (let i = 0; i < plan.groupFields.length; i += 1) {
    const field = plan.groupFields[i] as EventField;
    const value = eventFieldValue(event, field);
    if (value === null) continue; // events without the field are not counted by a grouped count
    const groups = (aggregate.g ??= {});
    const byValue = (groups[field] ??= dataKeyed());
    const key = groupKey(value);
    // Own keys only: a product id like "constructor" must not find Object.prototype's.
    byValue[key] = insertSorted((Object.hasOwn(byValue, key) ? byValue[key] : undefined) ?? [], at);
  }
}

function pruneTimestamps(times: number[] | undefined, plan: AggregatePlan, now: number): number[] | undefined {
  if (times === undefined || plan.timestampCap === 0) return undefined;
  const cutoff = now - plan.timestampHorizonMs;
  // The common case, every event: nothing to drop, so nothing to copy (a witness is then one of these times).
  if (times.length > 0 && times.length <= plan.timestampCap && ascendingFrom(times, cutoff)) return times;
  const inside = times.filter((time) => time >= cutoff);
  const kept = inside.slice(-plan.timestampCap);
  for (const age of plan.witnessAgesMs) {
    const witness = newestAtOrBefore(inside, now - age);
    if (witness !== null && witness < kept[0]) kept.unshift(witness);
  }
  kept.sort((a, b) => a - b);
  return kept.length === 0 ? undefined : kept;
}

/** Whether `times` is ascending and none is before `cutoff`. */
function ascendingFrom(times: readonly number[], cutoff: number): boolean {
  let previous = cutoff;
  for (let index = 0; index < times.length; index++) {
    if (times[index] < previous) return false;
    previous = times[index];
  }
  return true;
}

function newestAtOrBefore(times: readonly number[], limit: number): number | null {
  for (let i = times.length - 1; i >= 0; i--) if (times[i] <= limit) return times[i];
  return null;
}

/** Each group's newest `cap` times inside the horizon; empty groups go, then all but the MAX_GROUPS most recently active. */
function pruneGroups(groups: Record<string, number[]>, plan: GroupPlan, now: number): Record<string, number[]> | undefined {
  const cutoff = now - plan.horizonMs;
  // The common cases, every event: nothing to drop, or a group a time over its cap (no copy).
  if (trimGroupsInPlace(groups, plan, cutoff)) return groups;
  const kept: Array<[string, number[]]> = [];
  for (const [key, times] of Object.entries(groups)) {
    const inside = times.filter((time) => time >= cutoff).slice(-plan.cap);
    if (inside.length > 0) kept.push([key, inside]);
  }
  if (kept.length === 0) return undefined;
  if (kept.length > MAX_GROUPS) {
    // Newest activity first; among equal times the smaller key, so the choice never depends on insertion order.
    kept.sort((a, b) => b[1][b[1].length - 1] - a[1][a[1].length - 1] || (a[0] < b[0] ? -1 : 1));
    kept.length = MAX_GROUPS;
  }
  return dataKeyed(kept);
}

/**
 * What pruneGroups does, in place, when at most MAX_GROUPS groups stay (then none is chosen
 * over another, and the groups left keep their order); false, with nothing changed, otherwise.
 * Times are ascending, so a group's newest `cap` inside the horizon are a tail of its list: one
 * pass finds whether any group needs trimming at all, a second trims only if one does.
 */
function trimGroupsInPlace(groups: Record<string, number[]>, plan: GroupPlan, cutoff: number): boolean {
  let staying = 0;
  let untouched = true;
  for (const key in groups) {
    if (!Object.hasOwn(groups, key)) continue;
    const times = groups[key];
    if (times.length > 0 && times[times.length - 1] >= cutoff) staying += 1;
    if (times.length === 0 || times.length > plan.cap || times[0] < cutoff) untouched = false;
  }
  if (staying === 0 || staying > MAX_GROUPS) return false;
  if (untouched) return true;
  for (const key in groups) {
    if (!Object.hasOwn(groups, key)) continue;
    const times = groups[key];
    let drop = Math.max(0, times.length - plan.cap);
    while (drop < times.length && times[drop] < cutoff) drop++;
    if (drop === times.length) delete groups[key];
    else if (drop > 0) times.splice(0, drop);
  }
  return true;
}

/** Prunes each field's groups in place, dropping fields left empty or no longer planned; undefined when none is left. */
function pruneAllGroups(groups: AggregateState['g'], plan: AggregatePlan, now: number): AggregateState['g'] {
  if (groups === undefined) return undefined;
  let left = 0;
  // for...in, not Object.keys: no array per event; deleting the key being visited is safe.
  for (const field in groups) {
    if (!Object.hasOwn(groups, field)) continue;
    const groupPlan = plan.groups.get(field as EventField);
    const pruned = groupPlan === undefined ? undefined : pruneGroups(groups[field], groupPlan, now);
    if (pruned === undefined) delete groups[field];
    else {
      if (pruned !== groups[field]) groups[field] = pruned;
      left += 1;
    }
  }
  return left === 0 ? undefined : groups;
}

/** Whether pruneBuckets would give back the same buckets (the common case, every event: no copy). */
function bucketsKept(sum: SumBuckets, plan: SumPlan, cutoff: number): boolean {
  if (sum.g !== plan.granularityMs || sum.b.length === 0 || sum.b.length > MAX_SUM_BUCKETS) return false;
  for (const [index] of sum.b) if (bucketEnd(index, sum.g) < cutoff) return false;
  // pruneBuckets keeps from the newest bucket at which the total passes pruneAboveCents: all of them only if that is the oldest or none.
  let total = 0;
  for (let i = sum.b.length - 1; i >= 1; i--) {
    total += sum.b[i][1];
    if (total > plan.pruneAboveCents) return false;
  }
  return true;
}

function pruneBuckets(sum: SumBuckets | undefined, plan: SumPlan | null, now: number): SumBuckets | undefined {
  if (sum === undefined || plan === null) return undefined;
  const cutoff = now - plan.horizonMs;
  if (bucketsKept(sum, plan, cutoff)) return sum;
  const next = rebucket(sum, plan.granularityMs);
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

/** Sets or deletes one part of an aggregate (deleting only what is there: a delete reshapes the object). */
function setPart<K extends keyof AggregateState>(aggregate: AggregateState, part: K, value: AggregateState[K] | undefined): void {
  if (value !== undefined) {
    if (aggregate[part] !== value) aggregate[part] = value;
  } else if (aggregate[part] !== undefined) delete aggregate[part];
}

/** Prunes an aggregate in place; whether anything is left of it. */
function pruneAggregate(aggregate: AggregateState, plan: AggregatePlan, now: number): boolean {
  setPart(aggregate, 't', pruneTimestamps(aggregate.t, plan, now));
  if (!plan.keepFirst) setPart(aggregate, 'f', undefined);
  setPart(aggregate, 's', pruneBuckets(aggregate.s, plan.sum, now));
  setPart(aggregate, 'g', pruneAllGroups(aggregate.g, plan, now));
  return aggregate.t !== undefined || aggregate.f !== undefined || aggregate.s !== undefined || aggregate.g !== undefined;
}

/**
 * Drops what no condition can use any more: old entries, and aggregates the definitions no longer
 * have. In place (the engine owns the state it settles); the aggregates left keep their order.
 */
export function pruneAggregates(state: SegmentState, plan: SegmentPlan, now: number): void {
  // for...in, not Object.keys: no array per event; deleting the key being visited is safe.
  for (const key in state.a) {
    if (!Object.hasOwn(state.a, key)) continue;
    const aggregatePlan = plan.aggregates.get(key);
    if (aggregatePlan === undefined || !pruneAggregate(state.a[key], aggregatePlan, now)) delete state.a[key];
  }
}

/**
 * pruneAggregates for `aggregates` alone: enough when the state was pruned whole at the same
 * `now` and only these changed since (pruning is idempotent at one moment).
 */
export function pruneAggregatesOf(state: SegmentState, aggregates: readonly AggregatePlan[], now: number): void {
  for (let i = 0; i < aggregates.length; i += 1) {
    const plan = aggregates[i] as AggregatePlan;
    const aggregate = state.a[plan.key];
    if (aggregate !== undefined && !pruneAggregate(aggregate, plan, now)) delete state.a[plan.key];
  }
}
