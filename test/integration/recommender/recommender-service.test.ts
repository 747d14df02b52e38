import { loadConfig } from '../../../services/kit/config';
import { RecommendationsClient } from '../../../services/renderer/recommendations';
import { behaviorEvent, type BehaviorEvent } from '../../../services/core/types';
import { recommenderShape, startRecommender, type RunningRecommender } from '../../../services/recommender/main';
import { RecommenderKeys } from '../../../services/recommender/store';
import { dayOf, type DeltaRecord } from '../../../services/core/recommendations';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { waitCaughtUp, waitFor, withAdmin } from '../../support/stack';

const MINUTE = 60_000;

describe('the recommender service against the real stack', () => {
  let pipeline: TestPipeline;
  let service: RunningRecommender;
  let keys: RecommenderKeys;
  const start = () =>
    startRecommender(loadConfig(recommenderShape, { ...pipeline.env, POPULAR_CACHE_TTL: '0', TIMER_INTERVAL_MS: '200' }), { logger: silentLogger });

  beforeAll(async () => {
    pipeline = await createTestPipeline('recommender');
    keys = new RecommenderKeys(pipeline.prefix);
    service = await start();
    await waitFor('the service to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
  });

  const base = Date.now() - 30 * MINUTE;
  let seq = 0;
  const event = (customer: string, type: string, product: string, at: number): BehaviorEvent =>
    behaviorEvent({ event_id: `${customer}-${(seq += 1)}`, customer_id: customer, type, occurred_at: at, product_id: product });
  const session = (customer: string, ...products: string[]) => products.map((p, i) => event(customer, 'product_view', p, base + i * MINUTE));

  async function get<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`http://127.0.0.1:${service.http.port}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  }
  type Body = { items: Array<{ product_id: string; title: string; url: string }>; fallback: boolean; strategy: string };
  const ids = (body: Body) => body.items.map((i) => i.product_id);

  /** Every stored score of the shared aggregates, to compare before and after a replay. */
  async function aggregates(): Promise<Record<string, string[]>> {
    const redis = service.redis;
    const out: Record<string, string[]> = {};
    for (const product of ['sku-a', 'sku-b', 'sku-c', 'sku-d', 'sku-pop']) out[product] = await redis.zrange(keys.neighbors(product), 0, -1, 'WITHSCORES');
    out.today = await redis.zrange(keys.popularityDay(dayOf(Date.now())), 0, -1, 'WITHSCORES');
    out.base = await redis.zrange(keys.popularityDay(dayOf(base)), 0, -1, 'WITHSCORES');
    return out;
  }

  it('serves products viewed together with the context, topped up by popular ones', async () => {
    await pipeline.produceEvents([
      ...session('c1', 'sku-a', 'sku-b', 'sku-c'),
      ...session('c2', 'sku-a', 'sku-b'),
      ...session('c3', 'sku-a', 'sku-b', 'sku-d'),
      ...session('c4', 'sku-a', 'sku-c'),
      // sku-pop: popular, never viewed together with sku-a
      ...['p1', 'p2', 'p3', 'p4', 'p5'].map((c) => event(c, 'product_view', 'sku-pop', base)),
      event('p1', 'purchase', 'sku-pop', base + MINUTE),
      event('p2', 'add_to_cart', 'sku-pop', base + MINUTE),
    ]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);

    // co-views of sku-a: b by c1, c2, c3; c by c1, c4; d by c3
    expect(await service.redis.zrevrange(keys.neighbors('sku-a'), 0, -1, 'WITHSCORES')).toEqual(['sku-b', '3', 'sku-c', '2', 'sku-d', '1']);

    const { status, body } = await get<Body>('/recommendations?customer_id=new-customer&product_id=sku-a&limit=4');
    expect(status).toBe(200);
    expect(body.fallback).toBe(false);
    expect(body.strategy).toBe('viewed_together');
    expect(ids(body)).toEqual(['sku-b', 'sku-c', 'sku-d', 'sku-pop']);
    expect(body.items[0]).toEqual({ product_id: 'sku-b', title: 'Sku b', url: 'https://shop.example.com/products/sku-b' });

    // Products in context (here the cart) are never recommended back.
    const withCart = await get<Body>('/recommendations?product_id=sku-a&cart_product_ids=sku-b,sku-x&limit=2');
    expect(ids(withCart.body)).toEqual(['sku-c', 'sku-d']);

    // No context: a customer's own recent views (in their partition's state) are the seeds.
    const personal = await get<Body>('/recommendations?customer_id=c2&limit=1');
    expect(personal.body).toEqual(expect.objectContaining({ strategy: 'viewed_together' }));
    expect(ids(personal.body)).toEqual(['sku-c']); // a and b are c2's; c pairs with both

    // Unknown products: popular ones.
    const cold = await get<Body>('/recommendations?product_id=nobody-views-this&limit=2');
    expect(cold.body.strategy).toBe('popular');
    expect(ids(cold.body)[0]).toBe('sku-pop');

    const best = await get<Body>('/best-sellers?limit=2');
    expect(ids(best.body)).toEqual(['sku-pop', 'sku-a']); // 5 views + purchase 5 + add 3 = 13 vs 4 views

    expect((await get<{ error: string }>('/recommendations?limit=500')).status).toBe(400);
  });

  it('the renderer client gets the same answer over HTTP', async () => {
    const client = new RecommendationsClient({ baseUrl: `http://127.0.0.1:${service.http.port}`, allowedHosts: ['127.0.0.1'], timeoutMs: 2000, bestSellersRefreshMs: 0 });
    const answer = await client.recommend({ customerId: 'someone', context: { product_id: 'sku-a' }, limit: 2 });
    expect(answer).toEqual({ fallback: false, items: [expect.objectContaining({ product_id: 'sku-b' }), expect.objectContaining({ product_id: 'sku-c' })] });
  });

  it('keeps memory bounded: every key but the partition fences expires', async () => {
    const all = await pipeline.redisKeys();
    expect(all.length).toBeGreaterThan(5);
    for (const key of all) {
      const ttl = await service.redis.pttl(key);
      if (key.endsWith(':fence')) expect(ttl).toBe(-1);
      else expect([key, ttl > 0]).toEqual([key, true]);
    }
  });

  it('a replay of every batch (group reset to the beginning) counts nothing twice', async () => {
    const before = await aggregates();
    await service.stop();
    await withAdmin((admin) => admin.resetOffsets({ groupId: pipeline.env.GROUP_ID, topic: pipeline.topics.events, earliest: true }));
    service = await start();
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    // The new instance did read every record again; the fence kept them from counting.
    const processed = (await service.metrics.recordsProcessed.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(processed).toBe(17); // every record produced above
    expect(await aggregates()).toEqual(before);
  });

  it('re-applying a delta record (a crash between applying and trimming the outbox) is a no-op; a new one applies', async () => {
    const before = await aggregates();
    // The highest batch offset applied to sku-a from each partition.
    const marks = await service.redis.hgetall(keys.neighborMarks('sku-a'));
    expect(Object.keys(marks).length).toBeGreaterThan(0);
    const [source, offset] = Object.entries(marks)[0] as [string, string];
    const replayed: DeltaRecord = { source, offset, popularity: [[dayOf(base), 'sku-a', 100]], coViews: [['sku-a', 'sku-b', 100]] };
    expect(await service.store.applyDeltas(replayed)).toBe(0);
    expect(await aggregates()).toEqual(before);

    // The same change as a later batch does apply: the check above could have failed.
    expect(await service.store.applyDeltas({ ...replayed, offset: String(Number(offset) + 1) })).toBe(3);
    expect(await service.redis.zscore(keys.neighbors('sku-a'), 'sku-b')).toBe('103');
  });
});
