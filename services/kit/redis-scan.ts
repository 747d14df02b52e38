import { Cluster } from 'ioredis';
import type { RedisClient } from './redis';

/** Escapes glob characters so a key prefix matches itself only in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Deletes every key matching `pattern` (SCAN, never KEYS, so a big Redis is not blocked), on a
 * single Redis or on every master of a Cluster. Returns how many keys were deleted.
 */
export async function deleteKeysMatching(redis: RedisClient, pattern: string, scanCount = 1000): Promise<number> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', scanCount);
      cursor = next;
      // One UNLINK per key: on a Cluster, keys of one call must share a slot, and a node's
      // keys of one SCAN page need not.
      if (keys.length > 0) deleted += (await Promise.all(keys.map((key) => node.unlink(key)))).reduce((a, b) => a + b, 0);
    } while (cursor !== '0');
  }
  return deleted;
}
