/** Deterministic A/B variant choice: the same key always lands in the same arm. */
import { createHash } from 'node:crypto';
import type { Campaign, Variant } from './model';

/**
 * The variant for this customer (or trigger, per `variantKey`), or null when the campaign has
 * no variants. Hashing campaign name + key means a replay picks the same arm, and different
 * campaigns split the same customers independently.
 */
export function chooseVariant(campaign: Campaign, ids: { customerId: string; triggerId: string }): Variant | null {
  if (campaign.variants.length === 0) return null;
  const key = campaign.variantKey === 'customer' ? ids.customerId : ids.triggerId;
  const digest = createHash('sha256').update(campaign.name).update('\u0000').update(key).digest();
  const total = campaign.variants.reduce((sum, variant) => sum + variant.weight, 0);
  // 48 bits keep the modulo bias negligible for any total weight a file can hold.
  let point = digest.readUIntBE(0, 6) % total;
  for (const variant of campaign.variants) {
    if (point < variant.weight) return variant;
    point -= variant.weight;
  }
  return campaign.variants[campaign.variants.length - 1];
}
