/** A legacy A/B variant: the arm of the campaign's "variants" experiment, as its Variant. */
import { assignmentFor } from './experiments';
import type { Campaign, Variant } from './model';

/**
 * The variant for this customer (or trigger, per `variantKey`), or null when the campaign has
 * no variants. The `variants:` list is an experiment like any other (experiments.ts), so a
 * replay picks the same arm and different campaigns split the same customers independently.
 * null too for the holdout, which a `variants:` list never has.
 */
export function chooseVariant(campaign: Campaign, ids: { customerId: string; triggerId: string }): Variant | null {
  if (campaign.variants.length === 0) return null;
  const assignment = assignmentFor(campaign, ids);
  return campaign.variants.find((variant) => variant.name === assignment?.arm) ?? null;
}
