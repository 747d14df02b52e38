/**
 * Evaluating a condition tree against a state at `now`: the value, a reason for people, and
 * the earliest later moment the value could flip with no new input (for the adapter's timer).
 *
 * Window rule: an entry exactly `window` ms old (time === now - window) is still inside; one
 * millisecond older is outside. So an entry at time t leaves the window at t + window + 1.
 */
import { bucketEnd } from './aggregates';
import type { Comparison, ComparisonOp, Condition, EventFilter, LeafCondition } from './definition';
import { formatAge, formatDuration, type EventField } from '../definitions';
import { aggregateKey, type SegmentPlan } from './plan';
import type { AggregateState, SegmentState, StoredProfileValue } from './state';

export interface Evaluation {
  value: boolean;
  reason: string;
  /** Earliest time > now at which `value` could change without new input, or null if never. */
  next: number | null;
}

export interface EvaluationContext {
  state: SegmentState;
  plan: SegmentPlan;
  now: number;
  /**
   * Whether to build the reasons. Without, every reason is '' and value and next are the same:
   * the engine evaluates every segment for every input, and needs a reason only where a
   * membership changes.
   */
  explain: boolean;
}

// Results without a reason that can never flip are shared (frozen), so evaluating them allocates
// nothing (about 4% of the segmenter's allocations, docs/benchmarks-history.md, "Iterator
// results in the per-event paths"). An Evaluation is only ever read.
const QUIET_TRUE: Evaluation = Object.freeze({ value: true, reason: '', next: null });
const QUIET_FALSE: Evaluation = Object.freeze({ value: false, reason: '', next: null });

/** A result without a reason (context.explain false). */
function quiet(value: boolean, next: number | null): Evaluation {
  if (next === null) return value ? QUIET_TRUE : QUIET_FALSE;
  return { value, reason: '', next };
}

