/** Trigger detection: the pure core the trigger service's adapters call. See engine.ts for the call sequence. */
export { applyEvent, applyEvents, fireDueTimers, fireTimer, longestHorizonMs, timerIdsOfCustomer } from './engine';
export type { EngineResult, IgnoredCounts, IgnoredReason } from './engine';
export { parseTriggerRules, TriggerRuleError } from './rules';
export type { FieldEquals, TriggerRule } from './rules';
// For writing a rule kind (see kinds.ts): the descriptor, its registration and the parts the
// shipped kinds are built from.
export { registerRuleKind } from './registry';
export { ruleSyntax } from './kinds';
export type { CommonRuleFields, RuleKind, RuleKindTypes, RuleOutcome, RuleProblem, RuleSyntax, RuleTimer } from './kinds';
export type { RuleBase } from './rules';
export type { RuleStateBase } from './state';
export { duration, eventField, eventTypes, expecting, wholeNumber } from './rule-syntax';
export { matchesRule } from './matching';
export { isArrayOf, isNullable, isObject, isString, isTime, keepableValue, storedKey } from './stored-values';
export type { ThresholdGroup, ThresholdRule, ThresholdRuleState } from './threshold';
export type { AbsenceRule, AbsenceRuleState, PendingAbsence } from './absence';
export {
  cloneTriggerState,
  decodeTriggerState,
  emptyTriggerState,
  encodeTriggerState,
  encodeTriggerStateJson,
  TriggerStateError,
  TRIGGER_STATE_COMPACT_MARKER,
  TRIGGER_STATE_VERSION,
} from './state';
export type { CartState, RuleState, StoredTriggerState, TriggerState } from './state';
export { mergeTimerChanges, noTimerChanges, parseTimerId, timerIdFor } from './timers';
export type { TimerChanges } from './timers';
export * from './limits';
