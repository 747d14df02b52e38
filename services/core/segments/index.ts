/** The pure segment engine: definitions, per-customer state and the functions adapters call. */
export {
  parseSegmentDefinitions,
  SegmentDefinitionError,
  type Comparison,
  type ComparisonOp,
  type Condition,
  type EventFilter,
  type ProfileOp,
  type ProfileValue,
  type SegmentDefinition,
} from './definition';
export { applyEvent, applyProfile, reevaluate, memberships, relevantEventTypes, SegmentEvaluations, SEGMENT_RULE_PREFIX, type IgnoredReason, type SegmentResult, type StateUse } from './engine';
export {
  isCompactSegmentState,
  parseSegmentState,
  serializeSegmentState,
  serializeSegmentStateJson,
  SEGMENT_STATE_COMPACT_MARKER,
  type SegmentState,
  type AggregateState,
  type StoredSegmentState,
  type SumBuckets,
} from './state';
export { segmentMembershipView, SegmentMembershipViewError, SEGMENT_MEMBERSHIP_VIEW_VERSIONS } from './membership-view';
export { MAX_SUM_BUCKETS } from './aggregates';
export { sumGranularityMs } from './plan';
export { segmentStateView, type SegmentStateView } from './membership-view';
export { factsOf, FACT_PURCHASE_CAP, NO_FACTS, type CustomerFacts } from './facts';
