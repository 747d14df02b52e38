/**
 * What a batch of behavior events changes: the customers' recent views, popularity weights
 * and "viewed together" pairs.
 */
import type { BehaviorEvent } from '../types';
import { dayOf, MAX_PRODUCT_ID_LENGTH, type RecommenderTuning } from './tuning';
import { decodeViews, encodeViews, type CustomerViews } from './views';

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
