import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import {
  CircuitBreaker,
  HostNotAllowedError,
  RecommendationsClient,
  TtlLru,
  isAllowedUrl,
  parseFallbackProducts,
  type RecommendationOutcome,
  type RecommendationsClientOptions,
} from '../../../../services/renderer/recommendations';

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

const product = (id: string) => ({ product_id: id, title: `Title ${id}`, url: `https://shop.example/p/${id}` });
/** When a slow stand-in answers: far beyond the 150 ms deadlines the timeout tests set. */
const LATE_MS = 5_000;
const STATIC_FALLBACK = [product('static-1'), product('static-2'), product('static-3')];

/** A recommender stand-in on 127.0.0.1, port 0; `behaviour` decides each answer. */
class FakeRecommender {
  requests: URL[] = [];
  behaviour: Behaviour = (_req, res) => this.json(res, 200, { items: [product('a'), product('b')], fallback: false, strategy: 'viewed_together' });
  private readonly server: Server;
  private readonly pending = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor() {
    this.server = createServer((req, res) => {
      this.requests.push(new URL(req.url ?? '/', 'http://x'));
      this.pending.add(res);
      res.on('close', () => this.pending.delete(res));
      this.behaviour(req, res);
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
  /** Runs `fn` after `ms` unless the server stopped first (no timer outlives a test). */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
  count(path: string): number {
    return this.requests.filter((u) => u.pathname === path).length;
  }
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const res of this.pending) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('RecommendationsClient against a local HTTP server', () => {
  let fake: FakeRecommender;
  let baseUrl: string;
  let now: number;
  let outcomes: RecommendationOutcome[];

  beforeAll(async () => {
    // Node loads its fetch implementation on the first call (~200 ms on a busy machine); that
    // one-off cost is not what the timeouts below measure.
    const warm = new FakeRecommender();
    await (await fetch(`${await warm.start()}/warm-up`)).text();
    await warm.stop();
  });
  beforeEach(async () => {
    fake = new FakeRecommender();
    baseUrl = await fake.start();
    now = 1_000_000;
    outcomes = [];
  });
  afterEach(async () => {
    await fake.stop();
  });

  const client = (options: Partial<RecommendationsClientOptions> = {}) =>
    new RecommendationsClient({
      baseUrl,
      allowedHosts: ['127.0.0.1'],
      // Tests of answers get a deadline a loaded machine never reaches; the timeout tests set
      // their own short one and check it cut the call off well before the late answer came.
      timeoutMs: 10_000,
      breakerFailures: 3,
      breakerCooldownMs: 10_000,
      bestSellersRefreshMs: 0,
      fallbackProducts: STATIC_FALLBACK,
      clock: () => now,
      onOutcome: (o) => outcomes.push(o),
      ...options,
    });
  const request = { customerId: 'c-1', context: { product_id: 'p-1', cart_product_ids: 'p-2,p-3', email: 'x@example.com' }, limit: 4 };

  it('returns the recommender items and forwards only the customer, product, cart and limit', async () => {
    const answer = await client().recommend(request);
    expect(answer).toEqual({ items: [product('a'), product('b')], fallback: false });
    expect(fake.requests).toHaveLength(1);
    const sent = fake.requests[0] as URL;
    expect(sent.pathname).toBe('/recommendations');
    expect(Object.fromEntries(sent.searchParams)).toEqual({ customer_id: 'c-1', product_id: 'p-1', cart_product_ids: 'p-2,p-3', limit: '4' });
    expect(outcomes).toEqual(['miss']);
  });

  it('strategy popular asks GET /best-sellers, leaves out the products the email is about, and is no fallback', async () => {
    fake.behaviour = (_req, res) => fake.json(res, 200, { items: [product('p-1'), product('best-1'), product('p-2'), product('best-2')] });
    const answer = await client().recommend({ ...request, strategy: 'popular' });
    expect(answer).toEqual({ items: [product('best-1'), product('best-2')], fallback: false });
    expect(fake.requests.map((u) => u.pathname)).toEqual(['/best-sellers']);
    // Room for the three excluded products: 4 + 3.
    expect(Object.fromEntries((fake.requests[0] as URL).searchParams)).toEqual({ limit: '7' });
  });

  it('strategy none asks nobody and shows no items; co_viewed is the default endpoint', async () => {
    expect(await client().recommend({ ...request, strategy: 'none' })).toEqual({ items: [], fallback: false });
    expect(fake.requests).toHaveLength(0);
    await client().recommend({ ...request, strategy: 'co_viewed' });
    expect(fake.requests.map((u) => u.pathname)).toEqual(['/recommendations']);
  });

  it('a cached answer avoids the call until its TTL passes', async () => {
    const recommender = client({ cacheTtlMs: 60_000 });
    await recommender.recommend(request);
    now += 59_000;
    expect(await recommender.recommend(request)).toEqual({ items: [product('a'), product('b')], fallback: false });
    expect(fake.requests).toHaveLength(1);
    expect(outcomes).toEqual(['miss', 'hit']);
    // A different request is a different cache entry.
    await recommender.recommend({ ...request, limit: 2 });
    expect(fake.requests).toHaveLength(2);
    now += 2_000; // the first entry expired
    await recommender.recommend(request);
    expect(fake.requests).toHaveLength(3);
  });

  it('a slow recommender times out: the fallback arrives within the timeout plus a small margin', async () => {
    fake.behaviour = (_req, res) => fake.later(LATE_MS, () => fake.json(res, 200, { items: [product('late')] }));
    const started = performance.now();
    const answer = await client({ timeoutMs: 150 }).recommend(request);
    const elapsed = performance.now() - started;
    expect(answer).toEqual({ items: STATIC_FALLBACK, fallback: true });
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(LATE_MS); // cut off by the deadline, not by the late answer
    expect(outcomes).toEqual(['timeout', 'fallback']);
  });

  it('a body that trickles past the deadline also times out', async () => {
    fake.behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items":[');
      fake.later(LATE_MS, () => res.end(']}'));
    };
    const started = performance.now();
    const answer = await client({ timeoutMs: 150 }).recommend(request);
    expect(performance.now() - started).toBeLessThan(LATE_MS);
    expect(answer.fallback).toBe(true);
    expect(outcomes).toEqual(['timeout', 'fallback']);
  });

  it('errors open the breaker after N; while open no call goes out; a half-open probe recovers', async () => {
    fake.behaviour = (_req, res) => fake.json(res, 503, { error: 'down' });
    const recommender = client();
    for (let i = 0; i < 3; i += 1) expect((await recommender.recommend(request)).fallback).toBe(true);
    expect(fake.requests).toHaveLength(3);
    expect(recommender.breaker.state).toBe('open');

    for (let i = 0; i < 5; i += 1) expect(await recommender.recommend(request)).toEqual({ items: STATIC_FALLBACK, fallback: true });
    expect(fake.requests).toHaveLength(3); // skipped while open
    expect(outcomes.filter((o) => o === 'breaker_open')).toHaveLength(5);

    now += 10_000; // cool-down over: one probe goes out, and it succeeds
    fake.behaviour = (_req, res) => fake.json(res, 200, { items: [product('back')] });
    expect(await recommender.recommend(request)).toEqual({ items: [product('back')], fallback: false });
    expect(recommender.breaker.state).toBe('closed');
    expect(fake.requests).toHaveLength(4);
    await recommender.recommend({ ...request, customerId: 'c-2' });
    expect(fake.requests).toHaveLength(5);
  });

  it('a failed half-open probe opens the breaker for another cool-down', async () => {
    fake.behaviour = (_req, res) => fake.json(res, 500, {});
    const recommender = client();
    for (let i = 0; i < 3; i += 1) await recommender.recommend(request);
    now += 10_000;
    await recommender.recommend(request); // the probe fails
    expect(fake.requests).toHaveLength(4);
    expect(recommender.breaker.state).toBe('open');
    now += 9_999;
    await recommender.recommend(request);
    expect(fake.requests).toHaveLength(4);
  });

  it('timeouts count as failures for the breaker too', async () => {
    fake.behaviour = () => undefined; // never answers
    const recommender = client({ timeoutMs: 50 });
    for (let i = 0; i < 3; i += 1) await recommender.recommend(request);
    expect(recommender.breaker.state).toBe('open');
    expect(outcomes.filter((o) => o === 'timeout')).toHaveLength(3);
  });

  it('refuses a base URL whose host is not allow-listed, at construction, with a clear error', () => {
    expect(() => client({ baseUrl: 'http://evil.example:8095' })).toThrow(HostNotAllowedError);
    expect(() => client({ baseUrl: 'http://evil.example:8095' })).toThrow(/host of http:\/\/evil\.example:8095 is not allowed; allowed hosts: 127\.0\.0\.1/);
    expect(() => client({ baseUrl: 'http://127.0.0.1@evil.example/' })).toThrow(HostNotAllowedError);
    expect(() => client({ baseUrl: 'file:///etc/passwd' })).toThrow(HostNotAllowedError);
    expect(() => client({ allowedHosts: ['127.0.0.1:1'] })).toThrow(HostNotAllowedError); // port pinned
  });

  it('refuses per request too: a URL that no longer points at an allowed host is never called', async () => {
    const recommender = client({ allowedHosts: ['127.0.0.1'] });
    recommender.baseUrl.hostname = 'localhost'; // resolves to the same server, but is not allowed
    const answer = await recommender.recommend(request);
    expect(answer).toEqual({ items: STATIC_FALLBACK, fallback: true });
    expect(fake.requests).toHaveLength(0);
    expect(outcomes).toEqual(['refused', 'fallback']);
  });

  it('does not follow a redirect to another host', async () => {
    fake.behaviour = (_req, res) => {
      res.writeHead(302, { location: 'http://evil.example/steal' });
      res.end();
    };
    const answer = await client().recommend(request);
    expect(answer.fallback).toBe(true);
    expect(outcomes).toEqual(['error', 'fallback']);
  });

  it('drops items that would be unsafe or broken in an email, and falls back on an empty answer', async () => {
    fake.behaviour = (_req, res) =>
      fake.json(res, 200, { items: [product('ok'), { ...product('bad'), url: 'javascript:alert(1)' }, { product_id: 'no-title', url: 'https://x' }] });
    expect(await client().recommend(request)).toEqual({ items: [product('ok')], fallback: false });
    fake.behaviour = (_req, res) => fake.json(res, 200, { items: [] });
    expect((await client().recommend(request)).fallback).toBe(true);
  });

  it('the last good best sellers replace the static list, minus the products in context', async () => {
    fake.behaviour = (req, res) =>
      req.url?.startsWith('/best-sellers')
        ? fake.json(res, 200, { items: [product('p-1'), product('best-1'), product('best-2')] })
        : fake.json(res, 500, {});
    const recommender = client();
    expect(await recommender.refreshBestSellers()).toBe(true);
    expect(await recommender.recommend(request)).toEqual({ items: [product('best-1'), product('best-2')], fallback: true });
    fake.behaviour = (_req, res) => fake.json(res, 500, {}); // a failed refresh keeps the last good list
    expect(await recommender.refreshBestSellers()).toBe(false);
    expect((await recommender.recommend({ ...request, context: {} })).items.map((p) => p.product_id)).toEqual(['p-1', 'best-1', 'best-2']);
  });

  it('refreshes best sellers in the background at most once per interval', async () => {
    const recommender = client({ bestSellersRefreshMs: 60_000 });
    await recommender.recommend(request);
    await recommender.recommend({ ...request, limit: 3 });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.count('/best-sellers')).toBe(1);
    now += 60_000;
    await recommender.recommend({ ...request, limit: 2 });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.count('/best-sellers')).toBe(2);
  });

  it('counts outcomes in a passed-in prom-client registry', async () => {
    const registry = new Registry();
    fake.behaviour = (_req, res) => fake.json(res, 500, {});
    const recommender = client({ registry, breakerFailures: 1 });
    await recommender.recommend(request);
    await recommender.recommend(request);
    const text = await registry.metrics();
    expect(text).toMatch(/kairos_recommendations_total\{outcome="error"\} 1/);
    expect(text).toMatch(/kairos_recommendations_total\{outcome="breaker_open"\} 1/);
    expect(text).toMatch(/kairos_recommendations_total\{outcome="fallback"\} 2/);
    expect(text).toMatch(/kairos_recommendations_breaker_state 2/);
    expect(() => client({ registry })).not.toThrow(); // a second client shares the metrics
  });

  it('never rejects, even on odd input', async () => {
    const recommender = client();
    await expect(recommender.recommend({ customerId: 'c', context: undefined as unknown as Record<string, string>, limit: Number.NaN })).resolves.toEqual(
      expect.objectContaining({ fallback: false }),
    );
  });
});

