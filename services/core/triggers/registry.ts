/**
 * The rule kinds rule files may name: the shipped ones, plus any registered at start-up. Pure
 * apart from this one table, which only grows.
 */
import { absenceKind } from './absence';
import type { AnyRuleKind, RuleKind } from './kinds';
import type { TriggerRule } from './rules';
import type { RuleState } from './state';
import { thresholdKind } from './threshold';

const KIND_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

const kinds = new Map<string, AnyRuleKind>();

/**
 * Adds a rule kind (declared in RuleKindTypes), before any rule of it is parsed; throws on a bad
 * or taken name. The shipped kinds are registered already.
 */
export function registerRuleKind<R extends TriggerRule, S extends RuleState>(kind: RuleKind<R, S>): void {
  if (!KIND_NAME_PATTERN.test(kind.name)) throw new Error(`kairos triggers: rule kind ${JSON.stringify(kind.name)} is not a kind name; expected lowercase letters, digits or _`);
  if (kinds.has(kind.name)) throw new Error(`kairos triggers: rule kind ${JSON.stringify(kind.name)} is registered already`);
  // Safe: a kind is only ever handed rules and states whose `kind` is its name.
  kinds.set(kind.name, kind as unknown as AnyRuleKind);
}

/** The kind of that name, or undefined when none is registered. */
export function findRuleKind(name: unknown): AnyRuleKind | undefined {
  return typeof name === 'string' ? kinds.get(name) : undefined;
}

/** The kind of a parsed rule or of a decoded state (whose kinds are registered). */
export function ruleKindOf(item: { kind: string }): AnyRuleKind {
  const kind = kinds.get(item.kind);
  if (kind === undefined) throw new Error(`kairos triggers: rule kind ${JSON.stringify(item.kind)} is not registered`);
  return kind;
}

/** The registered kind names, shipped ones first. */
export function ruleKindNames(): string[] {
  return [...kinds.keys()];
}

registerRuleKind(thresholdKind);
registerRuleKind(absenceKind);
