/**
 * What the recommender says about a product besides its id. Kairos has no product catalogue
 * of its own, so an optional JSON file (CATALOG_FILE) supplies titles, links, images and
 * prices; a product missing from it gets a title made from its id and a link from
 * PRODUCT_URL_TEMPLATE, so the API always answers with something an email can show.
 */
import { z } from 'zod';
import type { RecommendedProduct } from '../core/recommendations';
import { readConfigFile } from '../kit/files';

const httpUrl = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

const entrySchema = z.strictObject({
  title: z.string().min(1),
  url: httpUrl.optional(),
  image_url: httpUrl.optional(),
  price_cents: z.number().int().nonnegative().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like EUR').optional(),
});
const catalogSchema = z.record(z.string().min(1), entrySchema);

export type CatalogEntry = z.infer<typeof entrySchema>;

/** Parses the catalogue file text; throws naming the file, the product and the field. */
export function parseCatalog(path: string, text: string): Map<string, CatalogEntry> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const result = catalogSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.map(String).join('.') : '(top level)';
    throw new Error(`${path}: ${where}: ${issue?.message ?? 'invalid'}; expected {"<product_id>": {"title": "...", "url"?, "image_url"?, "price_cents"?, "currency"?}}`);
  }
  return new Map(Object.entries(result.data));
}

export function loadCatalog(file: string | undefined): Map<string, CatalogEntry> {
  if (file === undefined) return new Map();
  const { path, text } = readConfigFile(file);
  return parseCatalog(path, text);
}

/** `sku-blue_mug` -> `Sku blue mug`: readable enough for a demo without a catalogue. */
export function titleFromId(productId: string): string {
  const words = productId.replace(/[-_]+/g, ' ').trim();
  return words === '' ? productId : words.charAt(0).toUpperCase() + words.slice(1);
}

/** Fills `{product_id}` (URL-encoded) into a template. */
export function fillTemplate(template: string, productId: string): string {
  return template.split('{product_id}').join(encodeURIComponent(productId));
}

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
