/**
 * The recommender's pure parts: what a batch of behavior events changes (a customer's recent
 * views, popularity weights, "viewed together" pairs) and how stored counts become a ranked
 * list. No I/O; the processor and the store wrap it.
 */
import type { BehaviorEvent } from '../core/types';

export const DAY_MS = 86_400_000;

/** Longer ids are ignored: they would bloat keys and cannot be real catalogue ids. */
export const MAX_PRODUCT_ID_LENGTH = 200;

export interface RecommenderTuning {
  /** Popularity weight per event type; types absent here do not count. */
  popularityWeights: Readonly<Record<string, number>>;
  /** Days summed for popularity (today included). */
  popularityDays: number;
  /** How many recently viewed products a customer keeps for co-views. */
  recentViews: number;
  /** Two views count as "viewed together" when at most this far apart (event time). */
  coViewWindowMs: number;
  /** How many recent event ids a customer keeps to drop producer re-sends. */
  recentEventIds: number;
}

/** A customer's short-term state: the last viewed products (newest first) and event ids. */
export interface CustomerViews {
  views: Array<{ product: string; at: number }>;
  eventIds: string[];
}

export function emptyViews(): CustomerViews {
  return { views: [], eventIds: [] };
}

/** Stored compactly: `{"v":[["sku",at],...],"e":["id",...]}`. Unreadable state starts over. */
export function decodeViews(text: string | null | undefined): CustomerViews {
  if (!text) return emptyViews();
  try {
    const raw = JSON.parse(text) as { v?: unknown; e?: unknown };
    const views = Array.isArray(raw.v)
      ? raw.v.flatMap((item): CustomerViews['views'] =>
          Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'number' ? [{ product: item[0], at: item[1] }] : [],
        )
      : [];
    const eventIds = Array.isArray(raw.e) ? raw.e.filter((id): id is string => typeof id === 'string') : [];
    return { views, eventIds };
  } catch {
    return emptyViews();
  }
}

export function encodeViews(state: CustomerViews): string {
  return JSON.stringify({ v: state.views.map((v) => [v.product, v.at]), e: state.eventIds });
}

/** The UTC day number of an epoch-ms time (days since 1970-01-01). */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** What one batch adds to the shared aggregates, summed. */
export interface BatchDeltas {
  /** `day -> product -> weight`. */
  popularity: Map<number, Map<string, number>>;
  /** Unordered pairs `a\u0000b` (a < b) -> times viewed together. */
  coViews: Map<string, number>;
}

export interface BatchResult {
  deltas: BatchDeltas;
  /** New encoded state per customer whose state changed. */
  states: Map<string, string>;
  /** Events skipped on purpose, by reason (for the eventsIgnored metric). */
  ignored: Record<string, number>;
}

const PAIR_SEPARATOR = '\u0000';

export function pairKey(a: string, b: string): string {
  return a < b ? `${a}${PAIR_SEPARATOR}${b}` : `${b}${PAIR_SEPARATOR}${a}`;
}

export function splitPair(key: string): [string, string] {
  const at = key.indexOf(PAIR_SEPARATOR);
  return [key.slice(0, at), key.slice(at + 1)];
}

function usableProduct(id: string | null): id is string {
  return id !== null && id !== '' && id.length <= MAX_PRODUCT_ID_LENGTH;
}

/**
 * Applies a batch of events (already grouped per customer, each in offset order) to the
 * customers' states and sums what they add to popularity and co-views.
 *
 * Co-views: when a customer views a product that is not among their recent views, it pairs
 * with each recent view at most `coViewWindowMs` away; viewing it again while it is still
 * recent only refreshes its time. So a customer who flips between two products counts as one
 * co-view of the pair, not as many.
 *
 * Popularity counts an event in the UTC day of its event time, only inside the retained days
 * (relative to `now`) and not more than a day in the future.
 */
