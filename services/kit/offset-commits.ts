/** One partition's offset to commit, as kafkajs's `Consumer.commitOffsets` takes it. */
export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: string;
  metadata: string | null;
}

interface Waiting {
  entry: OffsetToCommit;
  settle: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * A consumer's offset commits, sent together: at most one OffsetCommit request is in flight,
 * and the commits asked for meanwhile go out in the next one, one entry per partition. A
 * service commits every batch of every partition, and with many partitions read at once their
 * batches end within a few milliseconds of each other: one request per batch was the broker's
 * busiest request type under the latency bench (docs/benchmarks.md). A partition asked to
 * commit twice before the next request goes out sends the offset asked for last, as two
 * requests in a row would have left it; both callers learn that request's outcome. A failed
 * request fails every commit it carried (each caller decides whether to try again).
 */
export class OffsetCommits {
  private readonly waiting = new Map<string, Waiting>();
  private sending = false;

  constructor(private readonly send: (offsets: OffsetToCommit[]) => Promise<void>) {}

  /** Resolves once a request carrying this commit (or a later one of the partition) has landed. */
  commit(entry: OffsetToCommit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `${entry.topic}:${entry.partition}`;
      const waiting = this.waiting.get(key);
      if (waiting === undefined) this.waiting.set(key, { entry, settle: [{ resolve, reject }] });
      else {
        waiting.entry = entry;
        waiting.settle.push({ resolve, reject });
      }
      this.next();
    });
  }

  /** Commits not yet sent (for tests and diagnostics). */
  get queued(): number {
    return this.waiting.size;
  }

  private next(): void {
    if (this.sending || this.waiting.size === 0) return;
    const carried = [...this.waiting.values()];
    this.waiting.clear();
    this.sending = true;
    let sent: Promise<void>;
    try {
      sent = this.send(carried.map((w) => w.entry));
    } catch (error) {
      sent = Promise.reject(error);
    }
    void sent
      .then(
        () => carried.forEach((w) => w.settle.forEach((s) => s.resolve())),
        (error: unknown) => carried.forEach((w) => w.settle.forEach((s) => s.reject(error))),
      )
      .finally(() => {
        this.sending = false;
        this.next();
      });
  }
}
