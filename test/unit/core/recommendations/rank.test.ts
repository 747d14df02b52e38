import { dayWeights, parseWeights, rankRecommendations } from '../../../../services/core/recommendations';

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
