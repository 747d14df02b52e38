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
import { noTimerChanges, parseTimerId, TimerLedger, timerIdFor, type TimerChanges } from './timers';

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
  const working = state === null ? emptyTriggerState() : cloneTriggerState(state);
  const triggers: TriggerFired[] = [];
  const timers = new TimerLedger();
  const step = applyEventTo(working, event, rules, now, triggers, timers);
  return {
    state: step.changed ? working : (state ?? working),
    triggers,
    timers: timers.changes(),
    changed: step.changed,
    ...(step.ignored === null ? {} : { ignored: step.ignored }),
  };
}

/** What applying one event did to the working state: changed it or not, and why it was ignored. */
interface Step {
  readonly changed: boolean;
  readonly ignored: IgnoredReason | null;
}

// Shared, so that applying an event allocates no result of its own.
const APPLIED: Step = { changed: true, ignored: null };
const UNTOUCHED: Step = { changed: false, ignored: null };
const UNKNOWN_TYPE: Step = { changed: false, ignored: 'unknown_type' };
const DUPLICATE: Step = { changed: false, ignored: 'duplicate' };
const DUPLICATE_PRUNED: Step = { changed: true, ignored: 'duplicate' };

// Indexed loops in this file's per-event paths: a for...of here allocated an iterator result
// per step (V8's sampling heap profiler, docs/benchmarks-history.md,
// "Iterator results in the per-event paths").

/**
 * Applies one event to `working` in place, appending its firings to `triggers` and its timer
 * changes to `timers`. Leaves `working` as it was unless the step says it changed.
 */
function applyEventTo(
  working: TriggerState,
  event: BehaviorEvent,
  rules: readonly TriggerRule[],
  now: number,
  triggers: TriggerFired[],
  timers: TimerLedger,
): Step {
  if (!isKnownEventType(event.type)) return UNKNOWN_TYPE;
  const pruned = pruneRetiredRules(working, rules, event.customer_id, timers);
  if (!concernsAnyRule(event, rules)) return pruned ? APPLIED : UNTOUCHED;
  if (!rememberEventId(working, event.event_id)) return pruned ? DUPLICATE_PRUNED : DUPLICATE;

  if (tracksCart(rules) && isCartEvent(event)) {
    working.cart ??= { items: [], lastAdded: null };
    applyCartEvent(working.cart, event);
  }
  for (let i = 0; i < rules.length; i += 1) {
    const rule = rules[i] as TriggerRule;
    const kind = ruleKindOf(rule);
    if (!kind.concerns(rule, event)) continue;
    const outcome = kind.apply(ruleStateOf(working, rule, kind, event), rule, event, now);
    if (outcome.trigger !== null) triggers.push(outcome.trigger);
    timers.add(outcome.timers);
  }
  if (event.type === 'remove_from_cart') {
    for (let i = 0; i < rules.length; i += 1) {
      const rule = rules[i] as TriggerRule;
      const kind = ruleKindOf(rule);
      if (kind.afterRemoveFromCart === null) continue;
      timers.add(kind.afterRemoveFromCart(ruleStateOf(working, rule, kind, event), rule, event.customer_id, working.cart));
    }
  }
  return APPLIED;
}

/**
 * Fires every timer of the customer that is due by `dueBy` (the partition's stream
 * time before the customer's next event is applied): what a live run would have fired before
 * that event arrived. `now` is the service clock, the firings' fired_at.
 */
export function fireDueTimers(state: TriggerState | null, customerId: string, rules: readonly TriggerRule[], now: number, dueBy: number): EngineResult {
  if (state !== null) {
    const working = cloneTriggerState(state);
    const triggers: TriggerFired[] = [];
    const timers = new TimerLedger();
    if (fireDueTimersOf(working, customerId, rules, now, dueBy, triggers, timers)) return { state: working, triggers, timers: timers.changes(), changed: true };
  }
  return { state: state ?? emptyTriggerState(), triggers: [], timers: noTimerChanges(), changed: false };
}

/**
 * fireDueTimers on `working` in place; true when some timer was due. A rule's firing changes
 * only its own state, so each rule's timer is due or not whatever the others did.
 */
function fireDueTimersOf(
  working: TriggerState,
  customerId: string,
  rules: readonly TriggerRule[],
  now: number,
  dueBy: number,
  triggers: TriggerFired[],
  timers: TimerLedger,
): boolean {
  let fired = false;
  for (let i = 0; i < rules.length; i += 1) {
    const rule = rules[i] as TriggerRule;
    if (!isDue(working, rule, dueBy)) continue;
    const outcome = fireRuleTimer(working, rule, customerId, now, dueBy);
    if (outcome.trigger !== null) triggers.push(outcome.trigger);
    timers.add(outcome.timers);
    fired = true;
  }
  return fired;
}

function isDue(state: TriggerState, rule: TriggerRule, dueBy: number): boolean {
  const dueAt = timerDueAt(state, rule);
  return dueAt !== null && dueAt <= dueBy;
}

/** Counts of the events applyEvents ignored, by reason. */
export type IgnoredCounts = Record<IgnoredReason, number>;

