/**
 * Issue 11, HTTP surfaces, on running services: the segmenter (as every service) listened on
 * 0.0.0.0 and served /segments, /customers/<id>/segments and /metrics to anybody. Now it
 * binds loopback by default, needs its token when bound wider, and a process bound wider
 * without one exits 78 naming HTTP_AUTH_TOKEN. The renderer's recommender client sends
 * RECOMMENDER_AUTH_TOKEN.
 */
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { createRecommendationsClient, recommendationsClientShape } from '../../../services/renderer/recommendations';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { capturingLogger, nonLoopbackAddress, TEST_TOKEN } from '../../support/http-client';
import { privateRedis, recommenderRoutesFor, serveRoutes } from '../../support/http-services';
import { collect, exited, spawnNode, waitFor } from '../../support/stack';

const lan = nonLoopbackAddress();

async function status(url: string, token?: string): Promise<number> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  await res.text();
  return res.status;
}

describe('the segmenter service on the network', () => {
  let pipeline: TestPipeline;
  let service: RunningService | undefined;

  beforeAll(async () => {
    pipeline = await createTestPipeline('sec-http', 3);
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  it('listens on 127.0.0.1 by default, unreachable from the machine\'s other addresses', async () => {
    service = await startSegmenter(loadConfig(segmenterShape, pipeline.env), { logger: silentLogger });
    expect(service.http.host).toBe('127.0.0.1');
    expect(await status(`http://127.0.0.1:${service.http.port}/healthz`)).toBe(200);
    if (lan === undefined) return void process.stdout.write('no non-loopback IPv4 address here: reachability from outside not checked\n');
    await expect(fetch(`http://${lan}:${service.http.port}/segments`)).rejects.toThrow();
  });

  it('bound to 0.0.0.0 with HTTP_AUTH_TOKEN, answers 401 to every route but the probes without it', async () => {
    service = await startSegmenter(loadConfig(segmenterShape, { ...pipeline.env, HTTP_HOST: '0.0.0.0', HTTP_AUTH_TOKEN: TEST_TOKEN }), { logger: silentLogger });
    await waitFor('the segmenter to join its group', () => service?.runner.isReady());
    const base = `http://${lan ?? '127.0.0.1'}:${service.http.port}`;
    for (const path of ['/segments', '/segments/engaged/members?limit=10', '/customers/c-1/segments', '/metrics', '/nothing-here']) {
      expect([path, await status(`${base}${path}`)]).toEqual([path, 401]);
    }
    expect(await status(`${base}/segments`, TEST_TOKEN)).toBe(200);
    expect(await status(`${base}/customers/c-1/segments`, TEST_TOKEN)).toBe(200);
    expect(await status(`${base}/healthz`)).toBe(200);
    expect(await status(`${base}/readyz`)).toBe(200);
  });

  it('a segmenter process told HTTP_HOST=0.0.0.0 without a token exits 78 naming HTTP_AUTH_TOKEN', async () => {
    const child = spawnNode('services/segmenter/main.js', [], { ...pipeline.env, HTTP_HOST: '0.0.0.0', HTTP_AUTH_TOKEN: '', METRICS_AUTH_TOKEN: '' });
    const stderr = collect(child.stderr);
    // Bounded: a process that does start is stopped again, and the test fails on its exit code.
    const guard = setTimeout(() => child.kill('SIGTERM'), 30_000);
    const { code } = await exited(child);
    clearTimeout(guard);
    expect(code).toBe(78);
    expect(stderr.text()).toMatch(/HTTP_AUTH_TOKEN: is required because HTTP_HOST=0\.0\.0\.0 is reachable from other hosts/);
  });
});

describe('the renderer\'s recommender client and the recommender\'s token', () => {
  it('sends RECOMMENDER_AUTH_TOKEN; without it the recommender refuses and the client falls back, saying which variable to set', async () => {
    const own = await privateRedis('sec-recommender');
    const { logger, lines } = capturingLogger('renderer');
    const recommender = await serveRoutes(recommenderRoutesFor(own.redis, own.prefix, 3), { logger: silentLogger, token: TEST_TOKEN });
    try {
      const env = { RECOMMENDER_URL: recommender.base, RECOMMENDER_CACHE_TTL: '0', RECOMMENDER_TIMEOUT: '5s' };
      const outcomes: string[] = [];
      const withToken = createRecommendationsClient(loadConfig(recommendationsClientShape, { ...env, RECOMMENDER_AUTH_TOKEN: TEST_TOKEN }), { onOutcome: (o) => outcomes.push(o), logger });
      await withToken.recommend({ customerId: 'c-1', context: { product_id: 'sku-1' }, limit: 4 });
      expect(outcomes).toContain('miss');
      expect(outcomes).not.toContain('error');

      outcomes.length = 0;
      const without = createRecommendationsClient(loadConfig(recommendationsClientShape, env), { onOutcome: (o) => outcomes.push(o), logger });
      const answer = await without.recommend({ customerId: 'c-1', context: {}, limit: 4 });
      expect(answer.fallback).toBe(true);
      expect(outcomes).toEqual(expect.arrayContaining(['error', 'fallback']));
      expect(lines.join('')).toContain('answered HTTP 401 (set RECOMMENDER_AUTH_TOKEN');
      expect(lines.join('')).not.toContain(TEST_TOKEN);
    } finally {
      await recommender.close();
      await own.cleanup();
    }
  });
});
