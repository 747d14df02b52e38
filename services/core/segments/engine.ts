/**
 * The pure segment engine: (state, input, definitions, now) -> (new state, changes, triggers,
 * next wake-up). No I/O and no clock: adapters pass `now` (epoch ms, the service clock), read the
 * state before and write everything returned atomically after.
 */
import { triggerId } from '../ids';
import { isKnownEventType, type BehaviorEvent, type CustomerProfile, type SegmentChange, type TriggerFired } from '../types';
import { pruneAggregates, pruneAggregatesOf, recordEvent } from './aggregates';
import type { SegmentDefinition } from './definition';
import { evaluateCondition } from './evaluate';
import { nextFacts, noFacts } from './facts';
import { matchesFilter, planFor, type AggregatePlan, type SegmentPlan } from './plan';
import {
  cloneState,
  emptyState,
  eventIdHash,
  isEmptyState,
  rememberEventId,
  type SegmentState,
  type StoredProfileValue,
} from './state';

/** Why an input changed nothing (the adapter counts these in metrics). */
export type IgnoredReason = 'unknown_type' | 'irrelevant' | 'duplicate' | 'stale_profile';

export interface SegmentResult {
  /** The state to store; null means delete the customer's state. */
  state: SegmentState | null;
  changes: SegmentChange[];
  triggers: TriggerFired[];
  /** When to call reevaluate next (epoch ms), or null for no timer. */
  wakeAt: number | null;
  ignored: IgnoredReason | null;
}

/** What caused an evaluation; it names the triggers' discriminator so replays give the same trigger_id. */
type Cause =
  | { kind: 'event'; event: BehaviorEvent }
  | { kind: 'profile'; updatedAt: number }
  | { kind: 'timer'; dueAt: number };

/** Prefix of the rule of a segment-entry trigger: `segment:<name>`. */
export const SEGMENT_RULE_PREFIX = 'segment:';

function unchanged(state: SegmentState | null, ignored: IgnoredReason | null): SegmentResult {
  return { state, changes: [], triggers: [], wakeAt: state?.w ?? null, ignored };
}

/**
 * How a function of the engine may treat the state it is given. By default it never changes
 * it (it works on a copy). `handOver: true` gives the state to the engine: it is changed in
 * place and must not be used again except as the result's state. The segmenter hands over the
 * states it decoded for a batch, so a customer's state is not copied once per event.
 */
export interface StateUse {
  handOver?: boolean;
  /**
   * With handOver: the customer's SegmentEvaluations, kept by the caller from one input to the
   * next at the same `now`, so an event evaluates again only the segments it can have changed.
   */
  evaluations?: SegmentEvaluations;
}

function requireCustomer(state: SegmentState | null, customerId: string, use: StateUse): SegmentState {
  if (state === null) return emptyState(customerId);
  // A state under the wrong key is an adapter bug; going on would mix two customers' data.
  if (state.c !== customerId) throw new Error(`segment state belongs to another customer than the input`);
  return use.handOver === true ? state : cloneState(state);
}

function discriminator(cause: Cause): string {
  if (cause.kind === 'event') return `event:${cause.event.event_id}`;
  if (cause.kind === 'profile') return `profile:${cause.updatedAt}`;
  return `timer:${cause.dueAt}`;
}

function entryContext(segment: SegmentDefinition, reason: string, cause: Cause, now: number): Record<string, string> {
  const context: Record<string, string> = { segment: segment.name, reason, cause: cause.kind, entered_at: String(now) };
  if (segment.description !== null) context.segment_description = segment.description;
  if (cause.kind === 'event') {
    context.event_type = cause.event.type;
    if (cause.event.product_id !== null) context.product_id = cause.event.product_id;
    if (cause.event.category !== null) context.category = cause.event.category;
    if (cause.event.order_id !== null) context.order_id = cause.event.order_id;
  }
  return context;
}

function entryTrigger(state: SegmentState, segment: SegmentDefinition, reason: string, cause: Cause, now: number): TriggerFired {
  const rule = `${SEGMENT_RULE_PREFIX}${segment.name}`;
  return {
    trigger_id: triggerId(rule, state.c, discriminator(cause)),
    rule,
    customer_id: state.c,
    fired_at: now,
    cause_event_id: cause.kind === 'event' ? cause.event.event_id : null,
    context: entryContext(segment, reason, cause, now),
  };
}

function change(state: SegmentState, segment: string, kind: SegmentChange['change'], reason: string, now: number): SegmentChange {
  return { customer_id: state.c, segment, change: kind, at: now, reason };
}

