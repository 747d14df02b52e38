import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';
import {
  DAY_MS,
  applyBatch,
  dayOf,
  decodeDeltaRecord,
  decodeViews,
  encodeDeltaRecord,
  neighborIncrements,
  pairKey,
  toDeltaRecord,
  type RecommenderTuning,
} from '../../../../services/core/recommendations';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const MINUTE = 60_000;
const tuning: RecommenderTuning = {
  popularityWeights: { product_view: 1, add_to_cart: 3, purchase: 5 },
  popularityDays: 7,
  recentViews: 3,
  coViewWindowMs: 60 * MINUTE,
  recentEventIds: 20,
};

let seq = 0;
const ev = (customer: string, type: string, product: string | null, at = NOW): BehaviorEvent =>
  behaviorEvent({ event_id: `e-${(seq += 1)}`, customer_id: customer, type, occurred_at: at, product_id: product });
const views = (customer: string, ...products: string[]) => products.map((p, i) => ev(customer, 'product_view', p, NOW + i * MINUTE));
const run = (events: BehaviorEvent[], previous = new Map<string, string | null>(), now = NOW) => {
  const byCustomer = new Map<string, BehaviorEvent[]>();
  for (const e of events) byCustomer.set(e.customer_id, [...(byCustomer.get(e.customer_id) ?? []), e]);
  return applyBatch(byCustomer, previous, tuning, now);
};

describe('applyBatch: co-views', () => {
  it('pairs a newly viewed product with each recent view of the same customer, once per pair', () => {
    const { deltas } = run([...views('c1', 'a', 'b', 'c'), ...views('c2', 'a', 'b')]);
    expect(Object.fromEntries(deltas.coViews)).toEqual({ [pairKey('a', 'b')]: 2, [pairKey('a', 'c')]: 1, [pairKey('b', 'c')]: 1 });
  });

  it('flipping between two products counts the pair once', () => {
    const { deltas } = run(views('c1', 'a', 'b', 'a', 'b', 'a'));
    expect(Object.fromEntries(deltas.coViews)).toEqual({ [pairKey('a', 'b')]: 1 });
  });

  it('views further apart than the window do not pair', () => {
    const { deltas } = run([ev('c1', 'product_view', 'a', NOW), ev('c1', 'product_view', 'b', NOW + 61 * MINUTE)]);
    expect(deltas.coViews.size).toBe(0);
  });

  it('keeps only the last few views (bounded), newest first, and carries them across batches', () => {
    const first = run(views('c1', 'a', 'b', 'c', 'd'));
    const state = decodeViews(first.states.get('c1'));
    expect(state.views.map((v) => v.product)).toEqual(['d', 'c', 'b']);
    const second = run([ev('c1', 'product_view', 'e', NOW + 5 * MINUTE)], new Map([['c1', first.states.get('c1') ?? null]]));
    expect([...second.deltas.coViews.keys()].sort()).toEqual([pairKey('b', 'e'), pairKey('c', 'e'), pairKey('d', 'e')].sort());
  });

  it('views of different customers never pair', () => {
    const { deltas } = run([...views('c1', 'a'), ...views('c2', 'b')]);
    expect(deltas.coViews.size).toBe(0);
  });
});

describe('applyBatch: popularity', () => {
  it('weighs views, adds and purchases per UTC day of the event', () => {
    const yesterday = NOW - DAY_MS;
    const { deltas } = run([
      ev('c1', 'product_view', 'a'),
      ev('c1', 'add_to_cart', 'a'),
      ev('c2', 'purchase', 'b'),
      ev('c2', 'product_view', 'b', yesterday),
      ev('c2', 'page_view', 'b'), // not a popularity signal
    ]);
    expect(Object.fromEntries(deltas.popularity.get(dayOf(NOW)) ?? [])).toEqual({ a: 4, b: 5 });
    expect(Object.fromEntries(deltas.popularity.get(dayOf(yesterday)) ?? [])).toEqual({ b: 1 });
  });

  it('ignores events outside the retained days, without a product, and re-sent event ids', () => {
    const view = ev('c1', 'product_view', 'a');
    const result = run([
      view,
      { ...view }, // a producer re-send: same event_id
      ev('c1', 'purchase', null),
      ev('c1', 'product_view', 'old', NOW - 7 * DAY_MS),
      ev('c1', 'product_view', 'future', NOW + 3 * DAY_MS),
      ev('c1', 'product_view', 'x'.repeat(201)),
    ]);
    expect(Object.fromEntries(result.deltas.popularity.get(dayOf(NOW)) ?? [])).toEqual({ a: 1 });
    expect(result.deltas.popularity.size).toBe(1);
    expect(result.ignored).toEqual({ duplicate: 1, no_product: 2, too_old_for_popularity: 1, in_the_future: 1 });
  });

  it('a re-sent event in a later batch is still dropped (event ids live in the customer state)', () => {
    const view = ev('c1', 'product_view', 'a');
    const first = run([view]);
    const second = run([{ ...view }], new Map([['c1', first.states.get('c1') ?? null]]));
    expect(second.deltas.popularity.size).toBe(0);
    expect(second.ignored).toEqual({ duplicate: 1 });
  });
});

describe('delta records', () => {
  it('round-trip and expand pairs into both directions', () => {
    const { deltas } = run([...views('c1', 'a', 'b'), ...views('c2', 'a', 'b', 'c')]);
    const record = decodeDeltaRecord(encodeDeltaRecord(toDeltaRecord('events:3', '41', deltas)));
    expect(record.source).toBe('events:3');
    expect(record.offset).toBe('41');
    const byProduct = neighborIncrements(record.coViews);
    expect(Object.fromEntries(byProduct.get('a') ?? [])).toEqual({ b: 2, c: 1 });
    expect(Object.fromEntries(byProduct.get('c') ?? [])).toEqual({ a: 1, b: 1 });
  });
});