export function applyBatch(
  eventsByCustomer: ReadonlyMap<string, readonly BehaviorEvent[]>,
  previous: ReadonlyMap<string, string | null>,
  tuning: RecommenderTuning,
  now: number,
): BatchResult {
  const deltas: BatchDeltas = { popularity: new Map(), coViews: new Map() };
  const states = new Map<string, string>();
  const ignored: Record<string, number> = {};
  const ignore = (reason: string) => (ignored[reason] = (ignored[reason] ?? 0) + 1);
  const oldestDay = dayOf(now) - (tuning.popularityDays - 1);
  const newestDay = dayOf(now) + 1;

  for (const [customer, events] of eventsByCustomer) {
    const state = decodeViews(previous.get(customer));
    let changed = false;
    for (const event of events) {
      const weight = tuning.popularityWeights[event.type];
      const isView = event.type === 'product_view';
      if (weight === undefined && !isView) continue; // not a signal the recommender uses
      if (!usableProduct(event.product_id)) {
        ignore('no_product');
        continue;
      }
      if (state.eventIds.includes(event.event_id)) {
        ignore('duplicate');
        continue;
      }
      state.eventIds.unshift(event.event_id);
      state.eventIds.length = Math.min(state.eventIds.length, tuning.recentEventIds);
      changed = true;
      const product = event.product_id;

      if (weight !== undefined && weight > 0) {
        const day = dayOf(event.occurred_at);
        if (day < oldestDay || day > newestDay) {
          ignore(day < oldestDay ? 'too_old_for_popularity' : 'in_the_future');
        } else {
          const products = deltas.popularity.get(day) ?? new Map<string, number>();
          products.set(product, (products.get(product) ?? 0) + weight);
          deltas.popularity.set(day, products);
        }
      }
      if (isView) recordView(state, product, event.occurred_at, tuning, deltas.coViews);
    }
    if (changed) states.set(customer, encodeViews(state));
  }
  return { deltas, states, ignored };
}

function recordView(state: CustomerViews, product: string, at: number, tuning: RecommenderTuning, coViews: Map<string, number>): void {
  // Views that left the window can pair with nothing any more.
  state.views = state.views.filter((view) => Math.abs(at - view.at) <= tuning.coViewWindowMs || view.at > at);
  const existing = state.views.find((view) => view.product === product);
  if (existing) {
    existing.at = Math.max(existing.at, at);
  } else {
    for (const view of state.views) {
      if (Math.abs(at - view.at) > tuning.coViewWindowMs) continue;
      const key = pairKey(product, view.product);
      coViews.set(key, (coViews.get(key) ?? 0) + 1);
    }
    state.views.push({ product, at });
  }
  state.views.sort((a, b) => b.at - a.at);
  state.views.length = Math.min(state.views.length, tuning.recentViews);
}

/** True when a batch adds nothing to the shared aggregates. */
export function isEmptyDeltas(deltas: BatchDeltas): boolean {
  return deltas.popularity.size === 0 && deltas.coViews.size === 0;
}

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

/**
 * Weight of each retained day, newest (today) first: halved every `halfLifeMs`; a half-life
 * of 0 weighs every day the same (a plain window sum).
 */
export function dayWeights(days: number, halfLifeMs: number): number[] {
  return Array.from({ length: days }, (_, age) => (halfLifeMs > 0 ? 0.5 ** ((age * DAY_MS) / halfLifeMs) : 1));
}

/** A seed product and how much its neighbors count (context products weigh more than recent views). */
export interface Seed {
  product: string;
  weight: number;
}

export type Strategy = 'viewed_together' | 'popular';

/**
 * Ranks neighbors of the seeds by summed (weighted) co-view counts, drops the seeds and the
 * products in `exclude`, and tops the list up with popular products (minus `exclude`). Ties break by product id, so the
 * answer is deterministic.
 */
export function rankRecommendations(input: {
  seeds: readonly Seed[];
  neighbors: ReadonlyMap<string, ReadonlyArray<[string, number]>>;
  popular: ReadonlyArray<[string, number]>;
  exclude: ReadonlySet<string>;
  limit: number;
}): { products: string[]; strategy: Strategy } {
  const scores = new Map<string, number>();
  // A seed (a customer's own recent view) is what the others were viewed with, not a pick.
  const seeds = new Set(input.seeds.map((seed) => seed.product));
  for (const seed of input.seeds) {
    for (const [product, count] of input.neighbors.get(seed.product) ?? []) {
      if (input.exclude.has(product) || seeds.has(product)) continue;
      scores.set(product, (scores.get(product) ?? 0) + count * seed.weight);
    }
  }
  const together = [...scores]
    .filter(([, score]) => score > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, input.limit)
    .map(([product]) => product);
  const chosen = new Set(together);
  const products = [...together];
  for (const [product] of input.popular) {
    if (products.length >= input.limit) break;
    if (chosen.has(product) || input.exclude.has(product)) continue;
    chosen.add(product);
    products.push(product);
  }
  return { products, strategy: together.length > 0 ? 'viewed_together' : 'popular' };
}

/** Parses `product_view=1,add_to_cart=3,purchase=5`; throws naming the bad entry. */
export function parseWeights(text: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const match = /^([a-z_]+)=(\d+(?:\.\d+)?)$/.exec(entry);
    if (match === null) throw new Error(`"${entry}" is not like event_type=weight (e.g. purchase=5)`);
    weights[match[1] as string] = Number(match[2]);
  }
  return weights;
}