const OP_SYMBOL: Record<ComparisonOp, string> = { eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' };
// Reasons are logged and published: never show these customers' values (nor definition values for them).
const PERSONAL_FIELDS = new Set(['email', 'first_name', 'last_name']);

function compare(actual: number, comparison: Comparison): boolean {
  const expected = comparison.value;
  switch (comparison.op) {
    case 'eq':
      return actual === expected;
    case 'neq':
      return actual !== expected;
    case 'gt':
      return actual > expected;
    case 'gte':
      return actual >= expected;
    case 'lt':
      return actual < expected;
    case 'lte':
      return actual <= expected;
  }
}

/** The next index from `from` whose bucket ends inside the window (buckets.length when none). */
function nextBucketInside(buckets: readonly (readonly [number, number])[], granularityMs: number, from: number, cutoff: number): number {
  let index = from;
  while (index < buckets.length && bucketEnd(buckets[index][0], granularityMs) < cutoff) index++;
  return index;
}

/**
 * When the windowed total of a sum's buckets (each at its end time, oldest first), dropping the
 * oldest first, first changes the comparison's answer; `total` is the total of those inside.
 */
function nextSumFlip(buckets: readonly (readonly [number, number])[], granularityMs: number, cutoff: number, windowMs: number, total: number, comparison: Comparison): number | null {
  const current = compare(total, comparison);
  let remaining = total;
  for (let index = nextBucketInside(buckets, granularityMs, 0, cutoff); index < buckets.length; ) {
    const time = bucketEnd(buckets[index][0], granularityMs);
    const following = nextBucketInside(buckets, granularityMs, index + 1, cutoff);
    remaining -= buckets[index][1];
    // Entries at the same millisecond leave together.
    const leavesTogether = following < buckets.length && bucketEnd(buckets[following][0], granularityMs) === time;
    if (!leavesTogether && compare(remaining, comparison) !== current) return time + windowMs + 1;
    index = following;
  }
  return null;
}

function describeComparison(comparison: Comparison): string {
  return `${OP_SYMBOL[comparison.op]} ${comparison.value}`;
}

function describeFilter(filter: EventFilter): string {
  let text = filterTexts.get(filter);
  if (text === undefined) {
    const narrowing = aggregateKey(filter).split('?')[1];
    const types = filter.types.join(' or ');
    text = narrowing === undefined ? types : `${types} [${narrowing.replace(/&/g, ', ')}]`;
    filterTexts.set(filter, text);
  }
  return text;
}

/** A filter's text in reasons, kept per (parsed, never changed) filter object, as its aggregateKey. */
const filterTexts = new WeakMap<EventFilter, string>();

// What an aggregate the state lacks reads as: shared (frozen), so a lookup allocates nothing.
const NO_AGGREGATE: AggregateState = Object.freeze({});
const NO_TIMES: readonly number[] = Object.freeze([]);
const NO_GROUPS: Readonly<Record<string, number[]>> = Object.freeze({});
const NO_BUCKETS: ReadonlyArray<readonly [number, number]> = Object.freeze([]);

function aggregateOf(context: EvaluationContext, filter: EventFilter): AggregateState {
  return context.state.a[aggregateKey(filter)] ?? NO_AGGREGATE;
}

/** How many of `times` are inside a window reaching back to `cutoff` (at or after it). */
function countInside(times: readonly number[], cutoff: number): number {
  let count = 0;
  // Indexed loops here and below: these run for every segment of every input.
  for (let index = 0; index < times.length; index++) if (times[index] >= cutoff) count++;
  return count;
}

/** The next index from `from` whose time is inside the window (times.length when none). */
function nextInside(times: readonly number[], from: number, cutoff: number): number {
  let index = from;
  while (index < times.length && times[index] < cutoff) index++;
  return index;
}

/** nextFlip for entries of weight 1, the times inside the window taken in their order, without building entries. */
function nextCountFlip(times: readonly number[], cutoff: number, windowMs: number, count: number, comparison: Comparison): number | null {
  const current = compare(count, comparison);
  let remaining = count;
  for (let index = nextInside(times, 0, cutoff); index < times.length; ) {
    const following = nextInside(times, index + 1, cutoff);
    remaining -= 1;
    // Entries at the same millisecond leave together.
    const leavesTogether = following < times.length && times[following] === times[index];
    if (!leavesTogether && compare(remaining, comparison) !== current) return times[index] + windowMs + 1;
    index = following;
  }
  return null;
}

function evaluateCount(leaf: Extract<LeafCondition, { kind: 'count' }>, context: EvaluationContext): Evaluation {
  if (leaf.groupBy !== null) return evaluateGroupedCount(leaf, leaf.groupBy, context);
  const times = aggregateOf(context, leaf.filter).t ?? NO_TIMES;
  const cutoff = context.now - leaf.windowMs;
  const count = countInside(times, cutoff);
  const value = compare(count, leaf.comparison);
  const next = nextCountFlip(times, cutoff, leaf.windowMs, count, leaf.comparison);
  if (!context.explain) return quiet(value, next);
  const cap = context.plan.aggregates.get(aggregateKey(leaf.filter))?.timestampCap ?? Infinity;
  const shown = count >= cap ? `${count} or more` : `${count}`;
  const reason = `${describeFilter(leaf.filter)} count in ${formatDuration(leaf.windowMs)} is ${shown} (${describeComparison(leaf.comparison)})`;
  return { value, reason, next };
}

/**
 * Some group's count passes (gt or gte only, see definition.ts): true until every passing group
 * has dropped below, which is when its entries leave the window; a false one needs new events.
 * Reasons name the field and the highest count, never a group value.
 */
function evaluateGroupedCount(leaf: Extract<LeafCondition, { kind: 'count' }>, field: string, context: EvaluationContext): Evaluation {
  const groups = aggregateOf(context, leaf.filter).g?.[field] ?? NO_GROUPS;
  const cutoff = context.now - leaf.windowMs;
  let highest = 0;
  let passing = 0;
  let latestFlip = Number.NEGATIVE_INFINITY;
  let passesForever = false;
  // for...in over own keys: no array of the groups per evaluation (group objects have no prototype or are plain).
  for (const key in groups) {
    if (!Object.hasOwn(groups, key)) continue;
    const times = groups[key];
    const count = countInside(times, cutoff);
    highest = Math.max(highest, count);
    if (!compare(count, leaf.comparison)) continue;
    passing += 1;
    const flip = nextCountFlip(times, cutoff, leaf.windowMs, count, leaf.comparison);
    if (flip === null) passesForever = true;
    else latestFlip = Math.max(latestFlip, flip);
  }
  let reason = '';
  if (context.explain) {
    const cap = context.plan.aggregates.get(aggregateKey(leaf.filter))?.groups.get(leaf.groupBy as EventField)?.cap ?? Infinity;
    const shown = highest >= cap ? `${highest} or more` : `${highest}`;
    reason = `highest ${describeFilter(leaf.filter)} count in ${formatDuration(leaf.windowMs)} for one ${field} is ${shown} (${describeComparison(leaf.comparison)})`;
  }
  const next = passing === 0 || passesForever ? null : latestFlip;
  return context.explain ? { value: passing > 0, reason, next } : quiet(passing > 0, next);
}

function evaluateSum(leaf: Extract<LeafCondition, { kind: 'sum' }>, context: EvaluationContext): Evaluation {
  const sum = aggregateOf(context, leaf.filter).s;
  const buckets = sum?.b ?? NO_BUCKETS;
  const granularityMs = sum?.g ?? 1;
  const cutoff = context.now - leaf.windowMs;
  let cents = 0;
  for (let i = 0; i < buckets.length; i++) if (bucketEnd(buckets[i][0], granularityMs) >= cutoff) cents += buckets[i][1];
  const value = compare(cents, leaf.comparison);
  const next = nextSumFlip(buckets, granularityMs, cutoff, leaf.windowMs, cents, leaf.comparison);
  if (!context.explain) return quiet(value, next);
  const pruneAbove = context.plan.aggregates.get(aggregateKey(leaf.filter))?.sum?.pruneAboveCents ?? Infinity;
  const shown = cents > pruneAbove ? `at least ${cents}` : `${cents}`;
  const reason = `${describeFilter(leaf.filter)} value in ${formatDuration(leaf.windowMs)} is ${shown} cents (${describeComparison(leaf.comparison)})`;
  return { value, reason, next };
}

/** The newest matching event inside the window, if any. */
function latestWithin(context: EvaluationContext, filter: EventFilter, windowMs: number): number | null {
  const times = aggregateOf(context, filter).t ?? NO_TIMES;
  const latest = times[times.length - 1];
  return latest !== undefined && latest >= context.now - windowMs ? latest : null;
}

function evaluateRecency(leaf: Extract<LeafCondition, { kind: 'recency' }>, context: EvaluationContext): Evaluation {
  const latest = latestWithin(context, leaf.filter, leaf.windowMs);
  const value = latest !== null;
  const next = latest === null ? null : latest + leaf.windowMs + 1;
  if (!context.explain) return quiet(value, next);
  const window = formatDuration(leaf.windowMs);
  const what = describeFilter(leaf.filter);
  const reason = latest === null ? `no ${what} within ${window}` : `last ${what} ${formatAge(context.now - latest)} ago (within ${window})`;
  return { value, reason, next };
}

function evaluateNever(leaf: Extract<LeafCondition, { kind: 'never' }>, context: EvaluationContext): Evaluation {
  if (leaf.windowMs === null) {
    const ever = aggregateOf(context, leaf.filter).f !== undefined;
    if (!context.explain) return quiet(!ever, null);
    const what = describeFilter(leaf.filter);
    return { value: !ever, reason: ever ? `${what} seen before` : `never ${what}`, next: null };
  }
  const latest = latestWithin(context, leaf.filter, leaf.windowMs);
  const value = latest === null;
  const next = latest === null ? null : latest + leaf.windowMs + 1;
  if (!context.explain) return quiet(value, next);
  const what = describeFilter(leaf.filter);
  const window = formatDuration(leaf.windowMs);
  const reason = latest === null ? `no ${what} within ${window}` : `last ${what} ${formatAge(context.now - latest)} ago (within ${window})`;
  return { value, reason, next };
}

function evaluateFirst(leaf: Extract<LeafCondition, { kind: 'first' }>, context: EvaluationContext): Evaluation {
  const first = aggregateOf(context, leaf.filter).f;
  if (first === undefined) return context.explain ? { value: false, reason: `no ${describeFilter(leaf.filter)} yet`, next: null } : QUIET_FALSE;
  const value = first >= context.now - leaf.windowMs;
  if (!context.explain) return quiet(value, value ? first + leaf.windowMs + 1 : null);
  const what = describeFilter(leaf.filter);
  const window = formatDuration(leaf.windowMs);
  const reason = `first ${what} ${formatAge(context.now - first)} ago (${value ? '' : 'not '}within ${window})`;
  return { value, reason, next: value ? first + leaf.windowMs + 1 : null };
}

/**
 * Some event of the filter at most `windowMs` and at least `forMs` old with no cancelling event
 * at or after it. The witness is the newest such event; the condition ends when the newest
 * uncancelled event leaves the window, and begins when the oldest younger one reaches `forMs`.
 */
function evaluateAbsence(leaf: Extract<LeafCondition, { kind: 'absence' }>, context: EvaluationContext): Evaluation {
  const { now } = context;
  const cancelledAt = (aggregateOf(context, leaf.cancelledBy).t ?? NO_TIMES).at(-1) ?? Number.NEGATIVE_INFINITY;
  const times = aggregateOf(context, leaf.filter).t ?? NO_TIMES;
  // The open events (in the window, after the last cancel) in their stored order, without a list of them.
  const windowStart = now - leaf.windowMs;
  let firstOpen: number | undefined;
  let witness: number | undefined;
  for (let index = 0; index < times.length; index++) {
    const time = times[index];
    if (time <= cancelledAt || time < windowStart) continue;
    firstOpen ??= time;
    if (time <= now - leaf.forMs) witness = time;
  }
  let next: number | null;
  if (witness !== undefined) {
    // Each event is a witness from `for` after it until it leaves the window; true lasts while these spans chain.
    let end = Number.NEGATIVE_INFINITY;
    for (let index = 0; index < times.length; index++) {
      const time = times[index];
      if (time <= cancelledAt || time < windowStart) continue;
      if (time + leaf.forMs > Math.max(now, end + 1)) break;
      end = Math.max(end, time + leaf.windowMs);
    }
    next = end + 1;
  } else next = firstOpen !== undefined ? firstOpen + leaf.forMs : null;
  const value = witness !== undefined;
  if (!context.explain) return quiet(value, next);
  const what = describeFilter(leaf.filter);
  const cancel = describeFilter(leaf.cancelledBy);
  let reason: string;
  if (witness !== undefined) reason = `${what} ${formatAge(now - witness)} ago with no ${cancel} since (within ${formatDuration(leaf.windowMs)})`;
  else if (firstOpen !== undefined) reason = `${what} ${formatAge(now - firstOpen)} ago, not yet ${formatDuration(leaf.forMs)} old`;
  else reason = `no ${what} without a ${cancel} since, within ${formatDuration(leaf.windowMs)}`;
  return { value, reason, next };
}

function isNumeric(value: StoredProfileValue | number): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
}

