/**
 * The chaos suite's reference for the recommender's shared counts: the pure core over the whole
 * log in one pass gives what batch after batch gives (the services' way), and the comparison
 * skips only what a trim could have touched.
 */
import { applyBatch, neighborIncrements, toDeltaRecord, type RecommenderTuning } from '../../../services/core/recommendations';
import type { BehaviorEvent } from '../../../services/core/types';
import { compareCounts, firstDifference, recommenderReference, scoresOf } from '../../../bench/chaos/recommender-check';

const DAY = 86_400_000;
const NOW = 20_000 * DAY + 12 * 3_600_000;
const tuning: RecommenderTuning = {
  popularityWeights: { product_view: 1, add_to_cart: 3, purchase: 5 },
  popularityDays: 7,
  recentViews: 5,
  coViewWindowMs: 3_600_000,
  recentEventIds: 20,
};

function event(n: number, customer: string, type: string, product: string, at: number): BehaviorEvent {
  return { event_id: `e${n}`, customer_id: customer, type, occurred_at: at, product_id: product } as unknown as BehaviorEvent;
}

/** Seven customers viewing and buying a few products over two days (each every 35 minutes), with re-sent events. */
function traffic(): BehaviorEvent[] {
  const events: BehaviorEvent[] = [];
  let n = 0;
  for (let i = 0; i < 300; i += 1) {
    const customer = `c${i % 7}`;
    const type = i % 11 === 0 ? 'purchase' : i % 5 === 0 ? 'add_to_cart' : 'product_view';
    events.push(event(n, customer, type, `p${(i * 7) % 9}`, NOW - DAY - 3_600_000 + i * 300_000));
    n += 1;
    if (i % 13 === 0) events.push({ ...(events[events.length - 1] as BehaviorEvent) }); // a producer's re-send
  }
  return events;
}

describe('chaos: the recommender reference', () => {
  it('equals the sum of the batches the service applies, state carried between them', () => {
    const events = traffic();
    const reference = recommenderReference(events, tuning, NOW);
    const popularity = new Map<number, Map<string, number>>();
    const neighbors = new Map<string, Map<string, number>>();
    const states = new Map<string, string | null>();
    for (let from = 0; from < events.length; from += 17) {
      const byCustomer = new Map<string, BehaviorEvent[]>();
      for (const e of events.slice(from, from + 17)) byCustomer.set(e.customer_id, [...(byCustomer.get(e.customer_id) ?? []), e]);
      const result = applyBatch(byCustomer, states, tuning, NOW);
      for (const [customer, state] of result.states) states.set(customer, state);
      for (const [day, products] of result.deltas.popularity) {
        const into = popularity.get(day) ?? new Map<string, number>();
        for (const [product, weight] of products) into.set(product, (into.get(product) ?? 0) + weight);
        popularity.set(day, into);
      }
      for (const [product, counts] of neighborIncrements(toDeltaRecord('t:0', String(from), result.deltas).coViews)) {
        const into = neighbors.get(product) ?? new Map<string, number>();
        for (const [other, count] of counts) into.set(other, (into.get(other) ?? 0) + count);
        neighbors.set(product, into);
      }
    }
    expect(reference.popularity.size).toBe(2);
    expect(reference.neighbors.size).toBeGreaterThan(3);
    expect(reference.popularity).toEqual(popularity);
    expect(reference.neighbors).toEqual(neighbors);
  });

  it('counts a re-sent event once and leaves out the days outside the retained ones', () => {
    const first = event(1, 'c', 'purchase', 'p', NOW);
    const old = event(2, 'c', 'purchase', 'p', NOW - 8 * DAY);
    const reference = recommenderReference([first, { ...first }, old], tuning, NOW);
    expect(reference.popularity).toEqual(new Map([[Math.floor(NOW / DAY), new Map([['p', 5]])]]));
  });
});

describe('chaos: comparing counts', () => {
  const reference = new Map([
    ['a', new Map([['x', 1], ['y', 2]])],
    ['b', new Map([['x', 3]])],
    ['big', new Map([['x', 1], ['y', 1], ['z', 1]])],
  ]);

  it('compares the sets within the limit, and names the first member that differs', async () => {
    const stored = new Map([['a', new Map([['x', 1], ['y', 3]])], ['b', new Map([['x', 3]])]]);
    const result = await compareCounts(reference, 2, async (set) => stored.get(set) ?? new Map());
    expect(result).toEqual({ compared: 2, trimmed: 1, differing: ['a: y want 2, got 3'] });
  });

  it('finds a missing set, a missing member and an extra one', async () => {
    const stored = new Map([['a', new Map([['x', 1], ['y', 2], ['w', 1]])]]);
    const result = await compareCounts(reference, 5, async (set) => stored.get(set) ?? new Map());
    expect(result.differing).toEqual(['a: w want 0, got 1', 'b: x want 3, got 0', 'big: x want 1, got 0']);
    expect(firstDifference(new Map([['x', 1]]), new Map([['x', 1]]))).toBeNull();
  });

  it('reads a ZRANGE WITHSCORES reply', () => {
    expect(scoresOf(['x', '1', 'y', '2.5'])).toEqual(new Map([['x', 1], ['y', 2.5]]));
  });
});