/**
 * Every segment's value and next flip as the last settle of one state found them, at `now` under
 * `plan`: scratch a caller keeps per customer while it hands that customer's state from input to
 * input at one moment (the segmenter, within a batch; StateUse.evaluations). An event that
 * changed some aggregates then leaves the segments that read none of them as they were, and only
 * the others are evaluated again (and only those aggregates pruned again). Another state object
 * (a copy, a fresh decode, a new empty state), another moment or another plan starts over.
 */
export class SegmentEvaluations {
  state: SegmentState | null = null;
  plan: SegmentPlan | null = null;
  now = Number.NaN;
  readonly values: boolean[] = [];
  readonly nexts: Array<number | null> = [];
}

/** For callers that keep none: every segment is evaluated (settle is synchronous, so one will do). */
const UNKEPT = new SegmentEvaluations();

/**
 * Sorts a few names in place, as Array.prototype.sort would (UTF-16 code unit order) but
 * without the copy it makes of every array it sorts.
 */
function sortNames(names: string[]): void {
  for (let i = 1; i < names.length; i += 1) {
    const name = names[i] as string;
    let j = i - 1;
    for (; j >= 0 && (names[j] as string) > name; j -= 1) names[j + 1] = names[j] as string;
    names[j + 1] = name;
  }
}

/** Whether a segment reads one of the aggregates an event changed. */
function readsAny(inputs: readonly string[], changed: readonly AggregatePlan[]): boolean {
  for (let i = 0; i < changed.length; i += 1) if (inputs.includes((changed[i] as AggregatePlan).key)) return true;
  return false;
}

/**
 * Trims the state, re-evaluates the segments at `now` and reports what changed. `changed`: the
 * aggregates the input changed, when it changed nothing else a condition reads (an event);
 * null evaluates every segment.
 */
function settle(state: SegmentState, plan: SegmentPlan, now: number, cause: Cause, changed: readonly AggregatePlan[] | null, use: StateUse): SegmentResult {
  const settled = use.evaluations ?? UNKEPT;
  const known = changed !== null && settled !== UNKEPT && settled.state === state && settled.plan === plan && settled.now === now;
  // The last settle of this state pruned all of it at this moment: only what the input changed can have more to drop.
  if (known) pruneAggregatesOf(state, changed, now);
  else pruneAggregates(state, plan, now);
  // A few names at most: looking through the list costs less than hashing them into a set.
  const before = state.m;
  const members: string[] = [];
  const changes: SegmentChange[] = [];
  const triggers: TriggerFired[] = [];
  let wakeAt: number | null = null;
  const quiet = { state, plan, now, explain: false };
  if (!known) {
    settled.state = settled === UNKEPT ? null : state;
    settled.plan = plan;
    settled.now = now;
  }
  for (let index = 0; index < plan.definitions.length; index += 1) {
    const segment = plan.definitions[index] as SegmentDefinition;
    if (!known || readsAny(plan.segmentInputs[index] as readonly string[], changed)) {
      const evaluation = evaluateCondition(segment.conditions, quiet);
      settled.values[index] = evaluation.value;
      settled.nexts[index] = evaluation.next;
    }
    const value = settled.values[index] as boolean;
    const next = settled.nexts[index] as number | null;
    if (next !== null && (wakeAt === null || next < wakeAt)) wakeAt = next;
    if (value) members.push(segment.name);
    if (value === before.includes(segment.name)) continue;
    // A membership changes: only now is the reason worth its text (same value, same state).
    const { reason } = evaluateCondition(segment.conditions, { ...quiet, explain: true });
    if (value) {
      changes.push(change(state, segment.name, 'entered', reason, now));
      if (segment.triggerOnEntry) triggers.push(entryTrigger(state, segment, reason, cause, now));
    } else changes.push(change(state, segment.name, 'exited', reason, now));
  }
  for (let i = 0; i < before.length; i += 1) {
    const name = before[i] as string;
    if (!plan.segmentNames.has(name)) changes.push(change(state, name, 'exited', 'segment no longer defined', now));
  }
  sortNames(members);
  state.m = members;
  if (wakeAt === null) delete state.w;
  else state.w = wakeAt;
  return { state: isEmptyState(state) ? null : state, changes, triggers, wakeAt, ignored: null };
}

const NO_AGGREGATES: readonly AggregatePlan[] = Object.freeze([]);

/**
 * The aggregates `event` counts in: the plan's list for its type itself when every one of them
 * takes it (their `where` matches), so that most events copy no list.
 */
