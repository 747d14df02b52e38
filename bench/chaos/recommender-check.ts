/**
 * The chaos suite's check of the recommender's shared counts: popularity per UTC day and each
 * product's "viewed together" neighbors, as Redis holds them after the run, against the pure
 * core's uninterrupted run over the log as written (the same events, per customer in log order).
 * Both are sums of per-customer contributions, so they do not depend on batching, on which
 * instance applied what or on a replay, exactly what kills, rebalances and the Redis loss's
 * rebuild put at risk: a repeated outbox record counts twice, a lost one not at all.
 *
 * Only what no trimming touched is compared: a day bucket holds its top POPULARITY_MAX_PRODUCTS
 * and a product its top NEIGHBORS_MAX neighbors, and which ones survive a trim depends on the
 * order batches arrive in. A bucket or product whose reference count fits the limit was never
 * trimmed (members only come, and their counts only grow), so it must match exactly; the others
 * are counted as not compared.
 */
import type { BehaviorEvent } from '../../services/core/types';
import { applyBatch, neighborIncrements, toDeltaRecord, type RecommenderTuning } from '../../services/core/recommendations';

export interface RecommenderReference {
  /** day -> product -> weight */
  popularity: Map<number, Map<string, number>>;
  /** product -> neighbor -> times viewed together */
  neighbors: Map<string, Map<string, number>>;
}

/** The pure core over `events` (any order across customers; each customer's in log order), at `now`. */
export function recommenderReference(events: readonly BehaviorEvent[], tuning: RecommenderTuning, now: number): RecommenderReference {
  const byCustomer = new Map<string, BehaviorEvent[]>();
  for (const event of events) {
    const list = byCustomer.get(event.customer_id);
    if (list === undefined) byCustomer.set(event.customer_id, [event]);
    else list.push(event);
  }
  const { deltas } = applyBatch(byCustomer, new Map(), tuning, now);
  return { popularity: deltas.popularity, neighbors: neighborIncrements(toDeltaRecord('reference', '0', deltas).coViews) };
}

/** How one family of counts (popularity buckets, or products' neighbors) compared. */
export interface CountsComparison {
  /** Sets compared (within their limit in the reference). */
  compared: number;
  /** Sets not compared: the reference has more members than Redis keeps. */
  trimmed: number;
  /** Sets that differ, with the first differing member: `set: member want N, got M`. */
  differing: string[];
}

/**
 * Compares each set of the reference that fits `limit` with what `read` returns for it (member ->
 * count; an absent key reads as empty). Sets Redis holds that the reference lacks are not seen
 * here; `extraSets` lists those the caller found.
 */
export async function compareCounts(
  reference: ReadonlyMap<string, ReadonlyMap<string, number>>,
  limit: number,
  read: (set: string) => Promise<Map<string, number>>,
): Promise<CountsComparison> {
  const result: CountsComparison = { compared: 0, trimmed: 0, differing: [] };
  for (const [set, want] of reference) {
    if (want.size > limit) {
      result.trimmed += 1;
      continue;
    }
    result.compared += 1;
    const got = await read(set);
    const first = firstDifference(want, got);
    if (first !== null) result.differing.push(`${set}: ${first}`);
  }
  return result;
}

/** The first member whose counts differ (a missing member counts 0), or null when equal. */
export function firstDifference(want: ReadonlyMap<string, number>, got: ReadonlyMap<string, number>): string | null {
  for (const member of new Set([...want.keys(), ...got.keys()])) {
    const a = want.get(member) ?? 0;
    const b = got.get(member) ?? 0;
    if (a !== b) return `${member} want ${a}, got ${b}`;
  }
  return null;
}

/** A ZRANGE ... WITHSCORES reply as member -> score. */
export function scoresOf(reply: readonly string[]): Map<string, number> {
  const scores = new Map<string, number>();
  for (let i = 0; i + 1 < reply.length; i += 2) scores.set(reply[i] as string, Number(reply[i + 1]));
  return scores;
}
