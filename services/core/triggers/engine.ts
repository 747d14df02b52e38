/**
 * The trigger engine: applies one customer's events and due timers to that customer's state.
 * Pure: no I/O and no clock; `now` is the service clock in epoch ms, passed in by the adapter.
 * Inputs are never mutated; each call works on a copy and returns the new state.
 *
 * An adapter, per customer and batch: decodeTriggerState(stored) -> applyEvents(...) -> write
 * encodeTriggerState(state), append `triggers` to the outbox, ZADD `timers.set`, ZREM
 * `timers.cancel`, all atomically (skip the write when `changed` is false). When a timer id is
 * due: parseTimerId(id) -> read that customer's state -> fireTimer(...) -> write back the same way.
 */
import { isKnownEventType, type BehaviorEvent, type TriggerFired } from '../types';
import { applyCartEvent, isCartEvent } from './cart';
import type { AnyRuleKind, RuleOutcome } from './kinds';
import { ruleKindOf } from './registry';
import type { TriggerRule } from './rules';
import { cloneTriggerState, emptyTriggerState, rememberEventId, type RuleState, type TriggerState } from './state';
import { mergeTimerChanges, noTimerChanges, parseTimerId, timerIdFor, type TimerChanges } from './timers';

/** Why an event changed nothing: a type the pipeline does not know, or an event id seen recently. */
export type IgnoredReason = 'unknown_type' | 'duplicate';

export interface EngineResult {
  state: TriggerState;
  triggers: TriggerFired[];
  timers: TimerChanges;
  /** False when `state` equals the input state, so the adapter may skip writing it. */
  changed: boolean;
  ignored?: IgnoredReason;
}

/** Applies one event of a customer to that customer's state (null: none stored yet). */
export function applyEvent(
  state: TriggerState | null,
  event: BehaviorEvent,
  rules: readonly TriggerRule[],
  now: number,
): EngineResult {
  const unchanged = (ignored?: IgnoredReason): EngineResult => ({
    state: state ?? emptyTriggerState(),
    triggers: [],
    timers: noTimerChanges(),
    changed: false,
    ...(ignored === undefined ? {} : { ignored }),
  });
  if (!isKnownEventType(event.type)) return unchanged('unknown_type');

  const working = state === null ? emptyTriggerState() : cloneTriggerState(state);
  const pruned = pruneRetiredRules(working, rules, event.customer_id);
  const prunedResult = (ignored?: IgnoredReason): EngineResult =>
    pruned === null
      ? unchanged(ignored)
      : { state: working, triggers: [], timers: pruned, changed: true, ...(ignored === undefined ? {} : { ignored }) };

  if (!concernsAnyRule(event, rules)) return prunedResult();
  if (!rememberEventId(working, event.event_id)) return prunedResult('duplicate');

  if (tracksCart(rules) && isCartEvent(event)) {
    working.cart ??= { items: [], lastAdded: null };
    applyCartEvent(working.cart, event);
  }
  const triggers: TriggerFired[] = [];
  let timers = pruned ?? noTimerChanges();
  for (const rule of rules) {
    const outcome = applyRule(working, rule, event, now);
    if (outcome.trigger !== null) triggers.push(outcome.trigger);
    timers = mergeTimerChanges(timers, outcome.timers);
  }
  if (event.type === 'remove_from_cart') {
    for (const rule of rules) {
      const kind = ruleKindOf(rule);
      if (kind.afterRemoveFromCart === null) continue;
      timers = mergeTimerChanges(timers, kind.afterRemoveFromCart(ruleStateOf(working, rule, kind, event), rule, event.customer_id, working.cart));
    }
  }
  return { state: working, triggers, timers, changed: true };
}

/**
 * Fires every timer of the customer that is due by `dueBy` (the partition's stream
 * time before the customer's next event is applied): what a live run would have fired before
 * that event arrived. `now` is the service clock, the firings' fired_at.
 */
