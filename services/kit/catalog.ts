/**
 * The optional product catalogue file (CATALOG_FILE): titles, links, images and prices by
 * product id. Kairos has no catalogue of its own; the recommender describes the products it
 * recommends with it, the renderer names the products of its emails (trigger product, cart,
 * facts) with it. Validated at start-up; errors name the file, the product and the field.
 */
import { z } from 'zod';
import { readConfigFile } from './files';

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

