/**
 * A map of values built on first use, holding at most `capacity` entries: a new one past that
 * evicts the oldest. For caches keyed by customer data (locales, currencies, time zones), which
 * must not grow without bound.
 */
export class BoundedCache<T> {
  private readonly entries = new Map<string, T>();

  constructor(readonly capacity: number) {}

  get(key: string, build: () => T): T {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = build();
      if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, entry);
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
