/**
 * What the state must keep for a set of definitions: one aggregate per distinct event filter,
 * shared by every condition that uses that filter, sized to the largest need among them.
 */
import type { BehaviorEvent } from '../types';
import { DAY_MS, HOUR_MS, MINUTE_MS, matchesWhere, sortedWhere, type EventField } from '../definitions';
import type { Condition, EventCondition, EventFilter, SegmentDefinition } from './definition';
import { FACT_EVENT_TYPES, FACT_PURCHASE_CAP, FACT_PURCHASE_HORIZON_MS, PURCHASE_FILTER } from './facts';

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
  /**
   * Besides the newest `timestampCap`, keep the newest timestamp at least this old, for each age
   * (an absence condition's witness: its `for`), so a burst of newer events cannot push it out.
   */
  witnessAgesMs: number[];
  /** Keep the earliest timestamp ever seen ("first" and unbounded "never" need it). */
  keepFirst: boolean;
  sum: SumPlan | null;
  /** Grouped counts by event field: per group value, the newest `cap` timestamps within `horizonMs`. */
  groups: Map<EventField, GroupPlan>;
  /** The keys of `groups`, in its order: the engine walks them per event without a Map iterator. */
  groupFields: EventField[];
}

export interface GroupPlan {
  cap: number;
  horizonMs: number;
}

/**
 * Groups (e.g. products) a grouped count keeps per customer and field: the most recently active
 * by event time, as the trigger service's threshold rules keep 50. A group pushed out starts
 * again from zero when it becomes active again.
 */
export const MAX_GROUPS = 50;

/**
 * Timestamps an absence condition keeps of its event, besides the witness (witnessAgesMs):
 * exact while fewer adds than this fall within one `for`; beyond, entry comes later, never earlier.
 */
export const ABSENCE_TIMESTAMPS = 4;

export interface SegmentPlan {
  definitions: readonly SegmentDefinition[];
  aggregates: ReadonlyMap<string, AggregatePlan>;
  /** Aggregates to update per event type. */
  byType: ReadonlyMap<string, AggregatePlan[]>;
  /** Profile fields some condition reads, sorted. */
  profileFields: readonly string[];
  relevantTypes: ReadonlySet<string>;
  /** The definitions' names. */
  segmentNames: ReadonlySet<string>;
  /**
   * Per definition (same order), the aggregates its conditions read: a change to no other can
   * change its value or its next flip at a given moment. Profile fields change only with a
   * profile, after which the engine evaluates every segment.
   */
  segmentInputs: ReadonlyArray<readonly string[]>;
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
  let key = aggregateKeys.get(filter);
  if (key === undefined) {
    const narrowing = sortedWhere(filter.where).map(({ field, value }) => `${field}=${value}`);
    const types = filter.types.join('|');
    key = narrowing.length === 0 ? types : `${types}?${narrowing.join('&')}`;
    aggregateKeys.set(filter, key);
  }
  return key;
}

/**
 * Filters are parsed once and never changed, and every evaluation asks for their keys: kept per
 * filter object (it took 4% of the segmenter's CPU to build them again).
 */
const aggregateKeys = new WeakMap<EventFilter, string>();

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

/** The keys of the aggregates a condition reads (an absence also its cancelling events'). */
function aggregateKeysRead(condition: Condition): string[] {
  const keys = eventLeaves(condition).flatMap((leaf) => (leaf.kind === 'absence' ? [aggregateKey(leaf.filter), aggregateKey(leaf.cancelledBy)] : [aggregateKey(leaf.filter)]));
  return [...new Set(keys)];
}

function emptyAggregate(filter: EventFilter): AggregatePlan {
  return { key: aggregateKey(filter), filter, timestampCap: 0, timestampHorizonMs: 0, witnessAgesMs: [], keepFirst: false, sum: null, groups: new Map(), groupFields: [] };
}

function aggregateFor(aggregates: Map<string, AggregatePlan>, filter: EventFilter): AggregatePlan {
  const key = aggregateKey(filter);
  const plan = aggregates.get(key) ?? emptyAggregate(filter);
  aggregates.set(key, plan);
  return plan;
}

function needGroups(plan: AggregatePlan, field: EventField, cap: number, windowMs: number): void {
  const group = plan.groups.get(field) ?? { cap: 0, horizonMs: 0 };
  if (!plan.groups.has(field)) plan.groupFields.push(field);
  plan.groups.set(field, { cap: Math.max(group.cap, cap), horizonMs: Math.max(group.horizonMs, windowMs) });
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

/** Widens the aggregates so they can answer one more condition. */
function addLeaf(aggregates: Map<string, AggregatePlan>, leaf: EventCondition): void {
  const plan = aggregateFor(aggregates, leaf.filter);
  switch (leaf.kind) {
    case 'count':
      // threshold + 1 newest timestamps decide every comparison with the threshold exactly.
      if (leaf.groupBy !== null) return needGroups(plan, leaf.groupBy, leaf.comparison.value + 1, leaf.windowMs);
      return needTimestamps(plan, leaf.comparison.value + 1, leaf.windowMs);
    case 'absence':
      // The newest cancelling event decides which of these events still count.
      needTimestamps(aggregateFor(aggregates, leaf.cancelledBy), 1, leaf.windowMs);
      needTimestamps(plan, ABSENCE_TIMESTAMPS, leaf.windowMs);
      if (leaf.forMs > 0 && !plan.witnessAgesMs.includes(leaf.forMs)) plan.witnessAgesMs.push(leaf.forMs);
      return;
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
  for (const leaf of definitions.flatMap((definition) => eventLeaves(definition.conditions))) addLeaf(aggregates, leaf);
  // The facts templates see (facts.ts) count purchases in 30 and 90 days, whatever the segments.
  needTimestamps(aggregateFor(aggregates, PURCHASE_FILTER), FACT_PURCHASE_CAP, FACT_PURCHASE_HORIZON_MS);
  const byType = new Map<string, AggregatePlan[]>();
  for (const plan of aggregates.values()) {
    for (const type of plan.filter.types) byType.set(type, [...(byType.get(type) ?? []), plan]);
  }
  const profileFields = [...new Set(definitions.flatMap((definition) => profileFieldsOf(definition.conditions)))].sort();
  return {
    definitions,
    aggregates,
    byType,
    profileFields,
    relevantTypes: new Set([...byType.keys(), ...FACT_EVENT_TYPES]),
    segmentNames: new Set(definitions.map((segment) => segment.name)),
    segmentInputs: definitions.map((definition) => aggregateKeysRead(definition.conditions)),
  };
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
