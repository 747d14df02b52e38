/**
 * Threshold rules: "more than N matching events of one group within a trailing event-time
 * window", edge-triggered. Pure; mutates the working state it is given.
 *
 * How the count is taken (exact, with bounded memory):
 * - A group's window ends at the group's newest occurred_at T and includes both ends:
 *   [T - window, T]. A view exactly 24 h after the first is inside; 1 ms later it is outside.
 * - On each event at t, T becomes max(T, t). `before` = stored times in [T - window, T]; the new
 *   event then makes `after` = before + 1. In event-time order this is exactly the sliding count:
 *   `before` is the lowest the count got since the previous event (times only leave the window
 *   while T advances), `after` is the count at T.
 * - A late (out-of-order) event counts when it lies inside the current window of its group, so
 *   it can complete that window. An event older than the rule's newest event time minus the
 *   window is too late: it cannot share a window with the newest events and is skipped.
 * - Re-arming: whenever `before` <= N the group is armed. It fires when armed and `after` > N,
 *   i.e. when the count goes from N to N + 1, and is then disarmed. With a cooldown, a crossing
 *   inside the cooldown (event time since the last firing) does not fire and the group stays
 *   armed, so the first event after the cooldown that still finds the count above N fires.
 * - Only the newest N + 1 times inside the window are kept: deciding "more than N" needs no more,
 *   and times older than T - window can never count again because T only grows.
 * - A group whose newest time is more than window + max(window, cooldown) behind the rule's
 *   newest time is dropped: no event that is not too late can bring its times or its cooldown
 *   back into play. Beyond that, only the MAX_GROUPS_PER_RULE groups with the newest times stay.
 */
import type { BehaviorEvent, TriggerFired } from '../types';
import { eventFieldValue, parseDuration, type EventField } from '../definitions';
import { ruleFiring, ruleSyntax, type RuleKind } from './kinds';
import { MAX_GREATER_THAN, MAX_GROUPS_PER_RULE } from './limits';
import { matchesRule } from './matching';
import { duration, eventField, wholeNumber } from './rule-syntax';
import type { RuleBase } from './rules';
import type { RuleStateBase } from './state';
import { isArrayOf, isNullable, isObject, isString, isTime, storedKey } from './stored-values';
import { NO_TIMER_CHANGES } from './timers';

/** Counts matching events per group within a trailing event-time window. */
export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  /** Null: one group per customer. */
  groupBy: EventField | null;
  /** As written in the file, e.g. `24h`; goes into the trigger context. */
  window: string;
  windowMs: number;
  greaterThan: number;
  cooldownMs: number;
}

export interface ThresholdRuleState extends RuleStateBase {
  kind: 'threshold';
  /** Newest occurred_at of any counted event of the rule: the lateness and eviction reference. */
  newest: number;
  groups: ThresholdGroup[];
}

export interface ThresholdGroup {
  /** The group value (hashed when longer than MAX_STORED_VALUE_CHARS); '' without group_by. */
  key: string;
  /** occurred_at of the newest greater_than + 1 counted events inside the window, ascending. */
  times: number[];
  /** False from a firing until the count is seen at or below greater_than again. */
  armed: boolean;
  /** Event time (the group's newest occurred_at) of the last firing, for the cooldown. */
  firedAt: number | null;
}

/** The threshold kind, as the parser, the engine and the adapters see it. */
export const thresholdKind: RuleKind<ThresholdRule, ThresholdRuleState> = {
  name: 'threshold',
  syntax: ruleSyntax(
    {
      group_by: eventField.optional(),
      window: duration({ allowZero: false }),
      greater_than: wholeNumber(MAX_GREATER_THAN),
      cooldown: duration({ allowZero: true }).optional(),
    },
    {
      toRule: (fields, common) => ({
        kind: 'threshold',
        ...common,
        groupBy: (fields.group_by as EventField | undefined) ?? null,
        window: fields.window.trim(),
        windowMs: parseDuration(fields.window)!,
        greaterThan: fields.greater_than,
        cooldownMs: fields.cooldown === undefined ? 0 : parseDuration(fields.cooldown)!,
      }),
    },
  ),
  horizonMs: (rule) => rule.windowMs + rule.cooldownMs,
  concerns: (rule, event) => thresholdGroupValue(rule, event) !== null,
  newState: (rule, event) => ({ rule: rule.name, kind: 'threshold', newest: event.occurred_at, groups: [] }),
  apply: (ruleState, rule, event, now) => ({
    trigger: applyThresholdEvent(ruleState, rule, event, thresholdGroupValue(rule, event)!, now),
    timers: NO_TIMER_CHANGES,
  }),
  timer: null,
  reportsCart: () => false,
  afterRemoveFromCart: null,
  isState: (raw) => isTime(raw['newest']) && isArrayOf(raw['groups'], isGroup),
  cloneState: (ruleState) => ({ ...ruleState, groups: ruleState.groups.map((group) => ({ ...group, times: [...group.times] })) }),
};

