/** Trigger detection: the pure core the trigger service's adapters call. See engine.ts for the call sequence. */
export { applyEvent, applyEvents, fireDueTimers, fireTimer } from './engine';
export type { EngineResult, IgnoredCounts, IgnoredReason } from './engine';
export { parseTriggerRules, TriggerRuleError, MAX_GREATER_THAN, MAX_DURATION_MS } from './rules';
export type { AbsenceRule, FieldEquals, ThresholdRule, TriggerRule } from './rules';
export {
  cloneTriggerState,
  decodeTriggerState,
  emptyTriggerState,
  encodeTriggerState,
  TriggerStateError,
  TRIGGER_STATE_VERSION,
} from './state';
export type {
  AbsenceRuleState,
  CartState,
  PendingAbsence,
  RuleState,
  ThresholdGroup,
  ThresholdRuleState,
  TriggerState,
} from './state';
export { mergeTimerChanges, noTimerChanges, parseTimerId, timerIdFor } from './timers';
export type { TimerChanges } from './timers';
export * from './limits';
