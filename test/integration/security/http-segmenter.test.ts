/**
 * Issue 11, HTTP surfaces, the segmenter's member listing against the real Redis: a cursor of
 * -Infinity looped forever (and kept looping after the client left), -50000 took 7.4 s,
 * `0:abc` and bad percent-encoding were 500s with a stack in the log; a page could cost any
 * number of SSCAN calls. The routes run in the kit's HTTP server, as in the service.
 */
import type { RedisClient } from '../../../services/kit/redis';
import type { PartitionKeys } from '../../../services/kit/partition-state';
import { capturingLogger, rawGet, TEST_TOKEN } from '../../support/http-client';
import { addMembers, privateRedis, probedRedis, segmenterRoutesFor, serveRoutes, type ScanProbe, type ServedRoutes } from '../../support/http-services';
import { waitFor } from '../../support/stack';

const PARTITIONS = 12;
const SEGMENT = 'lapsed_buyer';

interface Page {
  members: string[];
  next_cursor: string | null;
}

describe('segment member listing: cursors, bounds, disconnects', () => {
  const { logger, lines } = capturingLogger('segmenter');
  let redis: RedisClient;
  let cleanup: () => Promise<void>;
  let probe: ScanProbe;
  let keys: PartitionKeys;
  let served: ServedRoutes;
  // Another instance of the routes over many mostly empty partitions: a walk needs many SSCANs.
  const WIDE = 200;
  let wide: ServedRoutes;
  const wideMembers = Array.from({ length: 30 }, (_, i) => `wide-${i}`);

  beforeAll(async () => {
    const own = await privateRedis('sec-segmenter');
    redis = own.redis;
    cleanup = own.cleanup;
    const probed = probedRedis(redis);
    probe = probed.probe;
    const narrow = segmenterRoutesFor(probed.redis, own.prefix, PARTITIONS);
    keys = narrow.keys;
    for (let p = 0; p < PARTITIONS; p += 1) await addMembers(redis, keys, p, SEGMENT, Array.from({ length: 5 }, (_, i) => `c-${p}-${i}`));
    served = await serveRoutes(narrow.routes, { logger, token: TEST_TOKEN });
    const wideRoutes = segmenterRoutesFor(probed.redis, `${own.prefix}-wide`, WIDE);
    await addMembers(redis, wideRoutes.keys, 150, SEGMENT, wideMembers);
    wide = await serveRoutes(wideRoutes.routes, { logger, token: TEST_TOKEN });
  });

  beforeEach(() => {
    probe.open();
    probe.calls = 0;
  });

  afterAll(async () => {
    // Whatever a loop still does, its next SSCAN fails and ends it, so close() can finish.
    probe?.kill();
    await served?.close();
    await wide?.close();
    await cleanup?.();
  });

  const get = (port: number, path: string) => rawGet(port, path, { token: TEST_TOKEN, timeoutMs: 5000 });

  it.each([
    ['-Infinity:0', 'kept the segmenter issuing SSCANs forever'],
    ['-50000:0', 'took 7.4 s'],
    ['0:abc', 'was a 500 with a stack trace in the log'],
    ['99:0', 'a partition the topic does not have'],
    ['0:-1', 'a negative SSCAN cursor'],
  ])('cursor=%s (%s) is a 400 naming the cursor, without one SSCAN', async (cursor) => {
    const started = Date.now();
    const res = await get(served.http.port, `/segments/${SEGMENT}/members?cursor=${encodeURIComponent(cursor)}&limit=1`);
    const ms = Date.now() - started;
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/^cursor: /), parameter: 'cursor' });
    expect(probe.calls).toBe(0);
    process.stdout.write(`cursor=${cursor}: ${res.status} in ${ms} ms\n`);
  });

  it.each([
    ['/customers/%E0%A4%A/segments', 'customer_id'],
    ['/customers/%/segments', 'customer_id'],
    ['/segments/%E0%A4%A', 'segment'],
    ['/segments/%ZZ/members', 'segment'],
    [`/segments/${SEGMENT}/members?limit=abc`, 'limit'],
    [`/segments/${SEGMENT}/members?limit=-Infinity`, 'limit'],
    [`/segments/${SEGMENT}/members?limit=0`, 'limit'],
    [`/segments/${SEGMENT}/members?limit=1001`, 'limit'],
    [`/segments/${SEGMENT}/members?limt=5`, 'limt'],
  ])('%s is a 400 naming %s', async (path, parameter) => {
    const res = await get(served.http.port, path);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/json');
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(new RegExp(`^${parameter}: .*expected `)), parameter });
  });

  it('an over-long customer id (300 characters) is a 400 naming customer_id', async () => {
    const res = await get(served.http.port, `/customers/${'x'.repeat(300)}/segments`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/^customer_id: is longer than 256 characters/), parameter: 'customer_id' });
  });

  it('logged no stack trace and no 500 for any of these client errors', () => {
    expect(lines.filter((line) => line.includes('http handler failed') || line.includes('"stack"'))).toEqual([]);
  });

  it('still pages through every member with the cursors it issues', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? 'limit=7' : `limit=7&cursor=${encodeURIComponent(cursor)}`;
      const res = await get(served.http.port, `/segments/${SEGMENT}/members?${query}`);
      expect(res.status).toBe(200);
      const page = JSON.parse(res.body) as Page;
      seen.push(...page.members);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 100);
    expect(new Set(seen).size).toBe(PARTITIONS * 5);
    expect(seen).toHaveLength(PARTITIONS * 5);
  });

  it('bounds the SSCAN calls of one request and hands back a cursor when the budget runs out', async () => {
    const seen: string[] = [];
    const perRequest: number[] = [];
    let cursor: string | null = null;
    do {
      probe.calls = 0;
      const query: string = cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
      const res = await get(wide.http.port, `/segments/${SEGMENT}/members?${query}`);
      expect(res.status).toBe(200);
      const page = JSON.parse(res.body) as Page;
      perRequest.push(probe.calls);
      seen.push(...page.members);
      cursor = page.next_cursor;
    } while (cursor !== null && perRequest.length < 20);
    // 200 partitions need at least 200 SSCANs; no request made more than the budget of 64.
    expect(Math.max(...perRequest)).toBeLessThanOrEqual(64);
    expect(perRequest.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(WIDE);
    expect(seen.sort()).toEqual([...wideMembers].sort());
    process.stdout.write(`a walk of ${WIDE} partitions: ${perRequest.length} requests, SSCANs per request ${perRequest.join(', ')}\n`);
  });

  it('stops issuing SSCANs when the client goes away', async () => {
    probe.hold = true;
    const client = new AbortController();
    const answer = rawGet(wide.http.port, `/segments/${SEGMENT}/members?limit=1000`, { token: TEST_TOKEN, signal: client.signal }).catch((error: unknown) => error);
    await waitFor('the first SSCAN of the request', () => probe.calls >= 1, 10_000);
    const goneBefore = wide.clientGone();
    client.abort();
    await answer;
    await waitFor('the server to see the client go', () => wide.clientGone() > goneBefore, 10_000);
    probe.open();
    await waitFor('the handler to finish', () => wide.inFlight() === 0, 10_000);
    // The SSCAN in flight when the client left was the last: 200 partitions were not walked.
    expect(probe.calls).toBe(1);
  });
});