/** The group value the rule counts the event under ('' without group_by), or null when the rule ignores it. */
function thresholdGroupValue(rule: ThresholdRule, event: BehaviorEvent): string | null {
  if (!matchesRule(rule, event)) return null;
  return rule.groupBy === null ? '' : eventFieldValue(event, rule.groupBy);
}

/** Counts the event (its group value from thresholdGroupValue) and returns the firing it causes, if any. */
function applyThresholdEvent(
  ruleState: ThresholdRuleState,
  rule: ThresholdRule,
  event: BehaviorEvent,
  groupValue: string,
  now: number,
): TriggerFired | null {
  const t = event.occurred_at;
  if (t < ruleState.newest - rule.windowMs) return null; // too late, see the module comment
  ruleState.newest = Math.max(ruleState.newest, t);

  const group = findOrAddGroup(ruleState, storedKey(groupValue));
  const crossed = countEvent(group, rule, t);
  dropStaleGroups(ruleState, rule);
  return crossed === null ? null : thresholdTrigger(rule, event, groupValue, crossed, now);
}

/**
 * Adds t to the group; returns the count when this event fires the rule, else null. Works on the
 * group's list in place (ascending; t is inside the window, see applyThresholdEvent).
 */
function countEvent(group: ThresholdGroup, rule: ThresholdRule, t: number): number | null {
  const times = group.times;
  const end = Math.max(t, times.at(-1) ?? t);
  const start = end - rule.windowMs;
  let outside = 0;
  while (outside < times.length && times[outside] < start) outside++;
  const before = times.length - outside;
  if (before <= rule.greaterThan) group.armed = true;
  const after = before + 1;

  // Insert t after the times at or before it, then keep the newest greater_than + 1 in the window.
  let at = times.length;
  times.push(t);
  while (at > 0 && times[at - 1] > t) {
    times[at] = times[at - 1];
    at--;
  }
  times[at] = t;
  const drop = Math.max(outside, times.length - (rule.greaterThan + 1));
  if (drop > 0) times.splice(0, drop);

  const coolingDown = group.firedAt !== null && end < group.firedAt + rule.cooldownMs;
  if (!group.armed || after <= rule.greaterThan || coolingDown) return null;
  group.armed = false;
  group.firedAt = end;
  return after;
}

function findOrAddGroup(ruleState: ThresholdRuleState, key: string): ThresholdGroup {
  for (let i = 0; i < ruleState.groups.length; i += 1) {
    const group = ruleState.groups[i] as ThresholdGroup;
    if (group.key === key) return group;
  }
  const group: ThresholdGroup = { key, times: [], armed: true, firedAt: null };
  ruleState.groups.push(group);
  return group;
}

function dropStaleGroups(ruleState: ThresholdRuleState, rule: ThresholdRule): void {
  const horizon = ruleState.newest - rule.windowMs - Math.max(rule.windowMs, rule.cooldownMs);
  if (ruleState.groups.length <= MAX_GROUPS_PER_RULE && !hasGroupBefore(ruleState.groups, horizon)) return;
  let groups = ruleState.groups.filter((group) => newestTime(group) >= horizon);
  if (groups.length > MAX_GROUPS_PER_RULE) {
    // Stable sort: among equal newest times the earlier-listed group is kept, deterministically.
    const keep = new Set([...groups].sort((a, b) => newestTime(b) - newestTime(a)).slice(0, MAX_GROUPS_PER_RULE));
    groups = groups.filter((group) => keep.has(group));
  }
  ruleState.groups = groups;
}

/** True when some group's newest time is before `horizon` (a loop: asked for every event). */
function hasGroupBefore(groups: readonly ThresholdGroup[], horizon: number): boolean {
  for (let i = 0; i < groups.length; i += 1) if (newestTime(groups[i] as ThresholdGroup) < horizon) return true;
  return false;
}

function newestTime(group: ThresholdGroup): number {
  return group.times.at(-1) ?? Number.NEGATIVE_INFINITY;
}

function thresholdTrigger(
  rule: ThresholdRule,
  event: BehaviorEvent,
  groupValue: string,
  count: number,
  now: number,
): TriggerFired {
  const context: Record<string, string> = { count: String(count), window: rule.window };
  if (event.product_id !== null) context['product_id'] = event.product_id;
  if (event.category !== null) context['category'] = event.category;
  if (rule.groupBy !== null) context[rule.groupBy] = groupValue;
  // The crossing event causes it: a replay of the same input crosses on the same event.
  return ruleFiring(rule.name, event.customer_id, event.event_id, now, context);
}

function isGroup(raw: unknown): boolean {
  return (
    isObject(raw) &&
    isString(raw['key']) &&
    isArrayOf(raw['times'], isTime) &&
    typeof raw['armed'] === 'boolean' &&
    isNullable(raw['firedAt'], isTime)
  );
}
