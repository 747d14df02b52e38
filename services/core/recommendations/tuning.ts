/** How the recommender counts: days, event weights, and what it keeps per customer. */

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

/** The UTC day number of an epoch-ms time (days since 1970-01-01). */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/**
 * Weight of each retained day, newest (today) first: halved every `halfLifeMs`; a half-life
 * of 0 weighs every day the same (a plain window sum).
 */
export function dayWeights(days: number, halfLifeMs: number): number[] {
  return Array.from({ length: days }, (_, age) => (halfLifeMs > 0 ? 0.5 ** ((age * DAY_MS) / halfLifeMs) : 1));
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