function targetsOf(plan: SegmentPlan, event: BehaviorEvent): readonly AggregatePlan[] {
  const candidates = plan.byType.get(event.type) ?? NO_AGGREGATES;
  for (let i = 0; i < candidates.length; i += 1) {
    if (!matchesFilter((candidates[i] as AggregatePlan).filter, event)) return candidates.filter((aggregate) => matchesFilter(aggregate.filter, event));
  }
  return candidates;
}

/**
 * Applies one behavior event. Event times later than `now` count as `now`; events that arrive
 * out of order are placed at their event time. Unknown or irrelevant types and re-delivered
 * event_ids (among the last few applied) change nothing and say so in `ignored`.
 */
export function applyEvent(
  state: SegmentState | null,
  event: BehaviorEvent,
  definitions: readonly SegmentDefinition[],
  now: number,
  use: StateUse = {},
): SegmentResult {
  const plan = planFor(definitions);
  if (!isKnownEventType(event.type)) return unchanged(state, 'unknown_type');
  // Defence in depth: the consumer runner dead-letters times beyond MAX_CLOCK_SKEW, but one
  // within it (a producer clock a little fast) must still not land after `now` in a window.
  const at = Math.min(event.occurred_at, now);
  const targets = targetsOf(plan, event);
  const facts = nextFacts(state?.x, event, at);
  if (targets.length === 0 && facts === null) return unchanged(state, 'irrelevant');
  const hash = eventIdHash(event.event_id);
  if (state !== null && state.d.includes(hash)) return unchanged(state, 'duplicate');
  const next = requireCustomer(state, event.customer_id, use);
  for (let i = 0; i < targets.length; i += 1) {
    const aggregate = targets[i] as AggregatePlan;
    next.a[aggregate.key] ??= {};
    recordEvent(next.a[aggregate.key], aggregate, event, at);
  }
  if (facts !== null && !noFacts(facts)) next.x = facts;
  else if (facts !== null) delete next.x;
  rememberEventId(next, hash);
  return settle(next, plan, now, { kind: 'event', event }, targets, use);
}

function readProfileField(profile: CustomerProfile, field: string): StoredProfileValue | null {
  if (field.startsWith('attributes.')) return profile.attributes[field.slice('attributes.'.length)] ?? null;
  const value = (profile as unknown as Record<string, unknown>)[field];
  return typeof value === 'string' || typeof value === 'boolean' ? value : null;
}

function erase(state: SegmentState | null, now: number): SegmentResult {
  const changes = (state?.m ?? []).map((segment) => change(state as SegmentState, segment, 'exited', 'customer erased', now));
  return { state: null, changes, triggers: [], wakeAt: null, ignored: null };
}

/**
 * Applies a profile record; null (a tombstone) erases the customer: state null and an `exited`
 * change per current membership. Only the profile fields some condition reads are kept.
 */
export function applyProfile(
  state: SegmentState | null,
  profile: CustomerProfile | null,
  definitions: readonly SegmentDefinition[],
  now: number,
  use: StateUse = {},
): SegmentResult {
  if (profile === null) return erase(state, now);
  const plan = planFor(definitions);
  if (plan.profileFields.length === 0) return unchanged(state, 'irrelevant');
  if (state?.pu !== undefined && state.pu > profile.updated_at) return unchanged(state, 'stale_profile');
  const next = requireCustomer(state, profile.customer_id, use);
  const stored: Record<string, StoredProfileValue> = {};
  for (const field of plan.profileFields) {
    const value = readProfileField(profile, field);
    if (value !== null) stored[field] = value;
  }
  next.p = stored;
  next.pu = profile.updated_at;
  return settle(next, plan, now, { kind: 'profile', updatedAt: profile.updated_at }, null, use);
}

/**
 * Re-evaluates memberships at `now` with no new input: call it when a timer set to a previous
 * wakeAt fires. Triggers it fires are keyed by the stored due time, so a replay gives the same ids.
 */
export function reevaluate(state: SegmentState | null, definitions: readonly SegmentDefinition[], now: number, use: StateUse = {}): SegmentResult {
  if (state === null) return unchanged(null, null);
  return settle(use.handOver === true ? state : cloneState(state), planFor(definitions), now, { kind: 'timer', dueAt: state.w ?? now }, null, use);
}

/** Every segment the state's customer is currently in, sorted. */
export function memberships(state: SegmentState | null): string[] {
  return [...(state?.m ?? [])];
}

/** The event types some definition looks at; the adapter may skip all others cheaply. */
export function relevantEventTypes(definitions: readonly SegmentDefinition[]): ReadonlySet<string> {
  return planFor(definitions).relevantTypes;
}