export function fireDueTimers(state: TriggerState | null, customerId: string, rules: readonly TriggerRule[], now: number, dueBy: number): EngineResult {
  const due = rules.filter((rule) => {
    const dueAt = timerDueAt(state, rule);
    return dueAt !== null && dueAt <= dueBy;
  });
  if (due.length === 0) return { state: state ?? emptyTriggerState(), triggers: [], timers: noTimerChanges(), changed: false };
  const working = cloneTriggerState(state!);
  const triggers: TriggerFired[] = [];
  let timers = noTimerChanges();
  for (const rule of due) {
    const outcome = fireRuleTimer(working, rule, customerId, now, dueBy);
    if (outcome.trigger !== null) triggers.push(outcome.trigger);
    timers = mergeTimerChanges(timers, outcome.timers);
  }
  return { state: working, triggers, timers, changed: true };
}

/** Counts of the events applyEvents ignored, by reason. */
export type IgnoredCounts = Record<IgnoredReason, number>;

/**
 * Applies several events of one customer in order; timer changes are merged (the last per id
 * wins). `streamTimes[i]`, when given, is the partition's stream time before events[i] was read:
 * timers due by then fire first (fireDueTimers).
 */
export function applyEvents(
  state: TriggerState | null,
  events: readonly BehaviorEvent[],
  rules: readonly TriggerRule[],
  now: number,
  streamTimes?: ReadonlyArray<number | null>,
): Omit<EngineResult, 'ignored'> & { ignored: IgnoredCounts } {
  // A loop, not a set per call: hashing each decoded id costs more than comparing it to the first.
  if (events.some((event) => event.customer_id !== events[0].customer_id)) {
    const customers = new Set(events.map((event) => event.customer_id));
    throw new Error(`applyEvents: events of ${customers.size} customers; pass one customer's events`);
  }
  let current: TriggerState | null = state;
  const total = { state: state ?? emptyTriggerState(), triggers: [] as TriggerFired[], timers: noTimerChanges(), changed: false };
  const ignored: IgnoredCounts = { unknown_type: 0, duplicate: 0 };
  for (const [i, event] of events.entries()) {
    const streamTime = streamTimes?.[i] ?? null;
    if (streamTime !== null) {
      const fired = fireDueTimers(current, event.customer_id, rules, now, streamTime);
      if (fired.changed) {
        current = fired.state;
        total.state = fired.state;
        total.triggers.push(...fired.triggers);
        total.timers = mergeTimerChanges(total.timers, fired.timers);
        total.changed = true;
      }
    }
    const result = applyEvent(current, event, rules, now);
    current = result.state;
    total.state = result.state;
    total.triggers.push(...result.triggers);
    total.timers = mergeTimerChanges(total.timers, result.timers);
    total.changed ||= result.changed;
    if (result.ignored !== undefined) ignored[result.ignored] += 1;
  }
  return { ...total, ignored };
}

/**
 * Fires a due timer (an id from timerIdFor). Yields no trigger when the timer was cancelled
 * (then it is cancelled again, harmlessly) or restarted (then it is set to its new due time).
 */
export function fireTimer(
  state: TriggerState | null,
  timerId: string,
  rules: readonly TriggerRule[],
  now: number,
  dueBy: number = now,
): EngineResult {
  const target = parseTimerId(timerId);
  const rule = target === null ? undefined : rules.find((candidate) => candidate.name === target.rule);
  if (target === null || rule === undefined || timerDueAt(state, rule) === null) {
    return { state: state ?? emptyTriggerState(), triggers: [], timers: { set: [], cancel: [timerId] }, changed: false };
  }
  const working = cloneTriggerState(state!);
  const outcome = fireRuleTimer(working, rule, target.customerId, now, dueBy);
  return {
    state: outcome.trigger === null ? state! : working,
    triggers: outcome.trigger === null ? [] : [outcome.trigger],
    timers: outcome.timers,
    changed: outcome.trigger !== null,
  };
}

/** The longest horizon of the rules (see RuleKind.horizonMs): how long a customer's state must be kept. */
export function longestHorizonMs(rules: readonly TriggerRule[]): number {
  return Math.max(0, ...rules.map((rule) => ruleKindOf(rule).horizonMs(rule)));
}

