/** How stored co-view counts and popularity become a ranked list. */

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
