import type { Batch, Consumer, IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { Logger } from 'pino';
import type { AvroCodec } from './codec';
import { deadLetterMessage, dlqTopic } from './dlq';
import { PoisonRecordError, type PoisonReason } from './poison';
import type { KairosMetrics } from './metrics';

/** One decoded record of a batch. `value` is null for a tombstone. */
export interface ConsumedRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T | null;
  /** The record's Kafka timestamp, epoch ms. */
  timestamp: number;
  headers: IHeaders;
}

/** How one input topic is read. */
export interface TopicBinding<T> {
  topic: string;
  /** The reader schema records are resolved into. */
  type: Type;
  /** Why a decoded value is impossible although schema-valid, or null when it is fine. */
  validate?: (value: T) => string | null;
  /** Whether a null value (tombstone) is meaningful on this topic; otherwise it is dead-lettered. */
  tombstones?: boolean;
  /**
   * The value field the record key must equal (e.g. customer_id). A record without a key, or
   * with another one, would be processed in the wrong partition's state: it is dead-lettered.
   */
  keyField?: string;
}

/** What the handler hands back: records it could not process and that must be dead-lettered. */
export interface BatchOutcome {
  deadLetters?: Array<{ record: ConsumedRecord<unknown>; error: Error }>;
}

export interface BatchContext {
  topic: string;
  partition: number;
  /** The offset one past the batch's last record: what will be committed. */
  nextOffset: string;
  heartbeat(): Promise<void>;
  /** False once the service is stopping or the partition was revoked: finish quickly. */
  isActive(): boolean;
}

/** The effect of a batch. When it resolves, its effects must be durable: offsets are committed next. */
export type BatchHandler = (records: ConsumedRecord<unknown>[], context: BatchContext) => Promise<BatchOutcome | void>;

/** What the runner reports; metrics (or a test) subscribe to it. */
export interface ConsumerInstrumentation {
  batchProcessed(topic: string, partition: number, size: number, seconds: number, lag: number): void;
  deadLettered(topic: string, reason: PoisonReason): void;
}

export interface ConsumerRunnerOptions {
  consumer: Consumer;
  /** Sends dead letters; idempotent, shared with the service's other output. */
  producer: Producer;
  codec: AvroCodec;
  logger: Logger;
  instrumentation: ConsumerInstrumentation;
  service: string;
  groupId: string;
  bindings: Array<TopicBinding<never>>;
  handler: BatchHandler;
  dlqSuffix?: string;
  /** False: poison is logged and counted but not produced to the DLQ (read-only tools). */
  produceDeadLetters?: boolean;
  /** How many partitions' batches run at once (Redis and Kafka round trips overlap). */
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  clock?: () => number;
}

/**
 * Runs a consumer group member with `eachBatch`: decode and validate each record (poison to
 * the DLQ), hand the good ones to the handler, send its dead letters, then commit the batch's
 * offsets. Offsets are committed only after the handler's effects and the dead letters are
 * durable, so a crash at any point replays rather than loses. `stop()` lets the running batch
 * finish and commit, then leaves the group.
 */
export class ConsumerRunner {
  private readonly bindings: Map<string, TopicBinding<never>>;
  private stopping = false;
  private joined = false;
  private assignment: Record<string, number[]> = {};
  /** Batches being processed; stop() waits for them before leaving the group. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly clock: () => number;

  constructor(private readonly options: ConsumerRunnerOptions) {
    this.bindings = new Map(options.bindings.map((b) => [b.topic, b]));
    this.clock = options.clock ?? Date.now;
  }

  /** True once the member has joined its group and until stop() is called. */
  isReady(): boolean {
    return this.joined && !this.stopping;
  }

  /** The partitions of `topic` this member owns since the last rebalance (timers follow them). */
  assignedPartitions(topic: string): number[] {
    return this.stopping ? [] : (this.assignment[topic] ?? []);
  }

