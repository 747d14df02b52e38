/**
 * What the state must keep for a set of definitions: one aggregate per distinct event filter,
 * shared by every condition that uses that filter, sized to the largest need among them.
 */
import type { BehaviorEvent } from '../types';
import { DAY_MS, HOUR_MS, MINUTE_MS, matchesWhere, sortedWhere } from '../definitions';
import type { Condition, EventCondition, EventFilter, SegmentDefinition } from './definition';

/** How a sum aggregate buckets money; see sumGranularityMs. */
export interface SumPlan {
  granularityMs: number;
  horizonMs: number;
  /** Older buckets are dropped once the newer ones add up to more than this (no condition can tell the difference). */
  pruneAboveCents: number;
}

export interface AggregatePlan {
  key: string;
  filter: EventFilter;
  /** How many of the newest timestamps to keep (0: none). */
  timestampCap: number;
  /** Timestamps older than this (relative to now) can never matter again. */
  timestampHorizonMs: number;
  /** Keep the earliest timestamp ever seen ("first" and unbounded "never" need it). */
  keepFirst: boolean;
  sum: SumPlan | null;
}

export interface SegmentPlan {
  definitions: readonly SegmentDefinition[];
  aggregates: ReadonlyMap<string, AggregatePlan>;
  /** Aggregates to update per event type. */
  byType: ReadonlyMap<string, AggregatePlan[]>;
  /** Profile fields some condition reads, sorted. */
  profileFields: readonly string[];
  relevantTypes: ReadonlySet<string>;
}

/**
 * Bucket width of a sum window: 1 s up to 10 minutes, 1 minute below 2 hours, 1 hour below
 * 2 days, 1 day from 2 days on (UTC-aligned). A sum is exact to one bucket.
 */
export function sumGranularityMs(windowMs: number): number {
  if (windowMs <= 10 * MINUTE_MS) return 1000;
  if (windowMs < 2 * HOUR_MS) return MINUTE_MS;
  if (windowMs < 2 * DAY_MS) return HOUR_MS;
  return DAY_MS;
}

/** A stable, readable key for a filter, e.g. `purchase` or `email_click|email_open?category=shoes`. */
export function aggregateKey(filter: EventFilter): string {
  const narrowing = sortedWhere(filter.where).map(({ field, value }) => `${field}=${value}`);
  const types = filter.types.join('|');
  return narrowing.length === 0 ? types : `${types}?${narrowing.join('&')}`;
}

/** Whether an event passes a filter. */
export function matchesFilter(filter: EventFilter, event: BehaviorEvent): boolean {
  return filter.types.includes(event.type) && matchesWhere(filter.where, event);
}

function eventLeaves(condition: Condition): EventCondition[] {
  switch (condition.kind) {
    case 'all':
    case 'any':
      return condition.conditions.flatMap(eventLeaves);
    case 'not':
      return eventLeaves(condition.condition);
    case 'profile':
      return [];
    default:
      return [condition];
  }
}

function profileFieldsOf(condition: Condition): string[] {
  switch (condition.kind) {
    case 'all':
    case 'any':
      return condition.conditions.flatMap(profileFieldsOf);
    case 'not':
      return profileFieldsOf(condition.condition);
    case 'profile':
      return [condition.field];
    default:
      return [];
  }
}

function emptyAggregate(filter: EventFilter): AggregatePlan {
  return { key: aggregateKey(filter), filter, timestampCap: 0, timestampHorizonMs: 0, keepFirst: false, sum: null };
}

function needTimestamps(plan: AggregatePlan, cap: number, windowMs: number): void {
  plan.timestampCap = Math.max(plan.timestampCap, cap);
  plan.timestampHorizonMs = Math.max(plan.timestampHorizonMs, windowMs);
}

function needSum(plan: AggregatePlan, windowMs: number, thresholdCents: number): void {
  const granularityMs = sumGranularityMs(windowMs);
  const sum = plan.sum ?? { granularityMs, horizonMs: 0, pruneAboveCents: 0 };
  plan.sum = {
    granularityMs: Math.min(sum.granularityMs, granularityMs),
    horizonMs: Math.max(sum.horizonMs, windowMs),
    pruneAboveCents: Math.max(sum.pruneAboveCents, thresholdCents),
  };
}

/** Widens an aggregate so it can answer one more condition. */
function addLeaf(plan: AggregatePlan, leaf: EventCondition): void {
  switch (leaf.kind) {
    case 'count':
      // threshold + 1 newest timestamps decide every comparison with the threshold exactly.
      return needTimestamps(plan, leaf.comparison.value + 1, leaf.windowMs);
    case 'recency':
      return needTimestamps(plan, 1, leaf.windowMs);
    case 'never':
      if (leaf.windowMs === null) plan.keepFirst = true;
      else needTimestamps(plan, 1, leaf.windowMs);
      return;
    case 'first':
      plan.keepFirst = true;
      return;
    case 'sum':
      return needSum(plan, leaf.windowMs, leaf.comparison.value);
  }
}

function buildPlan(definitions: readonly SegmentDefinition[]): SegmentPlan {
  const aggregates = new Map<string, AggregatePlan>();
  for (const leaf of definitions.flatMap((definition) => eventLeaves(definition.conditions))) {
    const key = aggregateKey(leaf.filter);
    const plan = aggregates.get(key) ?? emptyAggregate(leaf.filter);
    aggregates.set(key, plan);
    addLeaf(plan, leaf);
  }
  const byType = new Map<string, AggregatePlan[]>();
  for (const plan of aggregates.values()) {
    for (const type of plan.filter.types) byType.set(type, [...(byType.get(type) ?? []), plan]);
  }
  const profileFields = [...new Set(definitions.flatMap((definition) => profileFieldsOf(definition.conditions)))].sort();
  return { definitions, aggregates, byType, profileFields, relevantTypes: new Set(byType.keys()) };
}

// Adapters pass the same parsed definitions array for every event: plan it once.
const planCache = new WeakMap<readonly SegmentDefinition[], SegmentPlan>();

/** The (cached) plan of a definitions array; treat the array as immutable once used. */
export function planFor(definitions: readonly SegmentDefinition[]): SegmentPlan {
  let plan = planCache.get(definitions);
  if (plan === undefined) {
    plan = buildPlan(definitions);
    planCache.set(definitions, plan);
  }
  return plan;
}
