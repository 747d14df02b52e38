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
  timerIdFor,
  type EngineResult,
  type TriggerRule,
} from '../core/triggers';
import type { BehaviorEvent } from '../core/types';

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

  customersOfRecords(records: ConsumedRecord<unknown>[]): string[] {
    return records.map((r) => r.key as string);
  }

  customersOfTimers(timers: DueTimer[]): string[] {
    return timers.flatMap((t) => parseTimerId(t.member)?.customerId ?? []);
  }

  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[], now: number): PartitionChange {
    if (records[0]?.topic === this.profilesTopic) return this.onProfiles(records);
    const byCustomer = new Map<string, BehaviorEvent[]>();
    for (const record of records) {
      const event = record.value as BehaviorEvent;
      const events = byCustomer.get(event.customer_id) ?? [];
      events.push(event);
      byCustomer.set(event.customer_id, events);
    }
    const change = emptyChange();
    for (const [customer, events] of byCustomer) {
      const result = applyEvents(decodeTriggerState(snapshot.states.get(customer)), events, this.rules, now);
      for (const [reason, count] of Object.entries(result.ignored)) {
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
      for (const rule of this.rules) if (rule.kind === 'absence') change.timers.set(timerIdFor(customer, rule.name), null);
    }
    return change;
  }

  onTimers(snapshot: PartitionSnapshot, timers: DueTimer[], now: number): PartitionChange {
    const change = emptyChange();
    for (const { member } of timers) {
      const target = parseTimerId(member);
      if (target === null) {
        change.timers.set(member, null); // not ours to interpret: drop it rather than loop on it
        continue;
      }
      // Several timers of one customer in a tick: each sees the state the previous one left.
      const current = change.states.has(target.customerId) ? change.states.get(target.customerId) : snapshot.states.get(target.customerId);
      const result = fireTimer(decodeTriggerState(current ?? null), member, this.rules, now);
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
