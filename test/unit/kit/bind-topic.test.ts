import type { Type } from 'avsc';
import { bindTopic, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { behaviorEventProblem, type BehaviorEvent, type CustomerProfile } from '../../../services/core/types';

describe('bindTopic', () => {
  it('checks a binding against its value type and keeps it as it is for the runner', () => {
    const written = { topic: 'behavior.events', type: {} as Type, validate: (event: BehaviorEvent) => behaviorEventProblem(event), keyField: 'customer_id' };
    const binding: AnyTopicBinding = bindTopic<BehaviorEvent>(written);
    expect(binding).toBe(written);
  });

  it('refuses a validator of another value type (checked by tsc)', () => {
    // @ts-expect-error a profile validator does not fit a binding of behavior events
    const binding = bindTopic<BehaviorEvent>({ topic: 't', type: {} as Type, validate: (profile: CustomerProfile) => (profile.email ? null : 'no email') });
    expect(binding.topic).toBe('t');
  });
});
