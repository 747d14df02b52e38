import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { BatchContext, ConsumedRecord } from './consumer-runner';
import type { KairosMetrics } from './metrics';
import { KairosError } from './errors';
import { forEachPartition, PartitionQueues, runEvery, type PeriodicTask } from './scheduling';
import type { PartitionChange, PartitionSnapshot, PartitionStateStore } from './partition-state';

/** A record waiting in a partition's outbox: where it goes and its encoded bytes. */
export interface OutboxRecord {
  topic: string;
  key: string;
  value: Buffer;
}

/** Outbox records are stored as small JSON strings with the value in base64. */
export function encodeOutboxRecord(record: OutboxRecord): string {
  return JSON.stringify({ t: record.topic, k: record.key, v: record.value.toString('base64') });
}

export function decodeOutboxRecord(text: string): OutboxRecord {
  const { t, k, v } = JSON.parse(text) as { t: string; k: string; v: string };
  return { topic: t, key: k, value: Buffer.from(v, 'base64') };
}

/** A due timer of a partition. */
export interface DueTimer {
  member: string;
  dueAt: number;
}

/**
 * What a stateful service computes; pure apart from encoding. The processor does the reading,
 * fencing, atomic apply, relaying and retrying around it.
 */
export interface PartitionLogic {
  /** The customers whose state the records (or due timers) touch. */
  customersOfRecords(records: ConsumedRecord<unknown>[]): string[];
  customersOfTimers(timers: DueTimer[]): string[];
  /** The change for records not yet applied; `advance` is filled in by the processor. */
  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[], now: number): PartitionChange;
  onTimers(snapshot: PartitionSnapshot, timers: DueTimer[], now: number): PartitionChange;
}

export interface PartitionProcessorOptions {
  store: PartitionStateStore;
  logic: PartitionLogic;
  producer: Producer;
  logger: Logger;
  metrics: KairosMetrics;
  clock: () => number;
  /** How many outbox records one produce call carries. */
  relayBatchSize?: number;
  /** How many due timers are handled per partition per tick. */
  timerBatchSize?: number;
}

/** Another writer kept moving the partition's version; the batch is retried by kafkajs. */
export class FenceContentionError extends KairosError {
  constructor(partition: number, attempts: number) {
    super(`partition ${partition}: state changed under us ${attempts} times in a row`, { retriable: true });
  }
}

const MAX_ATTEMPTS = 5;

/**
 * Runs a service's PartitionLogic exactly-once in effect: read the partition (fence + states),
 * drop records at or below the applied offset, compute, apply atomically if nobody wrote in
 * between (else read again), then relay the outbox to Kafka and trim it. The consumer commits
 * offsets only after `handleBatch` resolves, so a crash anywhere replays into the fence.
 * One partition's work is serialized in-process (batches and timers share a queue).
 */
export class PartitionProcessor {
  private readonly queues = new PartitionQueues();
  private timers: PeriodicTask | undefined;

  constructor(private readonly options: PartitionProcessorOptions) {}

  /** The ConsumerRunner handler. */
  handleBatch = async (records: ConsumedRecord<unknown>[], context: BatchContext): Promise<void> => {
    const { partition, topic } = context;
    const lastOffset = (BigInt(context.nextOffset) - 1n).toString();
    await this.queues.run(partition, async () => {
      await this.applyWithRetry(partition, this.options.logic.customersOfRecords(records), (snapshot) => {
        const applied = snapshot.appliedOffsets.get(topic) ?? -1n;
        const fresh = records.filter((r) => BigInt(r.offset) > applied);
        if (fresh.length === 0 && applied >= BigInt(lastOffset)) return null; // a replay: all applied
        const change = this.options.logic.onRecords(snapshot, fresh, this.options.clock());
        change.advance = { topic, offset: lastOffset };
        return change;
      });
      await this.relay(partition);
    });
  };

  /** Fires due timers and relays leftover outbox records of `partitions` every `intervalMs`. */
  startTimers(partitions: () => number[], intervalMs: number): void {
    const onError = (err: unknown, partition: number) => this.options.logger.error({ err, partition }, 'timer tick failed; retrying next tick');
    this.timers = runEvery(intervalMs, () => forEachPartition(partitions(), (p) => this.queues.run(p, () => this.fireDue(p)), onError));
  }

  /** Stops the timer loop and waits for a running tick. */
  async stopTimers(): Promise<void> {
    await this.timers?.stop();
  }

  /** Fires the partition's due timers (all of them, in chunks), then relays. */
  async fireDue(partition: number): Promise<void> {
    const limit = this.options.timerBatchSize ?? 200;
    for (;;) {
      const due = await this.options.store.dueTimers(partition, this.options.clock(), limit);
      if (due.length > 0) {
        await this.applyWithRetry(partition, this.options.logic.customersOfTimers(due), (snapshot) =>
          this.options.logic.onTimers(snapshot, due, this.options.clock()),
        );
      }
      await this.relay(partition);
      if (due.length < limit) return;
    }
  }

  /** Produces the partition's outbox to Kafka (acks from all replicas), then trims what was sent. */
  async relay(partition: number): Promise<number> {
    const { store, producer, metrics } = this.options;
    const size = this.options.relayBatchSize ?? 500;
    let sent = 0;
    for (;;) {
      const pending = await store.peekOutbox(partition, size);
      if (pending.length === 0) return sent;
      const records = pending.map(decodeOutboxRecord);
      const byTopic = new Map<string, Array<{ key: string; value: Buffer }>>();
      for (const { topic, key, value } of records) {
        const list = byTopic.get(topic) ?? [];
        list.push({ key, value });
        byTopic.set(topic, list);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const [topic, messages] of byTopic) metrics.recordsProduced.inc({ topic }, messages.length);
      await store.trimOutbox(partition, pending.length, pending[0]);
      sent += pending.length;
      if (pending.length < size) return sent;
    }
  }

  private async applyWithRetry(
    partition: number,
    customers: string[],
    compute: (snapshot: PartitionSnapshot) => PartitionChange | null,
  ): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const snapshot = await this.options.store.read(partition, customers);
      const change = compute(snapshot);
      if (change === null) return;
      if (await this.options.store.apply(partition, snapshot.version, change)) return;
      this.options.logger.warn({ partition, attempt }, 'partition state moved during the batch; recomputing');
    }
    throw new FenceContentionError(partition, MAX_ATTEMPTS);
  }

}
