/**
 * The HTTP surfaces of the services, served in-process by the kit's server with the services'
 * own routes against the real Redis (a private key prefix), without Kafka: what the security
 * tests and the fuzz call. Also a Redis wrapper that counts (and can hold) SSCAN calls.
 */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { startHttpServer, type HttpServer, type RouteHandler } from '../../services/kit/http';
import type { Logger } from '../../services/kit/logger';
import { PartitionKeys } from '../../services/kit/partition-state';
import { createRedis, type RedisClient } from '../../services/kit/redis';
import { deleteKeysMatching } from '../../services/kit/redis-scan';
import { loadConfig } from '../../services/kit/config';
import { membersSet } from '../../services/segmenter/adapter';
import { loadSegmentDefinitions } from '../../services/segmenter/main';
import { segmentRoutes } from '../../services/segmenter/routes';
import { recommenderRoutes } from '../../services/recommender/routes';
import { Catalog } from '../../services/recommender/catalog';
import { RecommendationStore, RecommenderKeys } from '../../services/recommender/store';
import { dayWeights } from '../../services/core/recommendations';
import { rendererRoutes } from '../../services/renderer/routes';
import { rendererShape } from '../../services/renderer/config';
import { loadRendererAssets } from '../../services/renderer/assets';
import { contentOptions, throwAwayLinkKey } from '../../services/renderer/preview';
import { StaticRecommendations } from '../../services/renderer/fallback-recommendations';
import { RendererKeys } from '../../services/renderer/keys';
import { RendererStore } from '../../services/renderer/store';
import { trackerRoutes, createTrackerMetrics, type EventPublisher } from '../../services/tracker/routes';
import type { BehaviorEvent } from '../../services/core/types';
import { parseCampaigns } from '../../services/core/campaigns';
import { EXPERIMENT_CAMPAIGNS } from './experiments';
import { designsOf } from '../../services/results/figures';
import { resultsRoutes } from '../../services/results/routes';
import { ResultsStore } from '../../services/results/store';
import { TEST_LINK_KEYRING, TEST_LINK_SECRET } from './link-keys';
import { REDIS_URL } from './stack';

export interface ScanProbe {
  /** SSCAN calls made so far. */
  calls: number;
  /** While set, each SSCAN waits for `release()` (or `open()`). */
  hold: boolean;
  /** Lets every waiting and future SSCAN through. */
  open(): void;
  /** From now on every SSCAN fails: ends a loop that would otherwise never stop. */
  kill(): void;
}

