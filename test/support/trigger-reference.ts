/**
 * The reference for the trigger service's tests: what one uninterrupted, live instance fires,
 * computed with the pure core alone (no Kafka, no Redis, no adapter, no batching), so a bug of
 * the adapter, the fence or the relay cannot hide in both runs alike.
 *
 * Per partition, in log order, each event is applied after the timers its customer had due by
 * the partition's stream time (the newest event time read before it); at the end, the timers
 * due by the stream time, or also by `clock` when the run ends caught up with a clock past them.
 */
import { partitionOf } from '../../services/kit/partitioner';
import { applyEvents, fireDueTimers, type TriggerRule, type TriggerState } from '../../services/core/triggers';
import type { BehaviorEvent, TriggerFired } from '../../services/core/types';

export function referenceTriggers(
  events: readonly BehaviorEvent[],
  rules: readonly TriggerRule[],
  options: { partitions: number; now: number; endDueBy: 'stream-time' | 'clock' },
): Map<string, TriggerFired> {
  const fired = new Map<string, TriggerFired>();
  const states = new Map<string, TriggerState>();
  const streamTimes = new Map<number, number>();
  const partitionOfCustomer = (customer: string) => partitionOf(customer, options.partitions);
  for (const event of events) {
    const partition = partitionOfCustomer(event.customer_id);
    const streamTime = streamTimes.get(partition) ?? null;
    const result = applyEvents(states.get(event.customer_id) ?? null, [event], rules, options.now, [streamTime]);
    states.set(event.customer_id, result.state);
    for (const t of result.triggers) fired.set(t.trigger_id, t);
    streamTimes.set(partition, Math.max(streamTime ?? event.occurred_at, event.occurred_at));
  }
  for (const [customer, state] of states) {
    const streamTime = streamTimes.get(partitionOfCustomer(customer)) as number;
    const dueBy = options.endDueBy === 'clock' ? Math.max(streamTime, options.now) : streamTime;
    for (const t of fireDueTimers(state, customer, rules, options.now, dueBy).triggers) fired.set(t.trigger_id, t);
  }
  return fired;
}
