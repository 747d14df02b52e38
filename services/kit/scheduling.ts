/** Runs work per partition one piece at a time, in the order it was queued. */
export class PartitionQueues {
  private readonly tails = new Map<number, Promise<unknown>>();

  /** Runs `work` after everything queued before it for `partition`; a failure does not block the queue. */
  run<T>(partition: number, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(partition) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.tails.set(partition, settled);
    void settled.then(() => {
      if (this.tails.get(partition) === settled) this.tails.delete(partition);
    });
    return next;
  }
}

/** A task run every `intervalMs`; a run still going when the next is due makes it skip. */
export interface PeriodicTask {
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

export function runEvery(intervalMs: number, task: () => Promise<void>): PeriodicTask {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task().finally(() => (running = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Runs `work` for each partition in turn, logging (not throwing) a partition's failure. */
export async function forEachPartition(
  partitions: number[],
  work: (partition: number) => Promise<unknown>,
  onError: (err: unknown, partition: number) => void,
): Promise<void> {
  for (const partition of partitions) {
    try {
      await work(partition);
    } catch (err) {
      onError(err, partition);
    }
  }
}