/**
 * Applies several events of one customer in order; timer changes are merged (the last per id
 * wins). `streamTimes[i]`, when given, is the partition's stream time before events[i] was read:
 * timers due by then fire first (fireDueTimers). The input state is not changed: the events are
 * applied to one copy of it.
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
  const working = state === null ? emptyTriggerState() : cloneTriggerState(state);
  const triggers: TriggerFired[] = [];
  const timers = new TimerLedger();
  const ignored: IgnoredCounts = { unknown_type: 0, duplicate: 0 };
  let changed = false;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    const streamTime = streamTimes?.[i] ?? null;
    if (streamTime !== null && fireDueTimersOf(working, event.customer_id, rules, now, streamTime, triggers, timers)) changed = true;
    const step = applyEventTo(working, event, rules, now, triggers, timers);
    if (step.changed) changed = true;
    if (step.ignored !== null) ignored[step.ignored] += 1;
  }
  return { state: changed ? working : (state ?? working), triggers, timers: timers.changes(), changed, ignored };
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
  return factsOf(rules).tracksCart;
}

function concernsAnyRule(event: BehaviorEvent, rules: readonly TriggerRule[]): boolean {
  if (tracksCart(rules) && isCartEvent(event)) return true;
  for (let i = 0; i < rules.length; i += 1) {
    const rule = rules[i] as TriggerRule;
    if (ruleKindOf(rule).concerns(rule, event)) return true;
  }
  return false;
}

/** The rule's state, created by `event` when the customer has none yet. */
function ruleStateOf(state: TriggerState, rule: TriggerRule, kind: AnyRuleKind, event: BehaviorEvent): RuleState {
  const found = ruleStateNamed(state, rule.name);
  if (found?.kind === rule.kind) return found;
  const created = kind.newState(rule, event);
  state.rules.push(created);
  return created;
}

/** When the rule's timer for this state is due, or null when it holds none (or the rule's kind has no timer). */
function timerDueAt(state: TriggerState | null, rule: TriggerRule): number | null {
  const timer = ruleKindOf(rule).timer;
  if (timer === null || state === null) return null;
  const ruleState = ruleStateNamed(state, rule.name);
  if (ruleState?.kind !== rule.kind) return null;
  return timer.dueAt(ruleState);
}

/** The state of the rule named `name`, if the customer has one (a loop: asked per rule and event). */
function ruleStateNamed(state: TriggerState, name: string): RuleState | undefined {
  for (let i = 0; i < state.rules.length; i += 1) {
    const ruleState = state.rules[i] as RuleState;
    if (ruleState.rule === name) return ruleState;
  }
  return undefined;
}

/** Fires the timer of a rule whose state holds one (see timerDueAt). */
function fireRuleTimer(state: TriggerState, rule: TriggerRule, customerId: string, now: number, dueBy: number): RuleOutcome {
  const kind = ruleKindOf(rule);
  // The state timerDueAt found: the first of the rule's name, of the rule's kind.
  const ruleState = ruleStateNamed(state, rule.name)!;
  return kind.timer!.fire(ruleState, rule, customerId, state.cart, now, dueBy);
}

/** What the engine asks of a rules array for every event. */
interface RulesFacts {
  /** Each rule's kind by name. */
  kindByName: ReadonlyMap<string, string>;
  /** See tracksCart. */
  tracksCart: boolean;
}

/** Kept per (parsed, never changed) rules array. */
const factsByRules = new WeakMap<readonly TriggerRule[], RulesFacts>();

function factsOf(rules: readonly TriggerRule[]): RulesFacts {
  let facts = factsByRules.get(rules);
  if (facts === undefined) {
    facts = {
      kindByName: new Map(rules.map((rule) => [rule.name, rule.kind])),
      tracksCart: rules.some((rule) => ruleKindOf(rule).reportsCart(rule)),
    };
    factsByRules.set(rules, facts);
  }
  return facts;
}

/** True when every rule state belongs to a configured rule of the same kind. */
function allRulesCurrent(state: TriggerState, kindByName: ReadonlyMap<string, string>): boolean {
  for (let i = 0; i < state.rules.length; i += 1) {
    const ruleState = state.rules[i] as RuleState;
    if (kindByName.get(ruleState.rule) !== ruleState.kind) return false;
  }
  return true;
}

/**
 * Drops state of rules no longer configured (or whose kind changed) and a cart nobody reports,
 * so a config change cannot leave state growing. Adds the timers to cancel to `timers`; false
 * when nothing was dropped.
 */
function pruneRetiredRules(state: TriggerState, rules: readonly TriggerRule[], customerId: string, timers: TimerLedger): boolean {
  const { kindByName } = factsOf(rules);
  const dropCart = state.cart !== null && !tracksCart(rules);
  if (!dropCart && allRulesCurrent(state, kindByName)) return false;
  const retired = state.rules.filter((ruleState) => kindByName.get(ruleState.rule) !== ruleState.kind);
  state.rules = state.rules.filter((ruleState) => !retired.includes(ruleState));
  if (dropCart) state.cart = null;
  const cancel = retired
    .filter((ruleState) => (ruleKindOf(ruleState).timer?.dueAt(ruleState) ?? null) !== null)
    .map((ruleState) => timerIdFor(customerId, ruleState.rule));
  timers.add({ set: [], cancel });
  return true;
}
