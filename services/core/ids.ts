import { hash } from 'node:crypto';

/**
 * The deterministic id of one firing: the same rule, customer and discriminator (usually the
 * id of the event that caused it, or a timer's due time) always give the same id, so
 * downstream can drop duplicates after a replay. 32 hex characters (128 bits of SHA-256).
 */
export function triggerId(rule: string, customerId: string, discriminator: string): string {
  // One-shot crypto.hash: the same digest as createHash().update()...digest(), without the Hash object.
  return hash('sha256', `${rule}\u0000${customerId}\u0000${discriminator}`, 'hex').slice(0, 32);
}
