/**
 * An example rule kind, written as a project adding one would: its own file plus
 * registerRuleKind(boughtAfterViewKind), and nothing in services/ changes.
 *
 * "A purchase above X cents of a product viewed at most T before" sends a follow-up F after the
 * purchase, so the kind waits: the purchase arms a timer due at occurred_at + F, fired by stream
 * time like an absence timer. A newer qualifying purchase moves the follow-up to itself.
 *
 *   - name: big_purchase_follow_up
 *     kind: bought_after_view
 *     event: product_view         # the views that count (`where` applies to them)
 *     above_cents: 10000
 *     within: 7d                  # from the view to the purchase
 *     follow_up: 2d               # from the purchase to the trigger
 */
import { triggerId } from '../../../../services/core/ids';
import {
  duration,
  isArrayOf,
  isNullable,
  isObject,
  isString,
  isTime,
  keepableValue,
  matchesRule,
  noTimerChanges,
  ruleSyntax,
  timerIdFor,
  wholeNumber,
  type RuleBase,
  type RuleKind,
  type RuleOutcome,
  type RuleStateBase,
} from '../../../../services/core/triggers';
import { parseDuration } from '../../../../services/core/definitions';
import type { BehaviorEvent } from '../../../../services/core/types';

export interface BoughtAfterViewRule extends RuleBase {
  kind: 'bought_after_view';
  aboveCents: number;
  /** As written, e.g. `7d`. */
  within: string;
  withinMs: number;
  followUpMs: number;
}

export interface BoughtAfterViewState extends RuleStateBase {
  kind: 'bought_after_view';
  /** The newest counted view per product, oldest first, at most MAX_VIEWS. */
  views: Array<{ productId: string; at: number }>;
  /** The qualifying purchase whose follow-up timer runs. */
  pending: { eventId: string; productId: string; valueCents: number; dueAt: number } | null;
}

declare module '../../../../services/core/triggers/kinds' {
  interface RuleKindTypes {
    bought_after_view: { rule: BoughtAfterViewRule; state: BoughtAfterViewState };
  }
}

const MAX_VIEWS = 20;

export const boughtAfterViewKind: RuleKind<BoughtAfterViewRule, BoughtAfterViewState> = {
  name: 'bought_after_view',
  syntax: ruleSyntax(
    { above_cents: wholeNumber(100_000_000), within: duration({ allowZero: false }), follow_up: duration({ allowZero: true }) },
    {
      toRule: (fields, common) => ({
        kind: 'bought_after_view',
        ...common,
        aboveCents: fields.above_cents,
        within: fields.within.trim(),
        withinMs: parseDuration(fields.within)!,
        followUpMs: parseDuration(fields.follow_up)!,
      }),
    },
  ),
  horizonMs: (rule) => rule.withinMs + rule.followUpMs,
  concerns: (rule, event) => isCountedView(rule, event) || isPurchase(event),
  newState: (rule) => ({ rule: rule.name, kind: 'bought_after_view', views: [], pending: null }),
  apply: (ruleState, rule, event) => (isPurchase(event) ? purchase(ruleState, rule, event) : view(ruleState, rule, event)),
  timer: {
    dueAt: (ruleState) => ruleState.pending?.dueAt ?? null,
    fire: (ruleState, rule, customerId, _cart, now, dueBy) => {
      const id = timerIdFor(customerId, rule.name);
      const pending = ruleState.pending;
      if (pending === null) return { trigger: null, timers: { set: [], cancel: [id] } };
      if (pending.dueAt > dueBy) return { trigger: null, timers: { set: [{ id, dueAt: pending.dueAt }], cancel: [] } };
      ruleState.pending = null;
      return {
        trigger: {
          trigger_id: triggerId(rule.name, customerId, pending.eventId),
          rule: rule.name,
          customer_id: customerId,
          fired_at: now,
          cause_event_id: pending.eventId,
          context: { product_id: pending.productId, value_cents: String(pending.valueCents), within: rule.within },
        },
        timers: { set: [], cancel: [id] },
      };
    },
  },
  reportsCart: () => false,
  afterRemoveFromCart: null,
  isState: (raw) => isArrayOf(raw['views'], isView) && isNullable(raw['pending'], isPending),
  cloneState: (ruleState) => ({
    ...ruleState,
    views: ruleState.views.map((entry) => ({ ...entry })),
    pending: ruleState.pending === null ? null : { ...ruleState.pending },
  }),
};

function isCountedView(rule: BoughtAfterViewRule, event: BehaviorEvent): boolean {
  return matchesRule(rule, event) && keepableValue(event.product_id) !== null;
}

function isPurchase(event: BehaviorEvent): boolean {
  return event.type === 'purchase';
}

function view(ruleState: BoughtAfterViewState, rule: BoughtAfterViewRule, event: BehaviorEvent): RuleOutcome {
  const productId = event.product_id!;
  const previous = ruleState.views.find((entry) => entry.productId === productId);
  const at = Math.max(previous?.at ?? event.occurred_at, event.occurred_at);
  ruleState.views = [...ruleState.views.filter((entry) => entry.productId !== productId), { productId, at }]
    .filter((entry) => entry.at >= at - rule.withinMs)
    .slice(-MAX_VIEWS);
  return { trigger: null, timers: noTimerChanges() };
}

function purchase(ruleState: BoughtAfterViewState, rule: BoughtAfterViewRule, event: BehaviorEvent): RuleOutcome {
  const t = event.occurred_at;
  const viewed = ruleState.views.find((entry) => entry.productId === event.product_id);
  const qualifies = viewed !== undefined && (event.value_cents ?? 0) > rule.aboveCents && viewed.at <= t && t - viewed.at <= rule.withinMs;
  if (!qualifies || (ruleState.pending !== null && t + rule.followUpMs < ruleState.pending.dueAt)) {
    return { trigger: null, timers: noTimerChanges() };
  }
  ruleState.pending = { eventId: event.event_id, productId: viewed.productId, valueCents: event.value_cents!, dueAt: t + rule.followUpMs };
  return { trigger: null, timers: { set: [{ id: timerIdFor(event.customer_id, rule.name), dueAt: ruleState.pending.dueAt }], cancel: [] } };
}

function isView(raw: unknown): boolean {
  return isObject(raw) && isString(raw['productId']) && isTime(raw['at']);
}

function isPending(raw: unknown): boolean {
  return (
    isObject(raw) && isString(raw['eventId']) && isString(raw['productId']) && isTime(raw['valueCents']) && isTime(raw['dueAt'])
  );
}
