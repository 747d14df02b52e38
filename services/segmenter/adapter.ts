import type { ConsumedRecord } from '../kit/consumer-runner';
import type { KairosMetrics } from '../kit/metrics';
import type { OutputEncoder } from '../kit/partition-service';
import { emptyChange, type PartitionChange, type PartitionSnapshot } from '../kit/partition-state';
import { encodeOutboxRecord, type DueTimer, type PartitionLogic } from '../kit/partition-processor';
import {
  applyEvent,
  applyProfile,
  parseSegmentState,
  reevaluate,
  SegmentEvaluations,
  serializeSegmentState,
  type SegmentDefinition,
  type SegmentResult,
  type SegmentState,
  type StateUse,
} from '../core/segments';
import type { BehaviorEvent, CustomerProfile, SegmentChange } from '../core/types';
import { decodeStateOf } from '../kit/errors';

/** The per-partition set holding a segment's members (for sizes and member lists). */
export function membersSet(segment: string): string {
  return `m:${segment}`;
}

/**
 * The segmenter's adapter around the pure segment engine: events and profiles of a batch (or
 * a due wake-up) go through the engine per customer, in offset order; the new states, the
 * SegmentChange and TriggerFired records, the membership sets and each customer's next wake-up
 * become one atomic PartitionChange.
 */
export class SegmenterLogic implements PartitionLogic {
  constructor(
    private readonly definitions: readonly SegmentDefinition[],
    private readonly profilesTopic: string,
    private readonly out: { changes: OutputEncoder; triggers: OutputEncoder },
    private readonly metrics: KairosMetrics,
  ) {}

  customerOfRecord(record: ConsumedRecord<unknown>): string {
    return customerOf(record);
  }

  eventTime(record: ConsumedRecord<unknown>): number | null {
    return record.topic === this.profilesTopic || record.value === null ? null : (record.value as BehaviorEvent).occurred_at;
  }

  customersOfTimers(timers: DueTimer[]): string[] {
    return timers.map((t) => t.member);
  }

  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[], now: number): PartitionChange {
    const work = new Work(snapshot);
    for (let i = 0; i < records.length; i += 1) {
      const record = records[i] as ConsumedRecord<unknown>;
      const customer = customerOf(record);
      const { state, use } = work.customer(customer);
      const result =
        record.topic === this.profilesTopic
          ? applyProfile(state, record.value as CustomerProfile | null, this.definitions, now, use)
          : applyEvent(state, record.value as BehaviorEvent, this.definitions, now, use);
      this.collect(work, customer, result, now);
    }
    return work.finish();
  }

  /**
   * Membership is judged at the service clock, as onRecords does; `dueBy` only gated which
   * timers are due. A wake-up is put after both, or it would be due again in the same tick.
   */
  onTimers(snapshot: PartitionSnapshot, timers: DueTimer[], now: number, dueBy: number): PartitionChange {
    const work = new Work(snapshot);
    for (const { member: customer } of timers) {
      const { state, use } = work.customer(customer);
      this.collect(work, customer, reevaluate(state, this.definitions, now, use), Math.max(now, dueBy));
    }
    return work.finish();
  }

  /** `notBefore`: a wake-up at or before it would fire again at once. */
  private collect(work: Work, customer: string, result: SegmentResult, notBefore: number): void {
    if (result.ignored !== null) {
      this.metrics.eventsIgnored.inc({ reason: result.ignored });
      return;
    }
    work.set(customer, result.state);
    for (const each of result.changes) {
      const change = work.distinctTime(each);
      work.change.outbox.push(encodeOutboxRecord({ topic: this.out.changes.topic, key: customer, value: this.out.changes.encode(change) }));
      work.change.sets.push({ set: membersSet(change.segment), op: change.change === 'entered' ? '+' : '-', member: customer });
    }
    for (const trigger of result.triggers) {
      work.change.outbox.push(encodeOutboxRecord({ topic: this.out.triggers.topic, key: customer, value: this.out.triggers.encode(trigger) }));
    }
    // A wake-up time not in the future would fire again at once; the engine never gives one,
    // but a timer must not be able to spin.
    const wakeAt = result.state === null || result.wakeAt === null ? null : Math.max(result.wakeAt, notBefore + 1);
    work.change.timers.set(customer, wakeAt);
  }
}

/**
 * A customer's state within one Work, and how the engine may use it. The state is the Work's own
 * (decoded from the snapshot's bytes for this computation, or returned by the engine for an
 * earlier record), so it is handed over: the engine changes it in place. The segment evaluations
 * are kept between the customer's records (one `now` per batch).
 */
interface CustomerWork {
  state: SegmentState | null;
  readonly use: StateUse;
}

/** One change being built, with the states it has already moved. */
class Work {
  readonly change = emptyChange();
  private readonly customers = new Map<string, CustomerWork>();
  private readonly lastChangeAt = new Map<string, number>();
  /** Customers whose state the batch changed, in the order first changed. */
  private readonly changed = new Set<string>();

  constructor(private readonly snapshot: PartitionSnapshot) {}

  /** The customer's state as this Work has it (decoded from the snapshot on first use), with its StateUse. */
  customer(customer: string): CustomerWork {
    let work = this.customers.get(customer);
    if (work === undefined) {
      const state = decodeStateOf(customer, () => parseSegmentState(this.snapshot.states.get(customer) ?? null));
      work = { state, use: { handOver: true, evaluations: new SegmentEvaluations() } };
      this.customers.set(customer, work);
    }
    return work;
  }

  /**
   * The change with an `at` later than every earlier change of the same customer and segment in
   * this batch: a segment can enter, exit and enter again within one batch (an add to the cart, a
   * purchase, another add), and analytics consumers drop duplicates by (customer, segment, change,
   * at) (docs/topics.md), so each later one is put at least 1 ms after the previous.
   */
  distinctTime(change: SegmentChange): SegmentChange {
    const key = `${change.customer_id}\u0000${change.segment}`;
    const previous = this.lastChangeAt.get(key);
    const at = previous === undefined ? change.at : Math.max(change.at, previous + 1);
    this.lastChangeAt.set(key, at);
    return at === change.at ? change : { ...change, at };
  }

  /** A customer's new state; encoded once, by finish, however many of its records the batch has. */
  set(customer: string, state: SegmentState | null): void {
    this.customer(customer).state = state;
    this.changed.add(customer);
  }

  finish(): PartitionChange {
    for (const customer of this.changed) {
      const state = this.customers.get(customer)?.state ?? null;
      this.change.states.set(customer, state === null ? null : serializeSegmentState(state));
    }
    return this.change;
  }
}

/** The runner checked that the key is the customer id (see TopicBinding.keyField). */
function customerOf(record: ConsumedRecord<unknown>): string {
  return record.key as string;
}
