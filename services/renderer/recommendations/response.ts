/** What the recommender (or a fallback file) may put in an email: the product schema and its parsers. */
import { z } from 'zod';
import type { RecommendedProduct } from '../../core/recommendations';
import { RecommenderResponseError } from './errors';

const httpUrl = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
});

const productSchema = z.object({
  product_id: z.string().min(1).max(200),
  title: z.string().min(1).max(300),
  url: httpUrl,
  image_url: httpUrl.optional(),
  price_cents: z.number().int().nonnegative().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
});

/** Keeps the fields the port knows and only items that validate: a bad item is dropped, not shown. */
export function cleanProducts(raw: unknown): RecommendedProduct[] {
  if (!Array.isArray(raw)) throw new RecommenderResponseError('answer has no items array');
  return raw.flatMap((item): RecommendedProduct[] => {
    const parsed = productSchema.safeParse(item);
    if (!parsed.success) return [];
    const { product_id, title, url, image_url, price_cents, currency } = parsed.data;
    return [
      {
        product_id,
        title,
        url,
        ...(image_url !== undefined ? { image_url } : {}),
        ...(price_cents !== undefined ? { price_cents } : {}),
        ...(currency !== undefined ? { currency } : {}),
      },
    ];
  });
}

/** Parses a static fallback file: a JSON array of products (or `{ "items": [...] }`). */
export function parseFallbackProducts(path: string, text: string): RecommendedProduct[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { items?: unknown } | null)?.items;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a JSON array of products like [{"product_id", "title", "url"}]`);
  list.forEach((item, index) => {
    const parsed = productSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}: item ${index}: ${issue?.path.map(String).join('.') || 'item'}: ${issue?.message ?? 'invalid'}`);
    }
  });
  return cleanProducts(list);
}