/** Every timer the rules may hold for the customer: what erasing the customer cancels. */
export function timerIdsOfCustomer(customerId: string, rules: readonly TriggerRule[]): string[] {
  return rules.filter((rule) => ruleKindOf(rule).timer !== null).map((rule) => timerIdFor(customerId, rule.name));
}

/** True when some rule reports the cart, so the engine must track it. */
function tracksCart(rules: readonly TriggerRule[]): boolean {
  return rules.some((rule) => ruleKindOf(rule).reportsCart(rule));
}

function concernsAnyRule(event: BehaviorEvent, rules: readonly TriggerRule[]): boolean {
  if (tracksCart(rules) && isCartEvent(event)) return true;
  return rules.some((rule) => ruleKindOf(rule).concerns(rule, event));
}

function applyRule(state: TriggerState, rule: TriggerRule, event: BehaviorEvent, now: number): RuleOutcome {
  const kind = ruleKindOf(rule);
  if (!kind.concerns(rule, event)) return { trigger: null, timers: noTimerChanges() };
  return kind.apply(ruleStateOf(state, rule, kind, event), rule, event, now);
}

/** The rule's state, created by `event` when the customer has none yet. */
function ruleStateOf(state: TriggerState, rule: TriggerRule, kind: AnyRuleKind, event: BehaviorEvent): RuleState {
  const found = state.rules.find((candidate) => candidate.rule === rule.name);
  if (found?.kind === rule.kind) return found;
  const created = kind.newState(rule, event);
  state.rules.push(created);
  return created;
}

/** When the rule's timer for this state is due, or null when it holds none (or the rule's kind has no timer). */
function timerDueAt(state: TriggerState | null, rule: TriggerRule): number | null {
  const timer = ruleKindOf(rule).timer;
  const ruleState = state?.rules.find((candidate) => candidate.rule === rule.name);
  if (timer === null || ruleState?.kind !== rule.kind) return null;
  return timer.dueAt(ruleState);
}

/** Fires the timer of a rule whose state holds one (see timerDueAt). */
function fireRuleTimer(state: TriggerState, rule: TriggerRule, customerId: string, now: number, dueBy: number): RuleOutcome {
  const kind = ruleKindOf(rule);
  const ruleState = state.rules.find((candidate) => candidate.rule === rule.name && candidate.kind === rule.kind)!;
  return kind.timer!.fire(ruleState, rule, customerId, state.cart, now, dueBy);
}

/** Each rule's kind by name, kept per (parsed, never changed) rules array: asked for every event. */
const kindsByName = new WeakMap<readonly TriggerRule[], ReadonlyMap<string, string>>();

function kindByNameOf(rules: readonly TriggerRule[]): ReadonlyMap<string, string> {
  let kinds = kindsByName.get(rules);
  if (kinds === undefined) {
    kinds = new Map(rules.map((rule) => [rule.name, rule.kind]));
    kindsByName.set(rules, kinds);
  }
  return kinds;
}

/**
 * Drops state of rules no longer configured (or whose kind changed) and a cart nobody reports,
 * so a config change cannot leave state growing. Returns the timers to cancel, or null when
 * nothing was dropped.
 */
function pruneRetiredRules(state: TriggerState, rules: readonly TriggerRule[], customerId: string): TimerChanges | null {
  const kindByName = kindByNameOf(rules);
  const retired = state.rules.filter((ruleState) => kindByName.get(ruleState.rule) !== ruleState.kind);
  const dropCart = state.cart !== null && !tracksCart(rules);
  if (retired.length === 0 && !dropCart) return null;
  state.rules = state.rules.filter((ruleState) => !retired.includes(ruleState));
  if (dropCart) state.cart = null;
  const cancel = retired
    .filter((ruleState) => (ruleKindOf(ruleState).timer?.dueAt(ruleState) ?? null) !== null)
    .map((ruleState) => timerIdFor(customerId, ruleState.rule));
  return { set: [], cancel };
}
