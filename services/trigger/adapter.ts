import type { ConsumedRecord } from '../kit/consumer-runner';
import type { KairosMetrics } from '../kit/metrics';
import type { OutputEncoder } from '../kit/partition-service';
import { emptyChange, type PartitionChange, type PartitionSnapshot } from '../kit/partition-state';
import { encodeOutboxRecord, type DueTimer, type PartitionLogic } from '../kit/partition-processor';
import {
  applyEvents,
  decodeTriggerState,
  encodeTriggerState,
  fireTimer,
  parseTimerId,
  timerIdsOfCustomer,
  type EngineResult,
  type TriggerRule,
} from '../core/triggers';
import type { BehaviorEvent } from '../core/types';
import { decodeStateOf } from '../kit/errors';

/**
 * The trigger service's adapter around the pure detection core: per customer, the events of a
 * batch (or a due timer) go through the engine; the new state, the TriggerFired records and
 * the timer changes become one atomic PartitionChange.
 */
export class TriggerLogic implements PartitionLogic {
  constructor(
    private readonly rules: readonly TriggerRule[],
    private readonly triggers: OutputEncoder,
    private readonly metrics: KairosMetrics,
    /** Tombstones on this topic erase the customer's trigger state and timers. */
    private readonly profilesTopic?: string,
  ) {}

  customerOfRecord(record: ConsumedRecord<unknown>): string {
    return record.key as string;
  }

  eventTime(record: ConsumedRecord<unknown>): number | null {
    return record.topic === this.profilesTopic || record.value === null ? null : (record.value as BehaviorEvent).occurred_at;
  }

  customersOfTimers(timers: DueTimer[]): string[] {
    return timers.flatMap((t) => parseTimerId(t.member)?.customerId ?? []);
  }

  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[], now: number): PartitionChange {
    if (records[0]?.topic === this.profilesTopic) return this.onProfiles(records);
    // Each event with the partition's stream time before it was read: timers due by then fire
    // first, as they would have in a live run (see fireDueTimers).
    const byCustomer = new Map<string, { events: BehaviorEvent[]; streamTimes: Array<number | null> }>();
    let streamTime = snapshot.streamTime;
    for (let i = 0; i < records.length; i += 1) {
      const event = (records[i] as ConsumedRecord<unknown>).value as BehaviorEvent;
      const entry = byCustomer.get(event.customer_id) ?? { events: [], streamTimes: [] };
      entry.events.push(event);
      entry.streamTimes.push(streamTime);
      byCustomer.set(event.customer_id, entry);
      streamTime = streamTime === null ? event.occurred_at : Math.max(streamTime, event.occurred_at);
    }
    const change = emptyChange();
    for (const [customer, { events, streamTimes }] of byCustomer) {
      const state = decodeStateOf(customer, () => decodeTriggerState(snapshot.states.get(customer)));
      const result = applyEvents(state, events, this.rules, now, streamTimes);
      // for...in: no array of pairs per customer.
      for (const reason in result.ignored) {
        const count = result.ignored[reason as keyof typeof result.ignored];
        if (count > 0) this.metrics.eventsIgnored.inc({ reason }, count);
      }
      this.collect(change, customer, result);
    }
    return change;
  }

  /** Profiles matter only as erasure: a tombstone deletes the state and cancels every timer. */
  private onProfiles(records: ConsumedRecord<unknown>[]): PartitionChange {
    const change = emptyChange();
    for (const record of records) {
      if (record.value !== null) continue;
      const customer = record.key as string;
      change.states.set(customer, null);
      for (const id of timerIdsOfCustomer(customer, this.rules)) change.timers.set(id, null);
    }
    return change;
  }

  onTimers(snapshot: PartitionSnapshot, timers: DueTimer[], now: number, dueBy: number): PartitionChange {
    const change = emptyChange();
    for (const { member } of timers) {
      const target = parseTimerId(member);
      if (target === null) {
        change.timers.set(member, null); // not ours to interpret: drop it rather than loop on it
        continue;
      }
      // Several timers of one customer in a tick: each sees the state the previous one left.
      const current = change.states.has(target.customerId) ? change.states.get(target.customerId) : snapshot.states.get(target.customerId);
      const state = decodeStateOf(target.customerId, () => decodeTriggerState(current ?? null));
      const result = fireTimer(state, member, this.rules, now, dueBy);
      this.collect(change, target.customerId, result);
      // A due timer the engine neither re-set nor cancelled has fired: it must leave the set.
      if (!change.timers.has(member)) change.timers.set(member, null);
    }
    return change;
  }

  private collect(change: PartitionChange, customer: string, result: Pick<EngineResult, 'state' | 'triggers' | 'timers' | 'changed'>): void {
    if (result.changed) change.states.set(customer, encodeTriggerState(result.state));
    for (const trigger of result.triggers) {
      change.outbox.push(encodeOutboxRecord({ topic: this.triggers.topic, key: customer, value: this.triggers.encode(trigger) }));
    }
    for (const { id, dueAt } of result.timers.set) change.timers.set(id, dueAt);
    for (const id of result.timers.cancel) change.timers.set(id, null);
  }
}
