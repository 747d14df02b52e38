import type { RecommendationSource, Recommendations } from '../core/recommendations';
import { productUrl } from './content';

/**
 * Configured best sellers (FALLBACK_PRODUCT_IDS), always marked as the fallback. Stands in for
 * the recommender's HTTP client where none is wired (the preview CLI, a renderer without one).
 */
export class StaticRecommendations implements RecommendationSource {
  constructor(
    private readonly productIds: readonly string[],
    private readonly urlTemplate: string,
  ) {}

  async recommend(request: { limit: number }): Promise<Recommendations> {
    return {
      items: this.productIds.slice(0, request.limit).map((id) => ({ product_id: id, title: id, url: productUrl(this.urlTemplate, id) })),
      fallback: true,
    };
  }
}
