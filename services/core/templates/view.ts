/**
 * RenderData (what adapters pass in) -> the view templates see. Normalizing here is what lets
 * templates rely on simple rules: a missing value is absent (never null or ""), lists are
 * arrays, products always have a title and an http(s) link, objects that templates test
 * with {{#if x.y}} always exist.
 */
import { isCurrencyCode } from './helpers';

export interface RenderProduct {
  product_id: string;
  title: string;
  /** Already signed/tracking-wrapped by the adapter. */
  url: string;
  image_url?: string | null;
  price_cents?: number | null;
  currency?: string | null;
}

export interface RenderData {
  customer: {
    customer_id?: string | null;
    first_name?: string | null;
    last_name?: string | null;
    attributes?: Record<string, string>;
  };
  trigger?: { rule?: string | null; context?: Record<string, string> } | null;
  /** The product the trigger is about (high_interest), resolved from trigger.context.product_id. */
  product?: RenderProduct | null;
  /** Cart contents (cart_abandoned), resolved from trigger.context.cart_product_ids. */
  cart?: RenderProduct[] | null;
  /** `fallback: true` when the recommender was slow or down and best sellers stand in. */
  recommendations?: { items: RenderProduct[]; fallback: boolean } | null;
  offer?: {
    headline: string;
    description?: string | null;
    code?: string | null;
    discount_percent?: number | null;
    expires_at?: number | null;
  } | null;
  /** Every URL already signed by the adapter; unsubscribe_url is required. */
  links: {
    unsubscribe_url: string;
    preferences_url?: string | null;
    shop_url?: string | null;
  };
  brand?: { name?: string | null; address?: string | null } | null;
  /** The customer's current segments (names). */
  segments?: readonly string[] | null;
  /** Behavioural facts the segmenter keeps (see RenderFacts). */
  facts?: RenderFacts | null;
  /**
   * An experiment's block order (partial names): templates render their middle section with
   * `{{#if blocks}}{{> blocks}}{{else}}...their own order...{{/if}}`. Absent: the template's own.
   */
  blocks?: readonly string[] | null;
}

/** A product of a fact: its id, and the title and (signed) link when the adapter has them. */
export interface RenderFactProduct {
  product_id: string;
  /** From the catalogue; absent when it does not name the product. */
  title?: string | null;
  url?: string | null;
}

export interface RenderFacts {
  /** The newest purchase (epoch ms) and its product when known. */
  last_purchase?: { at: number; product?: RenderFactProduct | null } | null;
  last_viewed?: { at: number; product: RenderFactProduct } | null;
  purchases_30d?: number | null;
  purchases_90d?: number | null;
}

type View = Record<string, unknown>;

/**
 * What buildView does with each customer or event string it puts in the view: render() passes
 * its ValueMarkers (values.ts), so the view is built with markers in place of the values
 * instead of being copied afterwards. Campaign configuration (offer, brand) is never marked.
 */
export interface ValueMarking {
  mark(value: string): string;
}

/** The plain view: every value as it is. */
const AS_IS: ValueMarking = { mark: (value) => value };

/** `value` through `values.mark`, undefined kept. */
function marked(value: string | undefined, values: ValueMarking): string | undefined {
  return value === undefined ? undefined : values.mark(value);
}

export const DEFAULT_BRAND_NAME = 'Kairos Shop';

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * http(s) URLs that the WHATWG URL parser gives back unchanged (`new URL(u).toString() === u`):
 * a lower-case scheme; a host of lower-case ASCII letters, digits and hyphens in non-empty
 * labels (no punycode "xn--" label, which the parser would check, and a last label starting
 * with a letter, so never read as an IPv4 number); no port or credentials; a path from "/"
 * and a query of characters neither percent-encoded nor rewritten (no backslash, no space, no
 * quote, no fragment). DOT_SEGMENT_OR_ENCODED_DOT excludes "." and ".." segments (and %2e,
 * anywhere), which the parser would remove. Anything else goes through the parser.
 */
const CANONICAL_URL = /^https?:\/\/(?:(?!xn--)[a-z0-9-]+\.)*(?!xn--)[a-z][a-z0-9-]*\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT_OR_ENCODED_DOT = /\/\.\.?(?:[/?]|$)|%2e/i;

/** DOT_SEGMENT_OR_ENCODED_DOT's test, run only when the link has "/." or "%" (which it needs). */
function mayHaveDotSegment(candidate: string): boolean {
  return (candidate.includes('/.') || candidate.includes('%')) && DOT_SEGMENT_OR_ENCODED_DOT.test(candidate);
}

/** Only http(s) links reach a template: no javascript:, data: or relative surprises. */
export function safeUrl(value: unknown): string | undefined {
  const candidate = text(value);
  if (candidate === undefined) return undefined;
  // Most links are canonical already: one pattern test instead of a parse and a serialization.
  if (CANONICAL_URL.test(candidate) && !mayHaveDotSegment(candidate)) return candidate;
  return parsedUrl(candidate);
}

/** safeUrl by the URL parser alone (also the reference its fast path is tested against). */
export function parsedUrl(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Drops undefined values, so strict templates see "absent" rather than "empty". */
function compact(fields: Record<string, unknown>): View {
  // A loop rather than Object.fromEntries(Object.entries(...).filter(...)): a view is built per
  // email and this runs about 20 times for each; the fields are this file's own literals.
  const view: View = {};
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined) view[key] = value;
  }
  return view;
}

