import { behaviorEvent, type BehaviorEvent } from '../../../services/core/types';
import { Catalog, parseCatalog, titleFromId } from '../../../services/recommender/catalog';
import {
  DAY_MS,
  applyBatch,
  dayOf,
  dayWeights,
  decodeDeltaRecord,
  decodeViews,
  encodeDeltaRecord,
  neighborIncrements,
  pairKey,
  parseWeights,
  rankRecommendations,
  toDeltaRecord,
  type RecommenderTuning,
} from '../../../services/recommender/logic';

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

describe('rankRecommendations', () => {
  const neighbors = new Map<string, Array<[string, number]>>([
    ['a', [['b', 5], ['c', 3], ['cart-1', 9]]],
    ['cart-1', [['c', 3], ['d', 1]]],
  ]);
  const popular: Array<[string, number]> = [['p1', 50], ['b', 40], ['a', 30], ['p2', 20]];

  it('sums co-views over the seeds, excludes context products and tops up with popular ones', () => {
    const result = rankRecommendations({
      seeds: [{ product: 'a', weight: 1 }, { product: 'cart-1', weight: 1 }],
      neighbors,
      popular,
      exclude: new Set(['a', 'cart-1']),
      limit: 5,
    });
    expect(result).toEqual({ products: ['c', 'b', 'd', 'p1', 'p2'], strategy: 'viewed_together' });
  });

  it('is "popular" when no seed has neighbors', () => {
    expect(rankRecommendations({ seeds: [{ product: 'z', weight: 1 }], neighbors, popular, exclude: new Set(['z', 'b']), limit: 2 })).toEqual({
      products: ['p1', 'a'],
      strategy: 'popular',
    });
  });

  it('never picks a seed from co-views (recent views are seeds), though popularity may bring it', () => {
    const result = rankRecommendations({
      seeds: [{ product: 'a', weight: 0.5 }, { product: 'b', weight: 0.5 }],
      neighbors: new Map<string, Array<[string, number]>>([['a', [['b', 3], ['c', 2]]], ['b', [['a', 3], ['c', 1]]]]),
      popular: [['a', 9], ['p', 1]],
      exclude: new Set(),
      limit: 3,
    });
    expect(result).toEqual({ products: ['c', 'a', 'p'], strategy: 'viewed_together' });
  });

  it('weighs seeds and breaks ties by product id', () => {
    const result = rankRecommendations({
      seeds: [{ product: 'a', weight: 0.5 }, { product: 'cart-1', weight: 1 }],
      neighbors: new Map<string, Array<[string, number]>>([['a', [['y', 2], ['x', 2]]], ['cart-1', [['w', 1]]]]),
      popular: [],
      exclude: new Set(),
      limit: 3,
    });
    expect(result.products).toEqual(['w', 'x', 'y']);
  });
});

describe('tuning helpers', () => {
  it('dayWeights halves per half-life; 0 means a plain window', () => {
    expect(dayWeights(3, 86_400_000)).toEqual([1, 0.5, 0.25]);
    expect(dayWeights(2, 0)).toEqual([1, 1]);
  });

  it('parseWeights reads event_type=weight pairs and names a bad entry', () => {
    expect(parseWeights('product_view=1,purchase=2.5')).toEqual({ product_view: 1, purchase: 2.5 });
    expect(() => parseWeights('purchase')).toThrow(/"purchase" is not like event_type=weight/);
  });
});

describe('catalog', () => {
  it('describes products from the file, or from the id and the URL template', () => {
    const entries = parseCatalog('catalog.json', JSON.stringify({ 'sku-1': { title: 'Blue mug', price_cents: 1299, currency: 'EUR', url: 'https://shop.example/mug' } }));
    const catalog = new Catalog(entries, 'https://shop.example/p/{product_id}', 'https://img.example/{product_id}.jpg');
    expect(catalog.describe('sku-1')).toEqual({
      product_id: 'sku-1',
      title: 'Blue mug',
      url: 'https://shop.example/mug',
      image_url: 'https://img.example/sku-1.jpg',
      price_cents: 1299,
      currency: 'EUR',
    });
    expect(catalog.describe('red_tea-pot/2')).toEqual({
      product_id: 'red_tea-pot/2',
      title: 'Red tea pot/2',
      url: 'https://shop.example/p/red_tea-pot%2F2',
      image_url: 'https://img.example/red_tea-pot%2F2.jpg',
    });
    expect(titleFromId('---')).toBe('---');
  });

  it('rejects a bad catalog naming the file, the product and the field', () => {
    expect(() => parseCatalog('c.json', JSON.stringify({ 'sku-1': { title: 'x', url: 'javascript:1' } }))).toThrow(/c\.json: sku-1\.url: must be an absolute http\(s\) URL/);
    expect(() => parseCatalog('c.json', JSON.stringify({ 'sku-1': { title: 'x', colour: 'red' } }))).toThrow(/c\.json: sku-1/);
    expect(() => parseCatalog('c.json', '[')).toThrow(/c\.json: not valid JSON/);
  });
});
