/** Whether an event is one a rule counts or is armed by. Pure. */
import { matchesWhere } from '../definitions';
import type { BehaviorEvent } from '../types';
import type { TriggerRule } from './rules';

/** True when the event's type is one of the rule's `event` types and every `where` holds. */
export function matchesRule(rule: TriggerRule, event: BehaviorEvent): boolean {
  if (!(rule.events as readonly string[]).includes(event.type)) return false;
  return matchesWhere(rule.where, event);
}
