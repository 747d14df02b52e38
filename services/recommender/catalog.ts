/**
 * What the recommender says about a product besides its id. Kairos has no product catalogue
 * of its own, so an optional JSON file (CATALOG_FILE, parsed by the kit's catalog.ts) supplies
 * titles, links, images and prices; a product missing from it gets a title made from its id and
 * a link from PRODUCT_URL_TEMPLATE, so the API always answers with something an email can show.
 */
import type { RecommendedProduct } from '../core/recommendations';
import { fillTemplate, titleFromId, type CatalogEntry } from '../kit/catalog';

export { fillTemplate, loadCatalog, parseCatalog, titleFromId, type CatalogEntry } from '../kit/catalog';

export class Catalog {
  constructor(
    private readonly entries: ReadonlyMap<string, CatalogEntry>,
    private readonly urlTemplate: string,
    private readonly imageUrlTemplate?: string,
  ) {}

  describe(productId: string): RecommendedProduct {
    const entry = this.entries.get(productId);
    const imageUrl = entry?.image_url ?? (this.imageUrlTemplate ? fillTemplate(this.imageUrlTemplate, productId) : undefined);
    return {
      product_id: productId,
      title: entry?.title ?? titleFromId(productId),
      url: entry?.url ?? fillTemplate(this.urlTemplate, productId),
      ...(imageUrl !== undefined ? { image_url: imageUrl } : {}),
      ...(entry?.price_cents !== undefined ? { price_cents: entry.price_cents } : {}),
      ...(entry?.currency !== undefined ? { currency: entry.currency } : {}),
    };
  }
}
