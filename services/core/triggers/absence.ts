/**
 * Absence rules: "an arming event A not followed by any cancelling event B within T". Pure;
 * mutates the working state it is given.
 *
 * - A arms a timer due at occurred_at(A) + T, in event time. The timer never fires while A is
 *   applied: it fires once the partition's stream time has passed the due time (the next event
 *   read of this customer checks it first, see applyEvent; the others' by the adapter's tick),
 *   or once the partition is caught up and the clock has passed it. So a B further down the log
 *   always cancels, however late the log is read (a backlog, a rebuild, a replay).
 * - B with occurred_at >= occurred_at(A) cancels it; an earlier B (delivered late) does not,
 *   because it did not follow A. For a `context: cart` rule an emptied cart cancels too.
 * - An A at or before the newest B already seen is already followed and arms nothing.
 * - A repeated A while a timer runs: `restart` re-arms from the newer A (an older A delivered
 *   late never moves the timer back); `keep` leaves the first timer alone.
 */
import { z } from 'zod';
import type { BehaviorEvent, KnownEventType, TriggerFired } from '../types';
import { cartContext } from './cart';
import { parseDuration } from '../definitions';
import { ruleFiring, ruleSyntax, type RuleKind, type RuleOutcome } from './kinds';
import { matchesRule } from './matching';
import { duration, eventTypes, expecting } from './rule-syntax';
import type { RuleBase } from './rules';
import type { CartState, RuleStateBase } from './state';
import { isNullable, isObject, isString, isTime, keepableValue } from './stored-values';
import { noTimerChanges, timerIdFor, type TimerChanges } from './timers';

/** Fires when an arming event is not followed by a cancelling one within a time. */
export interface AbsenceRule extends RuleBase {
  kind: 'absence';
  notFollowedBy: KnownEventType[];
  /** As written in the file, e.g. `15m`; goes into the trigger context. */
  within: string;
  withinMs: number;
  onRepeat: 'restart' | 'keep';
  context: 'cart' | null;
}

export interface AbsenceRuleState extends RuleStateBase {
  kind: 'absence';
  /** Newest occurred_at of a cancelling event seen: an arming event at or before it is already followed. */
  lastCancelAt: number | null;
  pending: PendingAbsence | null;
}

/** An arming event whose timer runs. */
export interface PendingAbsence {
  eventId: string;
  /** occurred_at of the arming event. */
  at: number;
  /** Event time the timer is due: occurred_at + within. */
  dueAt: number;
  productId: string | null;
  category: string | null;
}

/** The absence kind, as the parser, the engine and the adapters see it. */
export const absenceKind: RuleKind<AbsenceRule, AbsenceRuleState> = {
  name: 'absence',
  syntax: ruleSyntax(
    {
      not_followed_by: eventTypes,
      within: duration({ allowZero: false }),
      on_repeat: z.enum(['restart', 'keep'], { error: expecting('an on_repeat choice', 'restart or keep') }).optional(),
      context: z.enum(['cart'], { error: expecting('a context option', 'cart') }).optional(),
    },
    {
      problems: (fields, events) => {
        const both = events.filter((type) => fields.not_followed_by.includes(type));
        if (both.length === 0) return [];
        const message = `lists ${both.join(', ')}, which also arms the rule (event); an event cannot cancel itself`;
        return [{ path: 'not_followed_by', input: fields.not_followed_by, message }];
      },
      toRule: (fields, common) => ({
        kind: 'absence',
        ...common,
        notFollowedBy: fields.not_followed_by,
        within: fields.within.trim(),
        withinMs: parseDuration(fields.within)!,
        onRepeat: fields.on_repeat ?? 'restart',
        context: fields.context ?? null,
      }),
    },
  ),
  horizonMs: (rule) => rule.withinMs,
  concerns: (rule, event) => isCancelling(rule, event) || matchesRule(rule, event),
  newState: (rule) => ({ rule: rule.name, kind: 'absence', lastCancelAt: null, pending: null }),
  apply: (ruleState, rule, event) => applyAbsenceEvent(ruleState, rule, event),
  timer: {
    dueAt: (ruleState) => ruleState.pending?.dueAt ?? null,
    fire: (ruleState, rule, customerId, cart, now, dueBy) => fireAbsenceTimer(ruleState, rule, customerId, cart, now, dueBy),
  },
  reportsCart: (rule) => rule.context === 'cart',
  afterRemoveFromCart: (ruleState, rule, customerId, cart) => cancelOnEmptyCart(ruleState, rule, customerId, cart),
  isState: (raw) => isNullable(raw['lastCancelAt'], isTime) && isNullable(raw['pending'], isPending),
  cloneState: (ruleState) => ({ ...ruleState, pending: ruleState.pending === null ? null : { ...ruleState.pending } }),
};

