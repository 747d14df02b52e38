import type { ConsumedRecord } from '../kit/consumer-runner';
import { decodeStateOf } from '../kit/errors';
import type { KairosMetrics } from '../kit/metrics';
import type { DueTimer, PartitionLogic } from '../kit/partition-processor';
import { emptyChange, stateText, type PartitionChange, type PartitionSnapshot } from '../kit/partition-state';
import {
  applyRecords,
  parseAttributionState,
  parseCellKey,
  serializeAttributionState,
  type AttributionOptions,
  type AttributionRecord,
} from '../core/experiments/attribution';
import { COUNTER_FIELDS } from '../core/experiments/model';
import type { BehaviorEvent, EmailOutcome } from '../core/types';
import { CAMPAIGNS_HASH, campaignHash, counterField } from './store';

/**
 * The results service's adapter around the pure attribution: a batch's records go to their
 * customers' states (outcomes and events alike, in offset order), and the new states with the
 * counters' deltas become one atomic PartitionChange, so a replayed batch counts nothing twice.
 */
export class ResultsLogic implements PartitionLogic {
  constructor(
    private readonly outcomesTopic: string,
    private readonly options: AttributionOptions,
    private readonly metrics: KairosMetrics,
  ) {}

  customerOfRecord(record: ConsumedRecord<unknown>): string {
    return record.key as string; // the runner checked that the key is the customer_id
  }

  eventTime(record: ConsumedRecord<unknown>): number | null {
    if (record.value === null) return null;
    return record.topic === this.outcomesTopic ? (record.value as EmailOutcome).at : (record.value as BehaviorEvent).occurred_at;
  }

  customersOfTimers(timers: DueTimer[]): string[] {
    return timers.map((t) => t.member);
  }

  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[]): PartitionChange {
    const byCustomer = new Map<string, AttributionRecord[]>();
    for (const record of records) {
      const customer = this.customerOfRecord(record);
      const list = byCustomer.get(customer) ?? [];
      list.push(record.topic === this.outcomesTopic ? { outcome: record.value as EmailOutcome } : { event: record.value as BehaviorEvent });
      byCustomer.set(customer, list);
    }
    const change = emptyChange();
    const sums = new Map<string, { hash: string; field: string; by: number; float?: boolean }>();
    const add = (hash: string, field: string, by: number, float = false) => {
      const key = `${hash}\u0000${field}`;
      const entry = sums.get(key) ?? { hash, field, by: 0, ...(float ? { float } : {}) };
      entry.by += by;
      sums.set(key, entry);
    };
    for (const [customer, list] of byCustomer) {
      const previous = decodeStateOf(customer, () => parseAttributionState(stateText(snapshot.states.get(customer))));
      const { state, delta, ignored, changed } = applyRecords(previous, list, this.options);
      for (const [reason, count] of Object.entries(ignored)) this.metrics.eventsIgnored.inc({ reason: `results_${reason}` }, count);
      if (!changed) continue;
      change.states.set(customer, serializeAttributionState(state));
      for (const [key, counters] of delta) {
        const cell = parseCellKey(key);
        for (const field of COUNTER_FIELDS) {
          if (counters[field] !== 0) add(campaignHash(cell.campaign), counterField(cell, field), counters[field], field === 'revenueSq');
        }
        if (cell.segment === '*' && counters.sent !== 0) add(CAMPAIGNS_HASH, cell.campaign, counters.sent);
      }
    }
    change.counters = [...sums.values()].filter((c) => c.by !== 0);
    return change;
  }

  /** The results service sets no timers. */
  onTimers(): PartitionChange {
    return emptyChange();
  }
}