/** `redis` with SSCAN counted, optionally held until released; every other command passes through. */
export function probedRedis(redis: RedisClient): { redis: RedisClient; probe: ScanProbe } {
  let waiting: Array<() => void> = [];
  let killed = false;
  const probe: ScanProbe = {
    calls: 0,
    hold: false,
    open() {
      probe.hold = false;
      const released = waiting;
      waiting = [];
      for (const go of released) go();
    },
    kill() {
      killed = true;
      probe.open();
    },
  };
  const sscan = async (...args: unknown[]): Promise<unknown> => {
    if (killed) throw new Error('test: SSCAN refused (probe killed)');
    probe.calls += 1;
    if (probe.hold) await new Promise<void>((resolve) => waiting.push(resolve));
    if (killed) throw new Error('test: SSCAN refused (probe killed)');
    return (redis.sscan as (...a: unknown[]) => Promise<unknown>)(...args);
  };
  const wrapped = new Proxy(redis, {
    get(target, prop) {
      if (prop === 'sscan') return sscan;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { redis: wrapped, probe };
}

export interface ServedRoutes {
  http: HttpServer;
  base: string;
  /** Wrapped routes: each records when its response closed before it finished. */
  clientGone: () => number;
  /** Handlers still running. */
  inFlight: () => number;
  close(): Promise<void>;
}

/** Serves `routes` with the kit's server, tracking handlers in flight and clients gone. */
export async function serveRoutes(
  routes: Record<string, RouteHandler>,
  options: { logger: Logger; host?: string; token?: string; metricsToken?: string; public?: boolean },
): Promise<ServedRoutes> {
  let gone = 0;
  let running = 0;
  const wrapped = Object.fromEntries(
    Object.entries(routes).map(([key, handler]): [string, RouteHandler] => [
      key,
      async (req, res, url, context) => {
        res.once('close', () => {
          if (!res.writableFinished) gone += 1;
        });
        running += 1;
        try {
          await handler(req, res, url, context);
        } finally {
          running -= 1;
        }
      },
    ]),
  );
  const http = await startHttpServer({
    port: 0,
    ...(options.host !== undefined ? { host: options.host } : {}),
    credentials: { api: options.token ? [options.token] : [], metrics: options.metricsToken ? [options.metricsToken] : [] },
    registry: new Registry(),
    logger: options.logger,
    readiness: [],
    ...(options.public ? { publicRoutes: wrapped } : { routes: wrapped }),
  });
  return { http, base: `http://127.0.0.1:${http.port}`, clientGone: () => gone, inFlight: () => running, close: () => http.close() };
}

/** A private Redis key prefix and a connection; `cleanup` deletes the keys. */
export async function privateRedis(name: string): Promise<{ redis: RedisClient; prefix: string; cleanup(): Promise<void> }> {
  const prefix = `test-${name}-${randomUUID().slice(0, 8)}`;
  const redis = createRedis({ REDIS_URL });
  return {
    redis,
    prefix,
    // Also the keys of prefixes a test derives from this one (`${prefix}-wide`): the random part
    // ends the prefix, so nothing else starts with it.
    cleanup: async () => {
      await deleteKeysMatching(redis, `{${prefix}*`);
      await deleteKeysMatching(redis, `${prefix}*`);
      redis.disconnect();
    },
  };
}

/** The segmenter's routes over `redis`, with the shipped segment definitions. */
export function segmenterRoutesFor(redis: RedisClient, prefix: string, partitions: number, maxScansPerRequest?: number): { routes: Record<string, RouteHandler>; keys: PartitionKeys } {
  const keys = new PartitionKeys(prefix, 'segmenter');
  const definitions = loadSegmentDefinitions('config/segments.yaml');
  return { routes: segmentRoutes({ redis, keys, definitions, partitionCount: () => partitions, maxScansPerRequest }), keys };
}

/** Adds `members` to a segment's member set of one partition. */
export async function addMembers(redis: RedisClient, keys: PartitionKeys, partition: number, segment: string, members: string[]): Promise<void> {
  for (let i = 0; i < members.length; i += 1000) await redis.sadd(keys.set(partition, membersSet(segment)), ...members.slice(i, i + 1000));
}

/** The recommender's routes over `redis` (empty counts: answers come from nothing). */
export function recommenderRoutesFor(redis: RedisClient, prefix: string, partitions: number): Record<string, RouteHandler> {
  const store = new RecommendationStore(redis, new RecommenderKeys(prefix, 'recommender'), {
    popularityDays: 7,
    popularityMaxProducts: 1000,
    neighborsMax: 50,
    neighborsTtlMs: 86_400_000,
    popularCacheTtlMs: 0,
  });
  return recommenderRoutes({
    store,
    catalog: new Catalog(new Map(), 'https://shop.example.com/products/{product_id}'),
    redis,
    partitionKeys: new PartitionKeys(prefix, 'recommender'),
    partitionCount: () => partitions,
    dayWeights: dayWeights(7, 3 * 86_400_000),
    neighborsPerSeed: 50,
    clock: Date.now,
  });
}

/** The renderer's routes (GET /preview) over `redis`, with the shipped campaigns and templates. */
export function rendererRoutesFor(redis: RedisClient, prefix: string, partitions: number): { routes: Record<string, RouteHandler>; store: RendererStore } {
  const config = loadConfig(rendererShape, { LINK_SIGNING_SECRET: TEST_LINK_SECRET, REDIS_KEY_PREFIX: prefix });
  const store = new RendererStore(redis, new RendererKeys(prefix), 86_400_000);
  const routes = rendererRoutes({
    store,
    assets: loadRendererAssets(config.CAMPAIGNS_FILE, config.TEMPLATES_DIR),
    recommendations: new StaticRecommendations(['sku-1', 'sku-2'], config.PRODUCT_URL_TEMPLATE),
    content: contentOptions(config, throwAwayLinkKey()), // as the renderer's own /preview signs
    clock: Date.now,
    partitionCount: () => partitions,
  });
  return { routes, store };
}

/** The results service's routes over `redis` (counters under `prefix`; none until a test adds some). */
export function resultsRoutesFor(redis: RedisClient, prefix: string, partitions: number): Record<string, RouteHandler> {
  const designs = designsOf(parseCampaigns('campaigns.yaml', EXPERIMENT_CAMPAIGNS));
  return resultsRoutes({ store: new ResultsStore(redis, prefix, () => partitions), designs, windowMs: 72 * 3_600_000 });
}

/**
 * The tracker's public link routes (TEST_LINK_KEYRING), publishing into `events` instead of
 * Kafka: what the fuzz and the HTTP security tests call. Serve them with `public: true`.
 */
export function trackerRoutesFor(logger: Logger, events: BehaviorEvent[] = []): Record<string, RouteHandler> {
  const publisher: EventPublisher = { publish: async (event) => void events.push(event) };
  return trackerRoutes({
    keyring: TEST_LINK_KEYRING,
    publisher,
    clock: Date.now,
    policy: { suspectWithinMs: 30_000 },
    publishTimeoutMs: 1000,
    logger,
    metrics: createTrackerMetrics(new Registry()),
  });
}
