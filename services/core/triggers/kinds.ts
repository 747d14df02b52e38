/**
 * What a trigger rule kind is: one descriptor per kind (threshold.ts, absence.ts) holds its rule
 * file keys, its state, how it applies events and fires timers, and how long its state matters.
 * The parser, the engine, state decoding, erasure and the service's TTL use descriptors only
 * (registry.ts), so a new kind is its own file plus registration, and a descriptor that lacks a
 * member does not compile. Pure.
 */
import { z } from 'zod';
import { triggerId } from '../ids';
import type { BehaviorEvent, KnownEventType, TriggerFired } from '../types';
import type { AbsenceRule, AbsenceRuleState } from './absence';
import type { FieldEquals, RuleBase, TriggerRule } from './rules';
import type { CartState, RuleState, RuleStateBase } from './state';
import type { ThresholdRule, ThresholdRuleState } from './threshold';
import type { TimerChanges } from './timers';

/**
 * The rule kinds by name, with the types of their rules and states; TriggerRule and RuleState
 * are their unions. A module adding a kind declares it here too (registerRuleKind requires it):
 *   declare module '<path>/core/triggers/kinds' {
 *     interface RuleKindTypes { my_kind: { rule: MyRule; state: MyRuleState } }
 *   }
 */
export interface RuleKindTypes {
  threshold: { rule: ThresholdRule; state: ThresholdRuleState };
  absence: { rule: AbsenceRule; state: AbsenceRuleState };
}

/** What a rule did with an event or a timer. */
export interface RuleOutcome {
  trigger: TriggerFired | null;
  timers: TimerChanges;
}

/** The keys every rule has, as rules.ts read them. */
export interface CommonRuleFields {
  name: string;
  description: string | null;
  events: KnownEventType[];
  where: FieldEquals[];
}

/** A problem across a kind's keys, reported like a schema issue. */
export interface RuleProblem {
  path: string;
  input: unknown;
  message: string;
}

/** How a kind's own keys of a rule file are read (ruleSyntax builds one). */
export interface RuleSyntax<R extends RuleBase> {
  /** Schemas of the kind's keys; rules.ts adds name, kind, description, event and where. */
  readonly fields: z.core.$ZodLooseShape;
  /** Problems across keys once each is valid (`events`: the rule's `event` types). */
  problems(fields: Record<string, unknown>, events: readonly KnownEventType[]): RuleProblem[];
  /** The rule, from its validated keys. */
  toRule(fields: Record<string, unknown>, common: CommonRuleFields): R;
}

/**
 * The timer of a kind that waits: at most one per rule and customer, with the id
 * timerIdFor(customer, rule), so erasure and pruning can cancel it without knowing the kind.
 */
export interface RuleTimer<R extends RuleBase, S extends RuleStateBase> {
  /** When the state's timer is due, or null when it holds none. */
  dueAt(ruleState: S): number | null;
  /**
   * Fires the timer if it is due by `dueBy` (stream time, or the clock once caught up); `now` is
   * the firing's fired_at. A timer not yet due is set again at its due time.
   */
  fire(ruleState: S, rule: R, customerId: string, cart: CartState | null, now: number, dueBy: number): RuleOutcome;
}

/**
 * One rule kind. Members are methods so that descriptors of different kinds share one registry;
 * every member is required (null where a kind has no such thing) so a new kind is complete.
 */
export interface RuleKind<R extends RuleBase, S extends RuleStateBase> {
  /** The `kind:` of its rules and of their states. */
  readonly name: R['kind'] & S['kind'];
  readonly syntax: RuleSyntax<R>;
  /** How long after a customer's last event the state can still matter (the state TTL is the longest). */
  horizonMs(rule: R): number;
  /** True when the event changes the rule's state or fires it. */
  concerns(rule: R, event: BehaviorEvent): boolean;
  /** A fresh state for the rule, created by the first event that concerns it. */
  newState(rule: R, event: BehaviorEvent): S;
  /** Applies an event that concerns the rule; mutates the working state. `now` is a firing's fired_at. */
  apply(ruleState: S, rule: R, event: BehaviorEvent, now: number): RuleOutcome;
  /** Null for a kind that never waits. */
  readonly timer: RuleTimer<R, S> | null;
  /** True when the rule reports the cart, so the engine must track it. */
  reportsCart(rule: R): boolean;
  /** Called on every remove_from_cart once the cart is updated, or null: what the rule does then. */
  readonly afterRemoveFromCart: ((ruleState: S, rule: R, customerId: string, cart: CartState | null) => TimerChanges) | null;
  /** True when a stored state (an object whose `rule` is a string and `kind` this kind) is well formed. */
  isState(raw: Record<string, unknown>): boolean;
  /** A deep copy of the state, for the engine to work on. */
  cloneState(ruleState: S): S;
}

/** A kind whose rule and state types are not known here: what the registry holds. */
export type AnyRuleKind = RuleKind<TriggerRule, RuleState>;

/** A RuleSyntax with its keys typed from their schemas. */
export function ruleSyntax<Shape extends z.core.$ZodLooseShape, R extends RuleBase>(
  fields: Shape,
  read: {
    problems?: (fields: z.output<z.ZodObject<Shape>>, events: readonly KnownEventType[]) => RuleProblem[];
    toRule: (fields: z.output<z.ZodObject<Shape>>, common: CommonRuleFields) => R;
  },
): RuleSyntax<R> {
  // rules.ts validated the keys with these schemas, so they have these types.
  type Fields = z.output<z.ZodObject<Shape>>;
  return {
    fields,
    problems: (values, events) => read.problems?.(values as Fields, events) ?? [],
    toRule: (values, common) => read.toRule(values as Fields, common),
  };
}

/**
 * A rule's firing. Its id comes from the rule, the customer and the causing event alone, so a
 * replay of the same input fires with the same id and downstream can drop the repeat.
 */
export function ruleFiring(ruleName: string, customerId: string, causeEventId: string, now: number, context: Record<string, string>): TriggerFired {
  return {
    trigger_id: triggerId(ruleName, customerId, causeEventId),
    rule: ruleName,
    customer_id: customerId,
    fired_at: now,
    cause_event_id: causeEventId,
    context,
  };
}
