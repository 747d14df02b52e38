import { PartitionKeys } from './partition-state';

/**
 * The segmenter's name as a partition service. Its state keys derive from it, and other
 * services read a customer's segments from them (through core's segmentMembershipView), so the
 * segmenter and its readers both take the name from here.
 */
export const SEGMENTER_SERVICE = 'segmenter';

/** The key of a customer's segment state: `{<prefix>:segmenter:<partition>}:c:<customer_id>`. */
export function segmentStateKey(prefix: string, partition: number, customerId: string): string {
  return new PartitionKeys(prefix, SEGMENTER_SERVICE).customer(partition, customerId);
}
