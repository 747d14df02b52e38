import type { Batch, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';

/**
 * A kafkajs Consumer stand-in for runner unit tests: it captures the eachBatch handler (so a
 * test drives batches itself) and records the commits, with no broker.
 */
export function stubConsumer(): {
  consumer: Consumer;
  commits: Array<{ topic: string; partition: number; offset: string; metadata?: string | null }>;
  seeks: Array<{ topic: string; partition: number; offset: string }>;
  eachBatch(payload: EachBatchPayload): Promise<void>;
  /** Emits GROUP_JOIN with `memberAssignment`, as kafkajs does after each rebalance. */
  join(memberAssignment: Record<string, number[]>): void;
  /** Emits END_BATCH_PROCESS for a fetched batch of `partition` with no records (transaction markers only) ending at `lastOffset`. */
  endEmptyBatch(topic: string, partition: number, lastOffset: string): void;
} {
  let handler: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const listeners = new Map<string, (event: { payload: unknown }) => void>();
  const commits: Array<{ topic: string; partition: number; offset: string; metadata?: string | null }> = [];
  const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', END_BATCH_PROCESS: 'consumer.end_batch_process' },
    on: (event: string, listener: (event: { payload: unknown }) => void) => {
      listeners.set(event, listener);
      return () => listeners.delete(event);
    },
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (config: { eachBatch: (payload: EachBatchPayload) => Promise<void> }) => {
      handler = config.eachBatch;
    },
    commitOffsets: async (offsets: typeof commits) => void commits.push(...offsets),
    seek: (position: (typeof seeks)[number]) => void seeks.push(position),
    disconnect: async () => undefined,
  } as unknown as Consumer;
  return {
    consumer,
    commits,
    seeks,
    eachBatch: (payload) => {
      if (handler === undefined) throw new Error('stubConsumer: run() was not called yet');
      return handler(payload);
    },
    join: (memberAssignment) => listeners.get('consumer.group_join')?.({ payload: { memberAssignment } }),
    endEmptyBatch: (topic, partition, lastOffset) => listeners.get('consumer.end_batch_process')?.({ payload: { topic, partition, batchSize: 0, lastOffset } }),
  };
}

/** A kafkajs Batch of `messages` (non-empty) on `partition` of `topic`, as the runner reads it. */
export function stubBatch(topic: string, messages: KafkaMessage[], partition = 0): Batch {
  return {
    topic,
    partition,
    messages,
    isEmpty: () => false,
    lastOffset: () => messages[messages.length - 1].offset,
    offsetLag: () => '0',
  } as unknown as Batch;
}

/** The eachBatch payload around `batch`, with no broker behind it (heartbeats and pauses do nothing). */
export function stubPayload(batch: Batch): EachBatchPayload {
  return { batch, heartbeat: async () => undefined, resolveOffset: () => undefined, isRunning: () => true, isStale: () => false, pause: () => () => undefined } as unknown as EachBatchPayload;
}
