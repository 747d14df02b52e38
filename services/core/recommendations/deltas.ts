/** One batch's deltas as a record of the partition outbox, and how they are applied per key. */
import { splitPair, type BatchDeltas } from './batch';

/**
 * One batch's deltas as stored in the partition outbox until applied to the shared keys.
 * `source` (`<topic>:<partition>`) and `offset` make the application exactly-once.
 */
export interface DeltaRecord {
  source: string;
  offset: string;
  /** `[day, product, weight]` */
  popularity: Array<[number, string, number]>;
  /** `[productA, productB, count]`, each unordered pair once. */
  coViews: Array<[string, string, number]>;
}

export function toDeltaRecord(source: string, offset: string, deltas: BatchDeltas): DeltaRecord {
  const popularity: DeltaRecord['popularity'] = [];
  for (const [day, products] of deltas.popularity) {
    for (const [product, weight] of products) popularity.push([day, product, weight]);
  }
  const coViews: DeltaRecord['coViews'] = [...deltas.coViews].map(([key, count]) => [...splitPair(key), count]);
  return { source, offset, popularity, coViews };
}

export function encodeDeltaRecord(record: DeltaRecord): string {
  return JSON.stringify({ s: record.source, o: record.offset, p: record.popularity, c: record.coViews });
}

export function decodeDeltaRecord(text: string): DeltaRecord {
  const raw = JSON.parse(text) as { s: string; o: string; p: DeltaRecord['popularity']; c: DeltaRecord['coViews'] };
  return { source: raw.s, offset: raw.o, popularity: raw.p ?? [], coViews: raw.c ?? [] };
}

/** Co-view increments per product, both directions of every pair. */
export function neighborIncrements(coViews: DeltaRecord['coViews']): Map<string, Map<string, number>> {
  const byProduct = new Map<string, Map<string, number>>();
  const add = (from: string, to: string, count: number) => {
    const neighbors = byProduct.get(from) ?? new Map<string, number>();
    neighbors.set(to, (neighbors.get(to) ?? 0) + count);
    byProduct.set(from, neighbors);
  };
  for (const [a, b, count] of coViews) {
    add(a, b, count);
    add(b, a, count);
  }
  return byProduct;
}

/** Popularity increments grouped per day. */
export function popularityByDay(popularity: DeltaRecord['popularity']): Map<number, Array<[string, number]>> {
  const byDay = new Map<number, Array<[string, number]>>();
  for (const [day, product, weight] of popularity) {
    const list = byDay.get(day) ?? [];
    list.push([product, weight]);
    byDay.set(day, list);
  }
  return byDay;
}
