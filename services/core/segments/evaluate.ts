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

interface EvaluationContext {
  state: SegmentState;
  plan: SegmentPlan;
  now: number;
}

interface WeightedTime {
  time: number;
  weight: number;
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

function inWindow(entries: readonly WeightedTime[], windowMs: number, now: number): WeightedTime[] {
  return entries.filter((entry) => entry.time >= now - windowMs);
}

function total(entries: readonly WeightedTime[]): number {
  return entries.reduce((sum, entry) => sum + entry.weight, 0);
}

/** When the windowed total, dropping oldest entries first, first makes `decide` change its answer. */
function nextFlip(inside: readonly WeightedTime[], windowMs: number, decide: (total: number) => boolean): number | null {
  const current = decide(total(inside));
  let remaining = total(inside);
  for (let i = 0; i < inside.length; i++) {
    remaining -= inside[i].weight;
    // Entries at the same millisecond leave together.
    if (i + 1 < inside.length && inside[i + 1].time === inside[i].time) continue;
    if (decide(remaining) !== current) return inside[i].time + windowMs + 1;
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

function aggregateOf(context: EvaluationContext, filter: EventFilter): AggregateState {
  return context.state.a[aggregateKey(filter)] ?? {};
}

function timestampsOf(context: EvaluationContext, filter: EventFilter): WeightedTime[] {
  return (aggregateOf(context, filter).t ?? []).map((time) => ({ time, weight: 1 }));
}

function evaluateCount(leaf: Extract<LeafCondition, { kind: 'count' }>, context: EvaluationContext): Evaluation {
  if (leaf.groupBy !== null) return evaluateGroupedCount(leaf, leaf.groupBy, context);
  const inside = inWindow(timestampsOf(context, leaf.filter), leaf.windowMs, context.now);
  const cap = context.plan.aggregates.get(aggregateKey(leaf.filter))?.timestampCap ?? Infinity;
  const decide = (count: number) => compare(count, leaf.comparison);
  const count = inside.length;
  const shown = count >= cap ? `${count} or more` : `${count}`;
  const reason = `${describeFilter(leaf.filter)} count in ${formatDuration(leaf.windowMs)} is ${shown} (${describeComparison(leaf.comparison)})`;
  return { value: decide(count), reason, next: nextFlip(inside, leaf.windowMs, decide) };
}

/**
 * Some group's count passes (gt or gte only, see definition.ts): true until every passing group
 * has dropped below, which is when its entries leave the window; a false one needs new events.
 * Reasons name the field and the highest count, never a group value.
 */
function evaluateGroupedCount(leaf: Extract<LeafCondition, { kind: 'count' }>, field: string, context: EvaluationContext): Evaluation {
  const groups = aggregateOf(context, leaf.filter).g?.[field] ?? {};
  const decide = (count: number) => compare(count, leaf.comparison);
  let highest = 0;
  const passingFlips: Array<number | null> = [];
  for (const times of Object.values(groups)) {
    const inside = inWindow(times.map((time) => ({ time, weight: 1 })), leaf.windowMs, context.now);
    highest = Math.max(highest, inside.length);
    if (decide(inside.length)) passingFlips.push(nextFlip(inside, leaf.windowMs, decide));
  }
  const cap = context.plan.aggregates.get(aggregateKey(leaf.filter))?.groups.get(leaf.groupBy as EventField)?.cap ?? Infinity;
  const shown = highest >= cap ? `${highest} or more` : `${highest}`;
  const reason = `highest ${describeFilter(leaf.filter)} count in ${formatDuration(leaf.windowMs)} for one ${field} is ${shown} (${describeComparison(leaf.comparison)})`;
  if (passingFlips.length === 0) return { value: false, reason, next: null };
  return { value: true, reason, next: latestOfAll(passingFlips) };
}

function evaluateSum(leaf: Extract<LeafCondition, { kind: 'sum' }>, context: EvaluationContext): Evaluation {
  const sum = aggregateOf(context, leaf.filter).s;
  const entries = (sum?.b ?? []).map(([index, cents]) => ({ time: bucketEnd(index, sum?.g ?? 1), weight: cents }));
  const inside = inWindow(entries, leaf.windowMs, context.now);
  const decide = (cents: number) => compare(cents, leaf.comparison);
  const cents = total(inside);
  const pruneAbove = context.plan.aggregates.get(aggregateKey(leaf.filter))?.sum?.pruneAboveCents ?? Infinity;
  const shown = cents > pruneAbove ? `at least ${cents}` : `${cents}`;
  const reason = `${describeFilter(leaf.filter)} value in ${formatDuration(leaf.windowMs)} is ${shown} cents (${describeComparison(leaf.comparison)})`;
  return { value: decide(cents), reason, next: nextFlip(inside, leaf.windowMs, decide) };
}

/** The newest matching event inside the window, if any. */
function latestWithin(context: EvaluationContext, filter: EventFilter, windowMs: number): number | null {
  const times = aggregateOf(context, filter).t ?? [];
  const latest = times[times.length - 1];
  return latest !== undefined && latest >= context.now - windowMs ? latest : null;
}

function evaluateRecency(leaf: Extract<LeafCondition, { kind: 'recency' }>, context: EvaluationContext): Evaluation {
  const latest = latestWithin(context, leaf.filter, leaf.windowMs);
  const window = formatDuration(leaf.windowMs);
  if (latest === null) return { value: false, reason: `no ${describeFilter(leaf.filter)} within ${window}`, next: null };
  const reason = `last ${describeFilter(leaf.filter)} ${formatAge(context.now - latest)} ago (within ${window})`;
  return { value: true, reason, next: latest + leaf.windowMs + 1 };
}

function evaluateNever(leaf: Extract<LeafCondition, { kind: 'never' }>, context: EvaluationContext): Evaluation {
  const what = describeFilter(leaf.filter);
  if (leaf.windowMs === null) {
    const ever = aggregateOf(context, leaf.filter).f !== undefined;
    return { value: !ever, reason: ever ? `${what} seen before` : `never ${what}`, next: null };
  }
  const latest = latestWithin(context, leaf.filter, leaf.windowMs);
  const window = formatDuration(leaf.windowMs);
  if (latest === null) return { value: true, reason: `no ${what} within ${window}`, next: null };
  const reason = `last ${what} ${formatAge(context.now - latest)} ago (within ${window})`;
  return { value: false, reason, next: latest + leaf.windowMs + 1 };
}

function evaluateFirst(leaf: Extract<LeafCondition, { kind: 'first' }>, context: EvaluationContext): Evaluation {
  const first = aggregateOf(context, leaf.filter).f;
  const what = describeFilter(leaf.filter);
  const window = formatDuration(leaf.windowMs);
  if (first === undefined) return { value: false, reason: `no ${what} yet`, next: null };
  const value = first >= context.now - leaf.windowMs;
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
  const cancelledAt = (aggregateOf(context, leaf.cancelledBy).t ?? []).at(-1) ?? Number.NEGATIVE_INFINITY;
  const open = (aggregateOf(context, leaf.filter).t ?? []).filter((time) => time > cancelledAt && time >= now - leaf.windowMs);
  const what = describeFilter(leaf.filter);
  const cancel = describeFilter(leaf.cancelledBy);
  const waited = open.filter((time) => time <= now - leaf.forMs);
  if (waited.length > 0) {
    const witness = waited[waited.length - 1];
    const reason = `${what} ${formatAge(now - witness)} ago with no ${cancel} since (within ${formatDuration(leaf.windowMs)})`;
    // Each event is a witness from `for` after it until it leaves the window; true lasts while these spans chain.
    let end = Number.NEGATIVE_INFINITY;
    for (const time of open) {
      if (time + leaf.forMs > Math.max(now, end + 1)) break;
      end = Math.max(end, time + leaf.windowMs);
    }
    return { value: true, reason, next: end + 1 };
  }
  const waiting = open.length > 0;
  const reason = waiting
    ? `${what} ${formatAge(now - open[0])} ago, not yet ${formatDuration(leaf.forMs)} old`
    : `no ${what} without a ${cancel} since, within ${formatDuration(leaf.windowMs)}`;
  return { value: false, reason, next: waiting ? open[0] + leaf.forMs : null };
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
  const shownValues = PERSONAL_FIELDS.has(leaf.field) ? '(hidden)' : leaf.values.join(', ');
  const listed = leaf.op === 'in' || leaf.op === 'not_in' ? `[${shownValues}]` : shownValues;
  const test = leaf.values.length === 0 ? leaf.op : `${leaf.op} ${listed}`;
  return { value, reason: `${value ? '' : 'not: '}${leaf.field} ${test}`, next: null };
}

function earliest(times: Array<number | null>): number | null {
  const known = times.filter((time): time is number => time !== null);
  return known.length === 0 ? null : Math.min(...known);
}

/** The moment all of these could have flipped: never if one of them never flips. */
function latestOfAll(times: Array<number | null>): number | null {
  return times.some((time) => time === null) ? null : Math.max(...(times as number[]));
}

function evaluateAll(children: Evaluation[]): Evaluation {
  const failing = children.filter((child) => !child.value);
  if (failing.length === 0) {
    return { value: true, reason: children.map((child) => child.reason).join('; '), next: earliest(children.map((child) => child.next)) };
  }
  // Only when every failing child has flipped can the whole become true.
  return { value: false, reason: failing.map((child) => child.reason).join('; '), next: latestOfAll(failing.map((child) => child.next)) };
}

function evaluateAny(children: Evaluation[]): Evaluation {
  const passing = children.filter((child) => child.value);
  if (passing.length === 0) {
    return { value: false, reason: children.map((child) => child.reason).join('; '), next: earliest(children.map((child) => child.next)) };
  }
  return { value: true, reason: passing.map((child) => child.reason).join('; '), next: latestOfAll(passing.map((child) => child.next)) };
}

/** Evaluates a condition tree at context.now. */
export function evaluateCondition(condition: Condition, context: EvaluationContext): Evaluation {
  switch (condition.kind) {
    case 'all':
      return evaluateAll(condition.conditions.map((child) => evaluateCondition(child, context)));
    case 'any':
      return evaluateAny(condition.conditions.map((child) => evaluateCondition(child, context)));
    case 'not': {
      const child = evaluateCondition(condition.condition, context);
      return { value: !child.value, reason: `not (${child.reason})`, next: child.next };
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
