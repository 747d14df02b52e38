/**
 * What one email shows, as RenderData for the pure renderer: the customer's names, the product
 * and cart of the trigger (ids -> simple product objects, titled from the catalogue when one is
 * given), the customer's segments and behavioural facts, the recommendations, the campaign's
 * offer, and every link signed for tracking.
 */
import { offerFields, offerFor, type ArmSettings, type Campaign } from '../core/campaigns';
import type { LinkContext, LinkSigner } from '../core/links';
import type { RecommendationSource, RecommendationStrategy, Recommendations } from '../core/recommendations';
import { NO_FACTS, type SegmentStateView } from '../core/segments';
import { safeUrl, type LinkTracking, type RenderData, type RenderFactProduct, type RenderFacts, type RenderProduct } from '../core/templates';
import type { CustomerProfile, TriggerFired } from '../core/types';

export interface ContentOptions {
  links: LinkSigner;
  /** e.g. https://shop.example.com/products/{product_id} */
  productUrlTemplate: string;
  shopUrl: string | null;
  brandName: string;
  brandAddress: string | null;
  recommendationsLimit: number;
  /** Product titles by id, from CATALOG_FILE (empty without one). */
  productTitles?: ReadonlyMap<string, string>;
}

export interface EmailContent {
  data: RenderData;
  /** For render(): the template's own links and the open pixel, signed for this email. */
  tracking: LinkTracking;
  unsubscribeUrl: string;
  unsubscribeToken: string;
  recommendationsFallback: boolean;
}

/** The product page of an id, from the configured template. */
export function productUrl(template: string, productId: string): string {
  return template.replace(/\{product_id\}/g, encodeURIComponent(productId));
}

function productOf(id: string, title: string | undefined, options: ContentOptions, link: LinkContext, now: number): RenderProduct {
  const named = title ?? options.productTitles?.get(id) ?? id;
  return { product_id: id, title: named, url: options.links.click(productUrl(options.productUrlTemplate, id), link, now) };
}

/** A fact's product: the title only when the catalogue names it (templates give their own fallback). */
function factProductOf(id: string, options: ContentOptions, link: LinkContext, now: number): RenderFactProduct {
  return { product_id: id, title: options.productTitles?.get(id) ?? null, url: options.links.click(productUrl(options.productUrlTemplate, id), link, now) };
}

function renderFacts(view: SegmentStateView, options: ContentOptions, link: LinkContext, now: number): RenderFacts {
  const { lastPurchase, lastViewed, purchases30d, purchases90d } = view.facts;
  return {
    last_purchase: lastPurchase === null ? null : { at: lastPurchase.at, product: lastPurchase.productId === null ? null : factProductOf(lastPurchase.productId, options, link, now) },
    last_viewed: lastViewed === null ? null : { at: lastViewed.at, product: factProductOf(lastViewed.productId, options, link, now) },
    purchases_30d: purchases30d,
    purchases_90d: purchases90d,
  };
}

/** A customer the segmenter knows nothing of: no segments, no facts. */
export const NO_SEGMENT_STATE: SegmentStateView = { segments: [], facts: NO_FACTS };

async function recommendationsFor(source: RecommendationSource, trigger: TriggerFired, limit: number, strategy: RecommendationStrategy | undefined): Promise<Recommendations> {
  if (limit === 0 || strategy === 'none') return { items: [], fallback: false };
  try {
    return await source.recommend({ customerId: trigger.customer_id, context: { ...trigger.context, rule: trigger.rule }, limit, ...(strategy === undefined ? {} : { strategy }) });
  } catch {
    // The port promises never to reject; if an implementation does, the email still goes out.
    return { items: [], fallback: true };
  }
}

/** Gathers the render data of one email (asks the recommendation source; nothing else is I/O). */
export async function buildContent(input: {
  trigger: TriggerFired;
  profile: CustomerProfile | null;
  campaign: Campaign;
  /** The variant chosen, when the campaign has variants: every link of the email carries it. */
  variant?: string | null;
  now: number;
  recommendations: RecommendationSource;
  options: ContentOptions;
  /** The customer's segments and facts (segmentStateView); none when omitted. */
  segmentState?: SegmentStateView;
  /** What the experiment arm changes (offer, recommendation strategy, block order); none when omitted. */
  arm?: ArmSettings | null;
}): Promise<EmailContent> {
  const { trigger, profile, campaign, options, now } = input;
  const segmentState = input.segmentState ?? NO_SEGMENT_STATE;
  const link: LinkContext = {
    customer_id: trigger.customer_id,
    trigger_id: trigger.trigger_id,
    campaign: campaign.name,
    ...(input.variant ? { variant: input.variant } : {}),
  };
  const context = trigger.context ?? {};
  const productId = context.product_id?.trim();
  const cartIds = (context.cart_product_ids ?? '').split(',').map((id) => id.trim()).filter((id) => id !== '');
  const arm = input.arm ?? {};
  const recommended = await recommendationsFor(input.recommendations, trigger, options.recommendationsLimit, arm.recommendations);
  const items = recommended.items.slice(0, options.recommendationsLimit).flatMap((item): RenderProduct[] => {
    const target = safeUrl(item.url);
    if (target === undefined) return [];
    return [{ ...item, url: options.links.click(target, link, now) }];
  });
  // Every link is signed at render time with its own nonce and expiry (core/links.ts LINK_TTL_MS);
  // the List-Unsubscribe URL and its mailto: variant carry the same token.
  const unsubscribeToken = options.links.unsubscribeToken(link, now);
  const unsubscribeUrl = options.links.urlFor('unsubscribe', unsubscribeToken);
  return {
    data: {
      customer: {
        customer_id: trigger.customer_id,
        first_name: profile?.first_name ?? null,
        last_name: profile?.last_name ?? null,
        attributes: profile?.attributes ?? {},
      },
      trigger: { rule: trigger.rule, context },
      product: productId ? productOf(productId, context.product_title, options, link, now) : null,
      cart: cartIds.map((id) => productOf(id, undefined, options, link, now)),
      recommendations: { items, fallback: recommended.fallback },
      offer: arm.offer === undefined ? offerFor(campaign, input.now) : offerFields(arm.offer, input.now),
      links: {
        unsubscribe_url: unsubscribeUrl,
        preferences_url: options.links.preferences(link, now),
        shop_url: options.shopUrl === null ? null : options.links.click(options.shopUrl, link, now),
      },
      brand: { name: options.brandName, address: options.brandAddress },
      segments: segmentState.segments,
      facts: renderFacts(segmentState, options, link, now),
      ...(arm.blockOrder === undefined ? {} : { blocks: arm.blockOrder }),
    },
    tracking: {
      click: (url) => options.links.click(url, link, now),
      isTracked: (url) => options.links.isTrackerUrl(url),
      openPixelUrl: options.links.open(link, now),
    },
    unsubscribeUrl,
    unsubscribeToken,
    recommendationsFallback: recommended.fallback,
  };
}