/** Negative, zero or positive like a comparator: numerically when both sides are numbers, else as text. */
function order(actual: StoredProfileValue, expected: string | number | boolean): number {
  if (isNumeric(actual) && typeof expected !== 'boolean' && isNumeric(expected)) return Number(actual) - Number(expected);
  const [left, right] = [String(actual), String(expected)];
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Profile test; an empty field satisfies only neq, not_in and not_exists. */
function testProfile(actual: StoredProfileValue | undefined, leaf: Extract<LeafCondition, { kind: 'profile' }>): boolean {
  const [expected] = leaf.values;
  if (actual === undefined) return leaf.op === 'neq' || leaf.op === 'not_in' || leaf.op === 'not_exists';
  switch (leaf.op) {
    case 'exists':
      return true;
    case 'not_exists':
      return false;
    case 'in':
      return leaf.values.some((value) => order(actual, value) === 0);
    case 'not_in':
      return !leaf.values.some((value) => order(actual, value) === 0);
    case 'eq':
      return order(actual, expected) === 0;
    case 'neq':
      return order(actual, expected) !== 0;
    case 'gt':
      return order(actual, expected) > 0;
    case 'gte':
      return order(actual, expected) >= 0;
    case 'lt':
      return order(actual, expected) < 0;
    case 'lte':
      return order(actual, expected) <= 0;
  }
}

function evaluateProfile(leaf: Extract<LeafCondition, { kind: 'profile' }>, context: EvaluationContext): Evaluation {
  const value = testProfile(context.state.p?.[leaf.field], leaf);
  if (!context.explain) return quiet(value, null);
  const shownValues = PERSONAL_FIELDS.has(leaf.field) ? '(hidden)' : leaf.values.join(', ');
  const listed = leaf.op === 'in' || leaf.op === 'not_in' ? `[${shownValues}]` : shownValues;
  const test = leaf.values.length === 0 ? leaf.op : `${leaf.op} ${listed}`;
  return { value, reason: `${value ? '' : 'not: '}${leaf.field} ${test}`, next: null };
}

/**
 * `all` (every child true) or `any` (some child true). A decisive child is one whose value alone
 * decides the whole: a false child of `all`, a true child of `any`. With none, the whole can
 * flip at the earliest child's flip; with some, only once every decisive child has flipped (never
 * if one of them never does). The reason lists the decisive children, or all when there is none.
 */
function evaluateJunction(conditions: readonly Condition[], context: EvaluationContext, all: boolean): Evaluation {
  const decisiveValue = !all;
  let decisive = 0;
  let soonest: number | null = null;
  let latestDecisive = Number.NEGATIVE_INFINITY;
  let decisiveNever = false;
  // Reasons are gathered only when explaining: evaluating without them allocates no lists.
  const decisiveReasons: string[] | null = context.explain ? [] : null;
  const otherReasons: string[] | null = context.explain ? [] : null;
  for (let i = 0; i < conditions.length; i += 1) {
    const child = evaluateCondition(conditions[i] as Condition, context);
    if (child.next !== null && (soonest === null || child.next < soonest)) soonest = child.next;
    if (child.value === decisiveValue) {
      decisive += 1;
      if (child.next === null) decisiveNever = true;
      else latestDecisive = Math.max(latestDecisive, child.next);
      decisiveReasons?.push(child.reason);
    } else otherReasons?.push(child.reason);
  }
  if (decisive === 0) return otherReasons === null ? quiet(all, soonest) : { value: all, reason: otherReasons.join('; '), next: soonest };
  const next = decisiveNever ? null : latestDecisive;
  return decisiveReasons === null ? quiet(!all, next) : { value: !all, reason: decisiveReasons.join('; '), next };
}

/** Evaluates a condition tree at context.now. */
export function evaluateCondition(condition: Condition, context: EvaluationContext): Evaluation {
  switch (condition.kind) {
    case 'all':
      return evaluateJunction(condition.conditions, context, true);
    case 'any':
      return evaluateJunction(condition.conditions, context, false);
    case 'not': {
      const child = evaluateCondition(condition.condition, context);
      return context.explain ? { value: !child.value, reason: `not (${child.reason})`, next: child.next } : quiet(!child.value, child.next);
    }
    case 'profile':
      return evaluateProfile(condition, context);
    case 'count':
      return evaluateCount(condition, context);
    case 'sum':
      return evaluateSum(condition, context);
    case 'recency':
      return evaluateRecency(condition, context);
    case 'never':
      return evaluateNever(condition, context);
    case 'first':
      return evaluateFirst(condition, context);
    case 'absence':
      return evaluateAbsence(condition, context);
  }
}
