/** The input topics as the consuming services read them, declared once. */
import type { Type } from 'avsc';
import {
  behaviorEventLimitProblem,
  customerProfileLimitProblem,
  RECORD_LIMITS,
  recordBytesProblem,
  recordKeyProblem,
} from '../core/limits';
import { behaviorEventProblem, customerProfileProblem, type BehaviorEvent, type CustomerProfile, type EmailOutcome } from '../core/types';
import { emailOutcomeLimitProblem, emailOutcomeProblem } from '../core/experiments/attribution';
import { bindTopic, type AnyTopicBinding, type TopicBinding } from './consumer-runner';

/** How a record is checked at the edge: its limits (core/limits.ts, 'over-limit'), then whether it is possible ('invalid'). */
type RecordChecks<T> = Required<Pick<TopicBinding<T>, 'keyLimits' | 'maxDecodeBytes' | 'limits' | 'validate'>>;

export const behaviorEventChecks: RecordChecks<BehaviorEvent> = {
  keyLimits: recordKeyProblem,
  maxDecodeBytes: RECORD_LIMITS.decodeBytes,
  limits: (event, bytes) => behaviorEventLimitProblem(event) ?? recordBytesProblem(bytes),
  validate: (event) => behaviorEventProblem(event),
};

export const customerProfileChecks: RecordChecks<CustomerProfile> = {
  keyLimits: recordKeyProblem,
  maxDecodeBytes: RECORD_LIMITS.decodeBytes,
  limits: (profile, bytes) => customerProfileLimitProblem(profile) ?? recordBytesProblem(bytes),
  validate: (profile) => customerProfileProblem(profile),
};

/** behavior.events: bounded, validated, keyed by customer_id, its event time `occurred_at` bounded. */
export function behaviorEventsInput(topic: string, type: Type): AnyTopicBinding {
  return bindTopic<BehaviorEvent>({ topic, type, ...behaviorEventChecks, keyField: 'customer_id', eventTimeField: 'occurred_at' });
}

/** customer.profiles: bounded, validated, keyed by customer_id, tombstones erase, `updated_at` bounded. */
export function customerProfilesInput(topic: string, type: Type): AnyTopicBinding {
  return bindTopic<CustomerProfile>({
    topic,
    type,
    ...customerProfileChecks,
    tombstones: true,
    keyField: 'customer_id',
    eventTimeField: 'updated_at',
  });
}

export const emailOutcomeChecks: RecordChecks<EmailOutcome> = {
  keyLimits: recordKeyProblem,
  maxDecodeBytes: RECORD_LIMITS.decodeBytes,
  limits: (outcome, bytes) => emailOutcomeLimitProblem(outcome) ?? recordBytesProblem(bytes),
  validate: (outcome) => emailOutcomeProblem(outcome),
};

/**
 * email.outcomes (the results service): bounded, validated, keyed by customer_id. No event-time
 * bound: a holdout's `at` is when its email would have gone, later than now under a send delay.
 */
export function emailOutcomesInput(topic: string, type: Type): AnyTopicBinding {
  return bindTopic<EmailOutcome>({ topic, type, ...emailOutcomeChecks, keyField: 'customer_id' });
}
