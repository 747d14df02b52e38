/** Trigger detection: the pure core the trigger service's adapters call. See engine.ts for the call sequence. */
export { applyEvent, applyEvents, fireDueTimers, fireTimer, longestHorizonMs, timerIdsOfCustomer } from './engine';
export type { EngineResult, IgnoredCounts, IgnoredReason } from './engine';
export { parseTriggerRules, TriggerRuleError } from './rules';
export type { FieldEquals, TriggerRule } from './rules';
export { registerRuleKind } from './registry';
export { ruleSyntax } from './kinds';
export type { CommonRuleFields, RuleKind, RuleOutcome, RuleProblem, RuleSyntax, RuleTimer } from './kinds';
export type { ThresholdGroup, ThresholdRule, ThresholdRuleState } from './threshold';
export type { AbsenceRule, AbsenceRuleState, PendingAbsence } from './absence';
export {
  cloneTriggerState,
  decodeTriggerState,
  emptyTriggerState,
  encodeTriggerState,
  TriggerStateError,
  TRIGGER_STATE_VERSION,
} from './state';
export type { CartState, RuleState, TriggerState } from './state';
export { mergeTimerChanges, noTimerChanges, parseTimerId, timerIdFor } from './timers';
export type { TimerChanges } from './timers';
export { parseDuration } from './durations';
export * from './limits';
