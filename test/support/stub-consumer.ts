import type { Consumer, EachBatchPayload } from 'kafkajs';

/**
 * A kafkajs Consumer stand-in for runner unit tests: it captures the eachBatch handler (so a
 * test drives batches itself) and records the commits, with no broker.
 */
export function stubConsumer(): {
  consumer: Consumer;
  commits: Array<{ topic: string; partition: number; offset: string; metadata?: string | null }>;
  seeks: Array<{ topic: string; partition: number; offset: string }>;
  eachBatch(payload: EachBatchPayload): Promise<void>;
} {
  let handler: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const commits: Array<{ topic: string; partition: number; offset: string; metadata?: string | null }> = [];
  const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' },
    on: () => () => undefined,
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
  };
}
