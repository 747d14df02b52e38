/**
 * What the renderer shows in a recommendations block, and the port it gets them through.
 * The renderer's client of the recommender service implements it with a timeout, a cache, a
 * circuit breaker and a fallback; tests may pass any object with this shape.
 */
export interface RecommendedProduct {
  product_id: string;
  title: string;
  url: string;
  image_url?: string;
  price_cents?: number;
  currency?: string;
}

export interface Recommendations {
  items: RecommendedProduct[];
  /** True when these are the fallback (for example best sellers), not personal picks. */
  fallback: boolean;
}

/** How the picks are made: an experiment's `recommendations` variable chooses one. */
export type RecommendationStrategy = 'co_viewed' | 'popular' | 'none';

export interface RecommendationRequest {
  customerId: string;
  context: Record<string, string>;
  limit: number;
  /** co_viewed (the default when absent): personal picks; popular: best sellers; none: no items. */
  strategy?: RecommendationStrategy;
}

export interface RecommendationSource {
  /** Never rejects: on timeout, error or an open breaker it resolves with the fallback. */
  recommend(request: RecommendationRequest): Promise<Recommendations>;
}
