import { sendJson, type RequestContext, type RouteHandler } from '../kit/http';
import { badRequest, HttpError, intParam, param, invalid, parseQuery, pathParam, textParam, MAX_ID_PARAM_LENGTH } from '../kit/http-params';
import type { PartitionKeys } from '../kit/partition-state';
import { partitionOf } from '../kit/partitioner';
import type { RedisClient } from '../kit/redis';
import { memberships, parseSegmentState, type SegmentDefinition } from '../core/segments';
import { membersSet } from './adapter';

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
/**
 * Most SSCAN calls one members request makes. A sparse or huge set can need many calls per
 * page; once the budget is spent the page ends (short, even empty) with a next_cursor, so one
 * request costs Redis a bounded amount of work whatever the cursor and the data.
 */
export const MAX_SCANS_PER_REQUEST = 64;

// The members cursor: base64url of "m1:<partition>:<SSCAN cursor>". Clients pass it back as
// given; anything else (another spelling, a partition the topic does not have, a cursor
// beyond 64 bits) is refused with a 400.
const CURSOR_PATTERN = /^[A-Za-z0-9_-]{4,64}$/;
const CURSOR_TEXT = /^m1:(0|[1-9]\d{0,4}):(0|[1-9]\d{0,19})$/;
const MAX_SSCAN_CURSOR = 2n ** 64n - 1n;
const CURSOR_EXPECTED = 'the next_cursor of a previous page, or no cursor for the first page';

/** The position after a page: partition and SSCAN cursor within it. */
export interface MembersPosition {
  partition: number;
  cursor: string;
}

/** The opaque text of a position, as next_cursor carries it. */
export function encodeMembersCursor(position: MembersPosition): string {
  return Buffer.from(`m1:${position.partition}:${position.cursor}`, 'latin1').toString('base64url');
}

/** The position of a cursor this API issued; throws an HttpError 400 for anything else. */
export function parseMembersCursor(raw: string, partitionCount: number): MembersPosition {
  const refuse = (reason: string) => badRequest('cursor', reason, CURSOR_EXPECTED);
  if (!CURSOR_PATTERN.test(raw)) throw refuse('is not a cursor this API issued');
  const text = Buffer.from(raw, 'base64url').toString('latin1');
  const match = CURSOR_TEXT.exec(text);
  // Re-encoding must give the same text: base64url has several spellings of some byte strings.
  if (match === null || encodeMembersCursor({ partition: Number(match[1]), cursor: match[2] as string }) !== raw) {
    throw refuse('is not a cursor this API issued');
  }
  const partition = Number(match[1]);
  if (partition >= partitionCount) throw refuse(`points at partition ${partition}, and there are ${partitionCount}`);
  if (BigInt(match[2] as string) > MAX_SSCAN_CURSOR) throw refuse('is out of range');
  return { partition, cursor: match[2] as string };
}

const segmentName = textParam(200, 'a segment name');
const customerId = textParam(MAX_ID_PARAM_LENGTH, `a customer id of 1 to ${MAX_ID_PARAM_LENGTH} printable characters`);
const cursorParam = param(CURSOR_EXPECTED, (raw) => (raw === '' ? invalid('is empty') : raw));

/**
 * The segment query API (operator tools: behind the service's credential, see docs/security.md):
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
  /** Test hook: the SSCAN budget per request (MAX_SCANS_PER_REQUEST). */
  maxScansPerRequest?: number;
}): Record<string, RouteHandler> {
  const { redis, keys, definitions, partitionCount } = deps;
  const maxScans = deps.maxScansPerRequest ?? MAX_SCANS_PER_REQUEST;
  const known = new Map(definitions.map((d) => [d.name, d]));

  // One SCARD per partition: bounded by the partition count.
  const size = async (segment: string): Promise<number> => {
    const counts = await Promise.all(
      Array.from({ length: partitionCount() }, (_, p) => redis.scard(keys.set(p, membersSet(segment)))),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  };

  const customerSegments: RouteHandler = async (_req, res, url) => {
    const match = /^\/customers\/([^/]+)\/segments$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'expected /customers/<customer_id>/segments');
    parseQuery(url, {});
    const id = pathParam('customer_id', match[1] as string, customerId);
    const partition = partitionOf(id, partitionCount());
    const state = parseSegmentState(await redis.getBuffer(keys.customer(partition, id))); // bytes: compact states are binary
    sendJson(res, 200, { customer_id: id, segments: memberships(state) });
  };

  const segments: RouteHandler = async (_req, res, url, context) => {
    if (url.pathname === '/segments' || url.pathname === '/segments/') {
      parseQuery(url, {});
      const list = await Promise.all(definitions.map(async (d) => ({ name: d.name, description: d.description, size: await size(d.name) })));
      return sendJson(res, 200, { segments: list });
    }
    const match = /^\/segments\/([^/]+)(\/members)?$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'expected /segments, /segments/<name> or /segments/<name>/members');
    const name = pathParam('segment', match[1] as string, segmentName);
    if (!known.has(name)) throw new HttpError(404, `unknown segment; known: ${[...known.keys()].join(', ')}`, 'segment');
    if (!match[2]) {
      parseQuery(url, {});
      return sendJson(res, 200, { name, description: known.get(name)?.description ?? null, size: await size(name) });
    }
    const query = parseQuery(url, { limit: intParam(1, MAX_PAGE).optional(), cursor: cursorParam.optional() });
    const count = partitionCount();
    const start = query.cursor === undefined ? { partition: 0, cursor: '0' } : parseMembersCursor(query.cursor, count);
    const page = await membersPage(name, start, query.limit ?? DEFAULT_PAGE, count, context);
    if (context.signal.aborted) return; // nobody is listening
    return sendJson(res, 200, page);
  };

  /**
   * Walks the partitions in order with SSCAN from `start`, for at most `maxScans` calls, and
   * stops early when the client goes away. SSCAN may return more than COUNT (small sets come
   * whole), so a page can exceed `limit` slightly; it never loses members.
   */
  const membersPage = async (
    segment: string,
    start: MembersPosition,
    limit: number,
    count: number,
    context: RequestContext,
  ): Promise<{ members: string[]; next_cursor: string | null }> => {
    let { partition, cursor } = start;
    const members: string[] = [];
    for (let scans = 0; scans < maxScans && partition < count && members.length < limit && !context.signal.aborted; scans += 1) {
      const [next, found] = await redis.sscan(keys.set(partition, membersSet(segment)), cursor, 'COUNT', limit - members.length);
      members.push(...found);
      if (next === '0') {
        partition += 1;
        cursor = '0';
      } else cursor = next;
    }
    return { members, next_cursor: partition < count ? encodeMembersCursor({ partition, cursor }) : null };
  };

  return { 'GET /customers/': customerSegments, 'GET /segments': segments };
}
