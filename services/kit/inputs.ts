/** The input topics as the consuming services read them, declared once. */
import type { Type } from 'avsc';
import { behaviorEventProblem, customerProfileProblem, type BehaviorEvent, type CustomerProfile } from '../core/types';
import { bindTopic, type AnyTopicBinding } from './consumer-runner';

/** behavior.events: validated, keyed by customer_id, its event time `occurred_at` bounded. */
export function behaviorEventsInput(topic: string, type: Type): AnyTopicBinding {
  return bindTopic<BehaviorEvent>({
    topic,
    type,
    validate: (event) => behaviorEventProblem(event),
    keyField: 'customer_id',
    eventTimeField: 'occurred_at',
  });
}

/** customer.profiles: validated, keyed by customer_id, tombstones erase, `updated_at` bounded. */
export function customerProfilesInput(topic: string, type: Type): AnyTopicBinding {
  return bindTopic<CustomerProfile>({
    topic,
    type,
    validate: (profile) => customerProfileProblem(profile),
    tombstones: true,
    keyField: 'customer_id',
    eventTimeField: 'updated_at',
  });
}