describe('client building blocks', () => {
  it('isAllowedUrl matches host or host:port, case-insensitively, http(s) only', () => {
    const allowed = ['Recommender.internal', '127.0.0.1:8095'];
    expect(isAllowedUrl(new URL('http://recommender.INTERNAL:9/x'), allowed)).toBe(true);
    expect(isAllowedUrl(new URL('http://127.0.0.1:8095/'), allowed)).toBe(true);
    expect(isAllowedUrl(new URL('http://127.0.0.1:8096/'), allowed)).toBe(false);
    expect(isAllowedUrl(new URL('http://recommender.internal.evil.example/'), allowed)).toBe(false);
    expect(isAllowedUrl(new URL('ftp://recommender.internal/'), allowed)).toBe(false);
  });

  it('TtlLru evicts the least recently used entry and expires entries', () => {
    const lru = new TtlLru<number>(2, 100);
    lru.set('a', 1, 0);
    lru.set('b', 2, 0);
    expect(lru.get('a', 10)).toBe(1); // a is now the most recent
    lru.set('c', 3, 10);
    expect(lru.get('b', 10)).toBeUndefined();
    expect(lru.get('a', 99)).toBe(1);
    expect(lru.get('a', 100)).toBeUndefined();
    expect(lru.size).toBe(1);
  });

  it('CircuitBreaker lets one probe through when half-open', () => {
    const states: string[] = [];
    const breaker = new CircuitBreaker(2, 1000, (s) => states.push(s));
    breaker.failure(0);
    expect(breaker.tryAcquire(0)).toBe(true);
    breaker.failure(0);
    expect(breaker.tryAcquire(999)).toBe(false);
    expect(breaker.tryAcquire(1000)).toBe(true); // the probe
    expect(breaker.tryAcquire(1000)).toBe(false); // nobody else while it runs
    breaker.success();
    expect(breaker.tryAcquire(1000)).toBe(true);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('a success between failures resets the count', () => {
    const breaker = new CircuitBreaker(2, 1000);
    breaker.failure(0);
    breaker.success();
    breaker.failure(0);
    expect(breaker.state).toBe('closed');
  });

  it('parseFallbackProducts names the file and the bad item', () => {
    expect(parseFallbackProducts('f.json', JSON.stringify([product('x')]))).toEqual([product('x')]);
    expect(() => parseFallbackProducts('f.json', JSON.stringify([product('x'), { product_id: 'y', title: 'Y', url: 'nope' }]))).toThrow(/f\.json: item 1: url/);
    expect(() => parseFallbackProducts('f.json', '{')).toThrow(/f\.json: not valid JSON/);
  });
});
