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
import { triggerId } from '../ids';
import type { BehaviorEvent, TriggerFired } from '../types';
import { cartContext } from './cart';
import { matchesRule } from './matching';
import type { AbsenceRule } from './rules';
import { keepableValue, type AbsenceRuleState, type CartState, type PendingAbsence } from './state';
import { noTimerChanges, timerIdFor, type TimerChanges } from './timers';

/** What an absence rule did with an event or a timer. */
export interface AbsenceOutcome {
  trigger: TriggerFired | null;
  timers: TimerChanges;
}

/** True when the event arms or cancels the rule. */
export function concernsAbsenceRule(rule: AbsenceRule, event: BehaviorEvent): boolean {
  return isCancelling(rule, event) || matchesRule(rule, event);
}

/** A fresh state for an absence rule. */
export function newAbsenceState(rule: AbsenceRule): AbsenceRuleState {
  return { rule: rule.name, kind: 'absence', lastCancelAt: null, pending: null };
}

/** Applies an event that concerns the rule (see concernsAbsenceRule). */
export function applyAbsenceEvent(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): AbsenceOutcome {
  if (isCancelling(rule, event)) return cancel(ruleState, rule, event);
  return arm(ruleState, rule, event);
}

/**
 * Fires the rule's timer if it is due by `dueBy` (stream time, or the clock once caught up); a
 * cancelled or restarted timer yields no trigger. `now` is the firing's fired_at.
 */
export function fireAbsenceTimer(
  ruleState: AbsenceRuleState,
  rule: AbsenceRule,
  customerId: string,
  cart: CartState | null,
  now: number,
  dueBy: number = now,
): AbsenceOutcome {
  const id = timerIdFor(customerId, rule.name);
  const pending = ruleState.pending;
  if (pending === null) return { trigger: null, timers: { set: [], cancel: [id] } };
  // Restarted since the timer was scheduled: put it back at its current due time.
  if (pending.dueAt > dueBy) return { trigger: null, timers: { set: [{ id, dueAt: pending.dueAt }], cancel: [] } };
  ruleState.pending = null;
  return { trigger: absenceTrigger(rule, customerId, pending, cart, now), timers: { set: [], cancel: [id] } };
}

/** A `context: cart` rule's wait ends when the cart it would report is empty. */
export function cancelOnEmptyCart(ruleState: AbsenceRuleState, rule: AbsenceRule, customerId: string, cart: CartState | null): TimerChanges {
  if (rule.context !== 'cart' || ruleState.pending === null || (cart !== null && cart.items.length > 0)) return noTimerChanges();
  ruleState.pending = null;
  return { set: [], cancel: [timerIdFor(customerId, rule.name)] };
}

function isCancelling(rule: AbsenceRule, event: BehaviorEvent): boolean {
  return (rule.notFollowedBy as readonly string[]).includes(event.type);
}

function cancel(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): AbsenceOutcome {
  const t = event.occurred_at;
  ruleState.lastCancelAt = Math.max(ruleState.lastCancelAt ?? t, t);
  if (ruleState.pending === null || t < ruleState.pending.at) return { trigger: null, timers: noTimerChanges() };
  ruleState.pending = null;
  return { trigger: null, timers: { set: [], cancel: [timerIdFor(event.customer_id, rule.name)] } };
}

function arm(ruleState: AbsenceRuleState, rule: AbsenceRule, event: BehaviorEvent): AbsenceOutcome {
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
  return {
    // The arming event's id: a replay arms on, and fires for, the same event.
    trigger_id: triggerId(rule.name, customerId, pending.eventId),
    rule: rule.name,
    customer_id: customerId,
    fired_at: now,
    cause_event_id: pending.eventId,
    context,
  };
}