/**
 * Sets `key` as an own data property, as Object.fromEntries does: a key from data named
 * "__proto__" becomes a property (assignment would set the prototype instead).
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function product(raw: RenderProduct | null | undefined, values: ValueMarking): View | undefined {
  if (raw === null || raw === undefined) return undefined;
  const title = text(raw.title);
  if (title === undefined) return undefined;
  const url = safeUrl(raw.url);
  if (url === undefined) return undefined;
  const currency = text(raw.currency);
  const priced = typeof raw.price_cents === 'number' && Number.isSafeInteger(raw.price_cents) && isCurrencyCode(currency);
  // Built field by field (absent fields left out), in compact()'s order, without its literal: a view has up to a dozen products.
  const view: View = {};
  const id = text(raw.product_id);
  if (id !== undefined) view.product_id = values.mark(id);
  view.title = values.mark(title);
  view.url = values.mark(url);
  const image = safeUrl(raw.image_url);
  if (image !== undefined) view.image_url = values.mark(image);
  if (priced) {
    view.price_cents = raw.price_cents;
    view.currency = values.mark(currency.toUpperCase());
  }
  return view;
}

function products(list: readonly RenderProduct[] | null | undefined, values: ValueMarking): View[] {
  const out: View[] = [];
  for (const raw of list ?? []) {
    const item = product(raw, values);
    if (item !== undefined) out.push(item);
  }
  return out;
}

function stringMap(map: Record<string, string> | null | undefined, values: ValueMarking): Record<string, string> {
  const out: Record<string, string> = {};
  if (map === undefined || map === null) return out;
  for (const key of Object.keys(map)) {
    const value = text(map[key]);
    if (value !== undefined) setOwn(out, key, values.mark(value));
  }
  return out;
}

function time(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** A fact's time and product fields flattened: { at, product_id?, title?, url? }; absent without a time. */
function factProduct(at: unknown, raw: RenderFactProduct | null | undefined, values: ValueMarking): View | undefined {
  const when = time(at);
  if (when === undefined) return undefined;
  const id = text(raw?.product_id);
  if (id === undefined) return { at: when };
  return compact({ at: when, product_id: values.mark(id), title: marked(text(raw?.title), values), url: marked(safeUrl(raw?.url), values) });
}

/** Facts always exist (so `{{#if facts.x}}` works); counts are whole numbers, 0 when unknown. */
function facts(raw: RenderFacts | null | undefined, values: ValueMarking): View {
  return compact({
    last_purchase: raw?.last_purchase ? factProduct(raw.last_purchase.at, raw.last_purchase.product, values) : undefined,
    last_viewed: raw?.last_viewed ? factProduct(raw.last_viewed.at, raw.last_viewed.product, values) : undefined,
    purchases_30d: count(raw?.purchases_30d),
    purchases_90d: count(raw?.purchases_90d),
  });
}

/** Segments as `{ <name>: true }`, for `{{#if segments.frequent_buyer}}`. */
function segments(list: readonly string[] | null | undefined): Record<string, true> {
  const out: Record<string, true> = {};
  for (const name of list ?? []) {
    const key = text(name);
    if (key !== undefined) setOwn(out, key, true);
  }
  return out;
}

/**
 * The normalized view; throws (a plain Error) when the unsubscribe link is missing. With
 * `values`, every string from customer or event data (not offer and brand) is put in as
 * `values.mark(string)`: render()'s marked view, in one pass.
 */
export function buildView(data: RenderData, values: ValueMarking = AS_IS): View {
  const unsubscribe = safeUrl(data.links?.unsubscribe_url);
  if (unsubscribe === undefined) throw new Error('links.unsubscribe_url is missing or not an http(s) URL; no email goes out without one');
  const offer = data.offer && text(data.offer.headline) !== undefined
    ? compact({
        headline: text(data.offer.headline),
        description: text(data.offer.description),
        code: text(data.offer.code),
        discount_percent: typeof data.offer.discount_percent === 'number' && Number.isFinite(data.offer.discount_percent) ? data.offer.discount_percent : undefined,
        expires_at: typeof data.offer.expires_at === 'number' && Number.isFinite(data.offer.expires_at) ? data.offer.expires_at : undefined,
      })
    : undefined;
  const recommendations = products(data.recommendations?.items, values);
  return compact({
    customer: compact({
      customer_id: marked(text(data.customer?.customer_id), values),
      first_name: marked(text(data.customer?.first_name), values),
      last_name: marked(text(data.customer?.last_name), values),
      attributes: stringMap(data.customer?.attributes, values),
    }),
    trigger: compact({ rule: marked(text(data.trigger?.rule), values), context: stringMap(data.trigger?.context ?? undefined, values) }),
    product: product(data.product, values),
    cart: products(data.cart, values),
    recommendations: { items: recommendations, fallback: recommendations.length > 0 && data.recommendations?.fallback === true },
    offer,
    links: compact({
      unsubscribe_url: values.mark(unsubscribe),
      preferences_url: marked(safeUrl(data.links.preferences_url), values),
      shop_url: marked(safeUrl(data.links.shop_url), values),
    }),
    brand: compact({ name: text(data.brand?.name) ?? DEFAULT_BRAND_NAME, address: text(data.brand?.address) }),
    segments: segments(data.segments),
    facts: facts(data.facts, values),
    blocks: data.blocks && data.blocks.length > 0 ? data.blocks.map((name) => ({ [name]: true })) : undefined,
  });
}
