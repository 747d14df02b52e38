/** The offer block's data for one send, from the campaign's offer copy. */
import type { Campaign, Offer } from './model';

export interface RenderOfferFields {
  headline: string;
  description?: string;
  code?: string;
  discount_percent?: number;
  /** Epoch ms; shown with the `date` helper in the customer's zone. */
  expires_at?: number;
}

/** The `offer` render data for a campaign sent at `now`, or null when it has no offer. */
export function offerFor(campaign: Campaign, now: number): RenderOfferFields | null {
  return offerFields(campaign.offer, now);
}

/** The `offer` render data of an offer (the campaign's or an experiment arm's) sent at `now`; null for none. */
export function offerFields(offer: Offer | null, now: number): RenderOfferFields | null {
  if (offer === null) return null;
  return {
    headline: offer.headline,
    ...(offer.description === null ? {} : { description: offer.description }),
    ...(offer.code === null ? {} : { code: offer.code }),
    ...(offer.discountPercent === null ? {} : { discount_percent: offer.discountPercent }),
    ...(offer.validForMs === null ? {} : { expires_at: now + offer.validForMs }),
  };
}
