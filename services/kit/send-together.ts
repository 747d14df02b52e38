export interface SendTogetherOptions<E> {
  /** Sends one request carrying `entries`, in the order they were asked for. */
  send(entries: E[]): Promise<void>;
  /**
   * Entries of one key waiting together: only the one asked for last is sent (a partition's
   * offset commits: a later commit covers an earlier one, as two requests in a row would).
   */
  keyOf?(entry: E): string;
  /** A request carries entries, in order, while their sizes add up to at most `maxSize`; always at least one. */
  sizeOf?(entry: E): number;
  maxSize?: number;
  /**
   * With no request in flight, how long to wait before sending the first entry, so that the
   * entries asked for meanwhile go in the same request (a fetch's partitions finish within a few
   * milliseconds of each other). 0 (the default): at once. Entries asked for while a request is
   * in flight go out as soon as it lands, without this wait.
   */
  gatherMs?: number;
  /**
   * How many entries are known to be on their way (callers that will add one soon: a fetch's
   * other partitions, still applying). With it, a gather ends as soon as none is, instead of
   * always waiting gatherMs; a caller whose count drops to 0 without adding calls poke().
   */
  onTheirWay?(): number;
}

interface Waiting<E> {
  entry: E;
  settle: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * Requests of one client to Kafka, sent together: at most one is in flight, and what is asked
 * for meanwhile goes out in the next one. A service works on many partitions at once, and
 * their batches end within a few milliseconds of each other: one request per batch made the
 * broker's busiest request types under the latency bench (docs/benchmarks-history.md,
 * "Requests sent together"). Nothing waits when no request is in flight. Each caller learns the
 * outcome of the request that carried its entry (a failed request fails all of them; each caller
 * decides whether to try again).
 */
export class SendTogether<E> {
  private readonly queue: Array<Waiting<E>> = [];
  private readonly byKey = new Map<string, Waiting<E>>();
  private sending = false;
  private gathering: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: SendTogetherOptions<E>) {}

  /** Resolves once the request carrying `entry` (or, keyed, a later entry of its key) has landed. */
  add(entry: E): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = this.options.keyOf?.(entry);
      const waiting = key === undefined ? undefined : this.byKey.get(key);
      if (waiting !== undefined) {
        waiting.entry = entry;
        waiting.settle.push({ resolve, reject });
      } else {
        const added = { entry, settle: [{ resolve, reject }] };
        this.queue.push(added);
        if (key !== undefined) this.byKey.set(key, added);
      }
      this.start();
    });
  }

  /** Entries waiting for a request (for tests and diagnostics). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * A gather waiting only for entries no longer on their way (onTheirWay fell to 0 without an
   * add: a caller had nothing to send, or failed) ends now.
   */
  poke(): void {
    if (this.gathering !== undefined && this.noneOnTheirWay()) this.endGather();
  }

  /**
   * After an add: a request at once, or after gatherMs (sooner once no entry is on its way),
   * unless one is in flight.
   */
  private start(): void {
    if (this.sending) return;
    if (this.gathering !== undefined) {
      this.poke();
      return;
    }
    const gatherMs = this.options.gatherMs ?? 0;
    if (gatherMs <= 0 || this.noneOnTheirWay()) {
      this.next();
      return;
    }
    this.gathering = setTimeout(() => this.endGather(), gatherMs);
  }

  private noneOnTheirWay(): boolean {
    return this.options.onTheirWay !== undefined && this.options.onTheirWay() <= 0;
  }

  private endGather(): void {
    clearTimeout(this.gathering);
    this.gathering = undefined;
    this.next();
  }

  private next(): void {
    if (this.sending || this.queue.length === 0) return;
    const carried = this.take();
    this.sending = true;
    let sent: Promise<void>;
    try {
      sent = this.options.send(carried.map((w) => w.entry));
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

  /** The entries of the next request, off the queue: in order, within maxSize, at least one. */
  private take(): Array<Waiting<E>> {
    const { sizeOf, maxSize = Number.POSITIVE_INFINITY, keyOf } = this.options;
    const count = leadingWithin(this.queue, (w) => sizeOf?.(w.entry) ?? 0, maxSize);
    const carried = this.queue.splice(0, count);
    if (keyOf !== undefined) for (const w of carried) this.byKey.delete(keyOf(w.entry));
    return carried;
  }
}

/**
 * How many of `items`, from `from` on, go in one request: in order, while their sizes add up to
 * at most `maxSize`, and at least one (a larger item alone); 0 when none is left.
 */
export function leadingWithin<T>(items: readonly T[], sizeOf: (item: T) => number, maxSize: number, from = 0): number {
  let count = 0;
  let size = 0;
  while (from + count < items.length) {
    size += sizeOf(items[from + count]);
    if (count > 0 && size > maxSize) break;
    count += 1;
  }
  return count;
}