/** Applies an event that concerns the rule. */
function applyAbsenceEvent(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): RuleOutcome {
  if (isCancelling(rule, event)) return cancel(ruleState, rule, event);
  return arm(ruleState, rule, event);
}

/**
 * Fires the rule's timer if it is due by `dueBy` (stream time, or the clock once caught up); a
 * cancelled or restarted timer yields no trigger. `now` is the firing's fired_at.
 */
function fireAbsenceTimer(
  ruleState: AbsenceRuleState,
  rule: AbsenceRule,
  customerId: string,
  cart: CartState | null,
  now: number,
  dueBy: number,
): RuleOutcome {
  const id = timerIdFor(customerId, rule.name);
  const pending = ruleState.pending;
  if (pending === null) return { trigger: null, timers: { set: [], cancel: [id] } };
  // Restarted since the timer was scheduled: put it back at its current due time.
  if (pending.dueAt > dueBy) return { trigger: null, timers: { set: [{ id, dueAt: pending.dueAt }], cancel: [] } };
  ruleState.pending = null;
  return { trigger: absenceTrigger(rule, customerId, pending, cart, now), timers: { set: [], cancel: [id] } };
}

/** A `context: cart` rule's wait ends when the cart it would report is empty. */
function cancelOnEmptyCart(ruleState: AbsenceRuleState, rule: AbsenceRule, customerId: string, cart: CartState | null): TimerChanges {
  if (rule.context !== 'cart' || ruleState.pending === null || (cart !== null && cart.items.length > 0)) return noTimerChanges();
  ruleState.pending = null;
  return { set: [], cancel: [timerIdFor(customerId, rule.name)] };
}

function isCancelling(rule: AbsenceRule, event: BehaviorEvent): boolean {
  return (rule.notFollowedBy as readonly string[]).includes(event.type);
}

function cancel(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): RuleOutcome {
  const t = event.occurred_at;
  ruleState.lastCancelAt = Math.max(ruleState.lastCancelAt ?? t, t);
  if (ruleState.pending === null || t < ruleState.pending.at) return { trigger: null, timers: noTimerChanges() };
  ruleState.pending = null;
  return { trigger: null, timers: { set: [], cancel: [timerIdFor(event.customer_id, rule.name)] } };
}

function arm(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): RuleOutcome {
  const t = event.occurred_at;
  const running = ruleState.pending;
  const alreadyFollowed = ruleState.lastCancelAt !== null && ruleState.lastCancelAt >= t;
  const keepRunning = running !== null && (rule.onRepeat === 'keep' || t < running.at);
  if (alreadyFollowed || keepRunning) return { trigger: null, timers: noTimerChanges() };

  const id = timerIdFor(event.customer_id, rule.name);
  const pending: PendingAbsence = {
    eventId: event.event_id,
    at: t,
    // Event time: the service bounds how far ahead of its clock an event may be (MAX_CLOCK_SKEW).
    dueAt: t + rule.withinMs,
    productId: keepableValue(event.product_id),
    category: keepableValue(event.category),
  };
  ruleState.pending = pending;
  return { trigger: null, timers: { set: [{ id, dueAt: pending.dueAt }], cancel: [] } };
}

function absenceTrigger(
  rule: AbsenceRule,
  customerId: string,
  pending: PendingAbsence,
  cart: CartState | null,
  now: number,
): TriggerFired {
  const context: Record<string, string> = { within: rule.within };
  // One product, described consistently: the arming event's, unless the cart no longer holds
  // it; then the cart's last added product, whose category the rule never saw.
  let productId = pending.productId;
  if (rule.context === 'cart') {
    Object.assign(context, cartContext(cart));
    if (productId === null || !(cart?.items ?? []).includes(productId)) productId = cart?.lastAdded ?? null;
  }
  if (productId !== null) context['product_id'] = productId;
  else delete context['product_id'];
  if (pending.category !== null && productId === pending.productId && productId !== null) context['category'] = pending.category;
  // The arming event causes it: a replay arms on, and fires for, the same event.
  return ruleFiring(rule.name, customerId, pending.eventId, now, context);
}

function isPending(raw: unknown): boolean {
  return (
    isObject(raw) &&
    isString(raw['eventId']) &&
    isTime(raw['at']) &&
    isTime(raw['dueAt']) &&
    isNullable(raw['productId'], isString) &&
    isNullable(raw['category'], isString)
  );
}
