/**
 * A map of values built on first use, holding at most `capacity` entries: a new one past that
 * evicts the oldest. For caches keyed by customer data (locales, currencies, time zones,
 * amounts), which must not grow without bound.
 */
export class BoundedCache<T, K = string> {
  private readonly entries = new Map<K, T>();

  constructor(readonly capacity: number) {}

  get(key: K, build: () => T): T {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = build();
      this.add(key, entry);
    }
    return entry;
  }

  /** The entry kept for `key`, if any (no closure to build one: for the hottest paths). */
  find(key: K): T | undefined {
    return this.entries.get(key);
  }

  /** Keeps `value` for a `key` that find() did not have; evicts the oldest entry when full. */
  add(key: K, value: T): void {
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, value);
  }

  get size(): number {
    return this.entries.size;
  }
}