  async start(): Promise<void> {
    const { consumer, logger } = this.options;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      this.assignment = event.payload.memberAssignment;
      logger.info({ memberAssignment: event.payload.memberAssignment }, 'joined consumer group');
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      logger.error({ err: error, restart }, restart ? 'consumer crashed; kafkajs restarts it' : 'consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.bindings.keys()], fromBeginning: this.options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
        // A batch that arrives while stopping is left for the next owner of the partition.
        if (batch.isEmpty() || this.stopping) return;
        const isActive = () => isRunning() && !isStale() && !this.stopping;
        const work = (async () => {
          await this.processBatch(batch, heartbeat, isActive);
          resolveOffset(batch.lastOffset());
          await this.commit(batch.topic, batch.partition, nextOffset(batch.lastOffset()));
        })();
        this.inFlight.add(work);
        try {
          await work;
        } finally {
          this.inFlight.delete(work);
        }
      },
    });
  }

  /** Finishes the running batch, commits it and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    // kafkajs may leave the group while a batch is still being handled, and a commit after
    // leaving is refused; so the batches in flight finish and commit first.
    await Promise.allSettled([...this.inFlight]);
    await this.options.consumer.disconnect();
  }

  private async processBatch(batch: Batch, heartbeat: () => Promise<void>, isActive: () => boolean): Promise<void> {
    const started = process.hrtime.bigint();
    const binding = this.bindings.get(batch.topic);
    if (!binding) throw new Error(`received a batch of ${batch.topic}, which this runner does not read`);
    const records: ConsumedRecord<unknown>[] = [];
    const deadLetters: Array<{ message: KafkaMessage; reason: PoisonReason; error: Error }> = [];
    for (const message of batch.messages) {
      try {
        records.push(await this.decode(binding, batch.partition, message));
      } catch (err) {
        if (!(err instanceof PoisonRecordError)) throw err; // retriable: the batch is retried
        deadLetters.push({ message, reason: err.reason, error: err });
      }
    }
    const context: BatchContext = {
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: nextOffset(batch.lastOffset()),
      heartbeat,
      isActive,
    };
    const outcome = records.length > 0 ? await this.options.handler(records, context) : undefined;
    for (const failed of outcome?.deadLetters ?? []) {
      const message = batch.messages.find((m) => m.offset === failed.record.offset);
      if (!message) throw new Error(`handler dead-lettered offset ${failed.record.offset}, which is not in the batch`);
      const reason = failed.error instanceof PoisonRecordError ? failed.error.reason : 'processing';
      deadLetters.push({ message, reason, error: failed.error });
    }
    await this.sendDeadLetters(batch, deadLetters);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.options.instrumentation.batchProcessed(
      batch.topic,
      batch.partition,
      batch.messages.length,
      seconds,
      Number(batch.offsetLag()),
    );
  }

  private async decode(binding: TopicBinding<never>, partition: number, message: KafkaMessage): Promise<ConsumedRecord<unknown>> {
    let value: unknown = null;
    const key = message.key === null ? null : message.key.toString('utf8');
    if (binding.keyField && key === null) throw new PoisonRecordError('invalid', `record has no key; expected the ${binding.keyField}`);
    if (message.value === null) {
      if (!binding.tombstones) throw new PoisonRecordError('invalid', `null value (tombstone) on ${binding.topic}, which takes none`);
    } else {
      value = await this.options.codec.decode(message.value, binding.type);
      const problem = binding.validate?.(value as never);
      if (problem) throw new PoisonRecordError('invalid', problem);
      const expected = binding.keyField ? (value as Record<string, unknown>)[binding.keyField] : key;
      if (expected !== key) {
        throw new PoisonRecordError('invalid', `record key ${JSON.stringify(key)} is not its ${binding.keyField} ${JSON.stringify(expected)}`);
      }
    }
    return {
      topic: binding.topic,
      partition,
      offset: message.offset,
      key,
      value,
      timestamp: Number(message.timestamp),
      headers: message.headers ?? {},
    };
  }

  private async sendDeadLetters(
    batch: Batch,
    deadLetters: Array<{ message: KafkaMessage; reason: PoisonReason; error: Error }>,
  ): Promise<void> {
    if (deadLetters.length === 0) return;
    const { producer, logger, groupId, service, instrumentation } = this.options;
    const at = this.clock();
    if (this.options.produceDeadLetters !== false) await producer.send({
      topic: dlqTopic(batch.topic, this.options.dlqSuffix),
      acks: -1,
      messages: deadLetters.map(({ message, reason, error }) =>
        deadLetterMessage(
          { topic: batch.topic, partition: batch.partition, message },
          { reason, error, consumerGroup: groupId, service, at },
        ),
      ),
    });
    for (const { message, reason, error } of deadLetters) {
      instrumentation.deadLettered(batch.topic, reason);
      logger.warn(
        { topic: batch.topic, partition: batch.partition, offset: message.offset, reason, error: error.message },
        'record dead-lettered',
      );
    }
  }

  private async commit(topic: string, partition: number, offset: string): Promise<void> {
    await this.options.consumer.commitOffsets([{ topic, partition, offset }]);
  }
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Instrumentation that feeds the shared pipeline metrics. */
export function metricsInstrumentation(metrics: KairosMetrics): ConsumerInstrumentation {
  return {
    batchProcessed(topic, partition, size, seconds, lag) {
      metrics.consumerBatchSize.observe({ topic }, size);
      metrics.consumerBatchDurationSeconds.observe({ topic }, seconds);
      metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
      metrics.recordsProcessed.inc({ topic }, size);
    },
    deadLettered(topic, reason) {
      metrics.recordsDeadLettered.inc({ topic, reason });
    },
  };
}
