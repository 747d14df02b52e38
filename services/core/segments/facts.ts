/**
 * Behavioural facts the segmenter keeps for templates, whatever the segment definitions: the
 * last purchased product and purchase time, purchases in the last 30 and 90 days, the last
 * viewed product. Pure. The renderer reads them through the segment state view
 * (membership-view.ts) and passes them to templates as `facts.*` (config/templates/README.md).
 *
 * - Last purchase: the newest purchase by event time. Its product is the purchase's product_id;
 *   a purchase without one takes the product last added to the cart before it (not removed
 *   since), which is what a one-line order bought; with neither the product is unknown.
 * - Last viewed: the newest product_view that names a product.
 * - Purchases in 30 / 90 days: from the `purchase` aggregate the plan always keeps (the newest
 *   FACT_PURCHASE_CAP purchase times of the last 90 days), so a count stops at that cap.
 * Events that arrive out of order only replace a fact when they are newer than it.
 */
import { DAY_MS } from '../definitions';
import type { BehaviorEvent } from '../types';
import type { EventFilter } from './definition';
import type { AggregateState, FactsState } from './state';

/** Event types that can change a fact; the segmenter reads them even when no segment does. */
export const FACT_EVENT_TYPES: readonly string[] = ['add_to_cart', 'product_view', 'purchase', 'remove_from_cart'];

/** The purchase aggregate the facts count (shared with any segment condition on plain `purchase`). */
export const PURCHASE_FILTER: EventFilter = { types: ['purchase'], where: [] };
/** aggregateKey(PURCHASE_FILTER), spelt out here so plan.ts and this module do not import each other. */
export const PURCHASE_AGGREGATE_KEY = 'purchase';
/** Purchase times kept for the counts: `purchases_90d` of a customer with more shows this many. */
export const FACT_PURCHASE_CAP = 10;
export const FACT_PURCHASE_HORIZON_MS = 90 * DAY_MS;

/** What templates see, before the renderer adds titles and links. */
export interface CustomerFacts {
  /** The newest purchase; productId null when the purchase named no product and followed no cart add. */
  lastPurchase: { at: number; productId: string | null } | null;
  lastViewed: { at: number; productId: string } | null;
  /** Purchases with an event time in [now - 30d, now] (or later), at most FACT_PURCHASE_CAP. */
  purchases30d: number;
  purchases90d: number;
}

export const NO_FACTS: CustomerFacts = { lastPurchase: null, lastViewed: null, purchases30d: 0, purchases90d: 0 };

/** Whether `at` is not older than the fact's own time (a late event never replaces a newer fact). */
function newer(fact: readonly [number, ...unknown[]] | undefined, at: number): boolean {
  return fact === undefined || at >= fact[0];
}

/**
 * The facts after one event placed at `at` (its clamped event time), or null when the event
 * changes none of them. Does not touch `facts`.
 */
export function nextFacts(facts: FactsState | undefined, event: BehaviorEvent, at: number): FactsState | null {
  let p = facts?.p;
  let v = facts?.v;
  let c = facts?.c;
  const product = event.product_id;
  switch (event.type) {
    case 'product_view':
      if (product === null || !newer(v, at)) return null;
      v = [at, product];
      break;
    case 'add_to_cart':
      // A purchase at or after this add already emptied the cart it went into.
      if (product === null || !newer(c, at) || (p !== undefined && p[0] >= at)) return null;
      c = [at, product];
      break;
    case 'remove_from_cart':
      if (c === undefined || product !== c[1] || at < c[0]) return null;
      c = undefined;
      break;
    case 'purchase': {
      const cart = c !== undefined && c[0] <= at ? c : undefined;
      if (cart !== undefined) c = undefined; // a purchase empties the cart
      if (newer(p, at)) {
        const bought = product ?? cart?.[1] ?? null;
        p = bought === null ? [at] : [at, bought];
      } else if (cart === undefined) {
        return null;
      }
      break;
    }
    default:
      return null;
  }
  // Built with only the facts there are (no `delete`: an object that loses a property becomes
  // a slow dictionary-mode object, read again for every later event of the batch).
  const next: FactsState = {};
  if (p !== undefined) next.p = p;
  if (v !== undefined) next.v = v;
  if (c !== undefined) next.c = c;
  return next;
}

/** Whether the facts hold none (nextFacts's result after a remove or a purchase can). */
export function noFacts(facts: FactsState): boolean {
  return facts.p === undefined && facts.v === undefined && facts.c === undefined;
}

/** True when nextFacts would change something (to tell a relevant event from an ignored one without copying). */
export function changesFacts(facts: FactsState | undefined, event: BehaviorEvent, at: number): boolean {
  return nextFacts(facts, event, at) !== null;
}

function countSince(times: readonly number[], since: number): number {
  return times.filter((time) => time >= since).length;
}

/** The facts of a stored state at `now`. */
export function factsOf(state: { x?: FactsState; a?: Record<string, AggregateState> }, now: number): CustomerFacts {
  const facts = state.x ?? {};
  const purchases = state.a?.[PURCHASE_AGGREGATE_KEY]?.t ?? [];
  return {
    lastPurchase: facts.p === undefined ? null : { at: facts.p[0], productId: facts.p[1] ?? null },
    lastViewed: facts.v === undefined ? null : { at: facts.v[0], productId: facts.v[1] },
    purchases30d: Math.min(countSince(purchases, now - 30 * DAY_MS), FACT_PURCHASE_CAP),
    purchases90d: Math.min(countSince(purchases, now - FACT_PURCHASE_HORIZON_MS), FACT_PURCHASE_CAP),
  };
}
