import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { BatchContext, BatchOutcome, ConsumedRecord } from '../kit/consumer-runner';
import type { KairosMetrics } from '../kit/metrics';
import { commitMetadata, LogBinder, type LogInspector } from '../kit/log-binding';
import { FenceContentionError } from '../kit/partition-processor';
import { emptyChange, stateText, type PartitionStateStore } from '../kit/partition-state';
import {
  applyBatch,
  decodeDeltaRecord,
  encodeDeltaRecord,
  isEmptyDeltas,
  toDeltaRecord,
  type RecommenderTuning,
} from '../core/recommendations';
import type { BehaviorEvent } from '../core/types';
import type { RecommendationStore } from './store';
import { forEachPartition, PartitionQueues, runEvery, type PeriodicTask } from '../kit/scheduling';

export interface RecommenderProcessorOptions {
  state: PartitionStateStore;
  store: RecommendationStore;
  tuning: RecommenderTuning;
  logger: Logger;
  metrics: KairosMetrics;
  clock: () => number;
  log: LogInspector;
  /** Outbox records applied per chunk of a relay (tests set it lower). */
  relayBatchSize?: number;
}

const MAX_ATTEMPTS = 10;
/** Outbox records applied per chunk of a relay, unless `relayBatchSize` says otherwise. */
const RELAY_BATCH = 50;

/**
 * Applies consumed batches in two exactly-once steps, because the shared aggregates cannot
 * share a hash tag with the partition:
 *  1. one atomic Lua call on the partition's tag: skip offsets at or below the fence, write
 *     the customers' recent views, append the batch's deltas to the partition outbox, advance
 *     the fence (kit's applyPartitionChange);
 *  2. relay: apply each outbox record to popularity and to every touched product, where a
 *     per-key mark (last applied offset of this topic:partition) makes a repeat a no-op; then
 *     trim the outbox.
 * A crash between or inside the steps replays the batch (fenced) or the outbox record
 * (marked): counts never double.
 */
export class RecommenderProcessor {
  private readonly queues = new PartitionQueues();
  private relayLoop: PeriodicTask | undefined;
  private readonly binder: LogBinder;

  constructor(private readonly options: RecommenderProcessorOptions) {
    this.binder = new LogBinder({ ...options, store: options.state });
  }

  /** Partitions stopped because their state does not match their log (see log-binding.ts). */
  stopped(): ReadonlyMap<string, string> {
    return this.binder.stopped();
  }

  /** The ConsumerRunner handler. */
  handleBatch = async (records: ConsumedRecord<unknown>[], context: BatchContext): Promise<BatchOutcome> => {
    const { partition, topic } = context;
    const lastOffset = (BigInt(context.nextOffset) - 1n).toString();
    const { state, tuning, metrics, logger, clock } = this.options;
    return this.queues.run(partition, async () => {
      const { incarnation: bound } = await this.binder.bind(topic, partition, context);
      const customers = [...new Set(records.map((r) => (r.value as BehaviorEvent).customer_id))];
      let incarnation: string | null = null;
      for (let attempt = 1; ; attempt += 1) {
        const snapshot = await state.read(partition, customers);
        incarnation = snapshot.incarnation;
        const applied = snapshot.appliedOffsets.get(topic) ?? -1n;
        const fresh = records.filter((r) => BigInt(r.offset) > applied);
        if (fresh.length === 0 && applied >= BigInt(lastOffset)) break; // a replay: applied already
        const byCustomer = new Map<string, BehaviorEvent[]>();
        for (const record of fresh) {
          const event = record.value as BehaviorEvent;
          byCustomer.set(event.customer_id, [...(byCustomer.get(event.customer_id) ?? []), event]);
        }
        const result = applyBatch(byCustomer, new Map([...snapshot.states].map(([id, value]) => [id, stateText(value)])), tuning, clock());
        const change = emptyChange();
        change.advance = { topic, offset: lastOffset };
        incarnation ??= bound ?? randomUUID(); // the first change of a fresh partition records it
        change.incarnation = incarnation;
        change.states = new Map(result.states);
        if (!isEmptyDeltas(result.deltas)) {
          change.outbox.push(encodeDeltaRecord(toDeltaRecord(`${topic}:${partition}`, lastOffset, result.deltas)));
        }
        if (await state.apply(partition, snapshot.version, change)) {
          for (const [reason, count] of Object.entries(result.ignored)) metrics.eventsIgnored.inc({ reason }, count);
          break;
        }
        if (attempt >= MAX_ATTEMPTS) throw new FenceContentionError(partition, MAX_ATTEMPTS);
        logger.warn({ partition, attempt }, 'partition state moved during the batch; recomputing');
      }
      // kafkajs heartbeats only between batches, and a backlog's batches of every partition in
      // flight share one thread: beat here, and between relay chunks. A rebalance then ends the
      // batch now, its apply kept (the fence skips it when the batch comes again, and that batch
      // or the relay loop of the partition's next owner applies its outbox).
      await context.heartbeat();
      await this.relay(partition, context.heartbeat);
      return { commitMetadata: incarnation === null ? null : commitMetadata(incarnation) };
    });
  };

  /**
   * Applies the partition's pending delta records to the shared aggregates, then trims them.
   * `beat`: the batch's heartbeat, after each full chunk, when a batch relays.
   */
  async relay(partition: number, beat?: () => Promise<void>): Promise<number> {
    const { state, store } = this.options;
    const limit = this.options.relayBatchSize ?? RELAY_BATCH;
    let relayed = 0;
    for (;;) {
      const pending = await state.peekOutbox(partition, limit);
      if (pending.length === 0) return relayed;
      // In order: a product's mark may only pass a batch once every earlier batch reached it.
      for (const text of pending) await store.applyDeltas(decodeDeltaRecord(text));
      await state.trimOutbox(partition, pending.length, pending[0] as string);
      relayed += pending.length;
      if (pending.length < limit) return relayed;
      await beat?.();
    }
  }

  /** Relays leftovers (a crash between the two steps) of `partitions` every `intervalMs`. */
  startRelayLoop(partitions: () => number[], intervalMs: number): void {
    const onError = (err: unknown, partition: number) => this.options.logger.error({ err, partition }, 'relay failed; retrying next tick');
    this.relayLoop = runEvery(intervalMs, () => forEachPartition(partitions(), (p) => this.queues.run(p, () => this.relay(p)), onError));
  }

  async stopRelayLoop(): Promise<void> {
    await this.relayLoop?.stop();
  }

}
