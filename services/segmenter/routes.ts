import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type RouteHandler } from '../kit/http';
import type { PartitionKeys } from '../kit/partition-state';
import { partitionOf } from '../kit/partitioner';
import type { RedisClient } from '../kit/redis';
import { memberships, parseSegmentState, type SegmentDefinition } from '../core/segments';
import { membersSet } from './adapter';

const MAX_PAGE = 1000;

/**
 * The segment query API:
 *   GET /customers/<id>/segments             a customer's current segments
 *   GET /segments                            every segment with its size
 *   GET /segments/<name>                     one segment's size
 *   GET /segments/<name>/members?cursor=&limit=   a page of members; pass next_cursor back
 */
export function segmentRoutes(deps: {
  redis: RedisClient;
  keys: PartitionKeys;
  definitions: readonly SegmentDefinition[];
  partitionCount: () => number;
}): Record<string, RouteHandler> {
  const { redis, keys, definitions, partitionCount } = deps;
  const known = new Map(definitions.map((d) => [d.name, d]));

  const size = async (segment: string): Promise<number> => {
    const counts = await Promise.all(
      Array.from({ length: partitionCount() }, (_, p) => redis.scard(keys.set(p, membersSet(segment)))),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  };

  const customerSegments: RouteHandler = async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    const match = /^\/customers\/([^/]+)\/segments$/.exec(url.pathname);
    if (!match) return sendJson(res, 404, { error: 'expected /customers/<customer_id>/segments' });
    const customerId = decodeURIComponent(match[1]);
    const partition = partitionOf(customerId, partitionCount());
    const state = parseSegmentState(await redis.get(keys.customer(partition, customerId)));
    sendJson(res, 200, { customer_id: customerId, segments: memberships(state) });
  };

  const segments: RouteHandler = async (_req, res, url) => {
    if (url.pathname === '/segments' || url.pathname === '/segments/') {
      const list = await Promise.all(definitions.map(async (d) => ({ name: d.name, description: d.description, size: await size(d.name) })));
      return sendJson(res, 200, { segments: list });
    }
    const match = /^\/segments\/([^/]+)(\/members)?$/.exec(url.pathname);
    const name = match ? decodeURIComponent(match[1]) : '';
    if (!match || !known.has(name)) {
      return sendJson(res, 404, { error: `unknown segment ${JSON.stringify(name)}; known: ${[...known.keys()].join(', ')}` });
    }
    if (!match[2]) return sendJson(res, 200, { name, description: known.get(name)?.description ?? null, size: await size(name) });
    return sendJson(res, 200, await membersPage(name, url));
  };

  /** Walks the partitions in order with SSCAN; the cursor is "<partition>:<sscan cursor>". */
  const membersPage = async (segment: string, url: URL): Promise<{ members: string[]; next_cursor: string | null }> => {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 100) || 100, 1), MAX_PAGE);
    const [p, c] = (url.searchParams.get('cursor') ?? '0:0').split(':');
    let partition = Number(p) || 0;
    let cursor = c ?? '0';
    const members: string[] = [];
    while (partition < partitionCount() && members.length < limit) {
      const [next, found] = await redis.sscan(keys.set(partition, membersSet(segment)), cursor, 'COUNT', limit - members.length);
      members.push(...found);
      if (next === '0') {
        partition += 1;
        cursor = '0';
      } else cursor = next;
    }
    return { members, next_cursor: partition < partitionCount() ? `${partition}:${cursor}` : null };
  };

  return { 'GET /customers/': customerSegments, 'GET /segments': segments };
}
