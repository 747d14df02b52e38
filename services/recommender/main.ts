/**
 * The recommender service: reads behavior.events (its own consumer group), keeps popularity
 * and "viewed together" counts in Redis, and answers GET /recommendations and
 * GET /best-sellers for the renderer.
 *
 *   node dist/services/recommender/main.js
 */
import { durationVar, intVar, loadConfig, stringVar } from '../kit/config';
import type { ConsumerRunner } from '../kit/consumer-runner';
import { behaviorEventsInput } from '../kit/inputs';
import { consumerServiceShape, createServiceClients, runConsumerService, serviceMain } from '../kit/consumer-service';
import type { HttpServer } from '../kit/http';
import type { Logger } from '../kit/logger';
import type { KairosMetrics } from '../kit/metrics';
import { PartitionKeys, PartitionStateStore } from '../kit/partition-state';
import type { RedisClient } from '../kit/redis';
import { dayWeights, parseWeights, type RecommenderTuning } from '../core/recommendations';
import { Catalog, loadCatalog } from './catalog';
import { KafkaLogInspector } from '../kit/log-inspector';
import { RecommenderProcessor } from './processor';
import { recommenderRoutes } from './routes';
import { RecommendationStore, RecommenderKeys } from './store';

const WEIGHTS_PATTERN = /^[a-z_]+=\d+(?:\.\d+)?(?:,[a-z_]+=\d+(?:\.\d+)?)*$/;

export const recommenderShape = {
  // TIMER_INTERVAL_MS: how often leftover outbox records are applied.
  ...consumerServiceShape({ httpPort: 8095, groupId: 'kairos-recommender', timerIntervalMs: 1000 }),
  POPULARITY_WEIGHTS: stringVar({ pattern: WEIGHTS_PATTERN, expected: 'event_type=weight pairs like product_view=1,add_to_cart=3,purchase=5' }).default(
    'product_view=1,add_to_cart=3,purchase=5',
  ),
  POPULARITY_DAYS: intVar(1, 90).default(7),
  POPULARITY_HALF_LIFE: durationVar().default(3 * 86_400_000),
  POPULARITY_MAX_PRODUCTS: intVar(10, 1_000_000).default(10_000),
  POPULAR_CACHE_TTL: durationVar().default(10_000),
  RECENT_VIEWS: intVar(2, 50).default(5),
  CO_VIEW_WINDOW: durationVar().default(3_600_000),
  NEIGHBORS_MAX: intVar(1, 1000).default(50),
  NEIGHBORS_TTL: durationVar().default(30 * 86_400_000),
  CATALOG_FILE: stringVar().optional(),
  PRODUCT_URL_TEMPLATE: stringVar({ pattern: /^https?:\/\/\S+$/, expected: 'an http(s) URL, {product_id} is replaced' }).default(
    'https://shop.example.com/products/{product_id}',
  ),
  PRODUCT_IMAGE_URL_TEMPLATE: stringVar({ pattern: /^https?:\/\/\S+$/, expected: 'an http(s) URL, {product_id} is replaced' }).optional(),
};
export type RecommenderConfig = ReturnType<typeof loadConfig<typeof recommenderShape>>;

/** How many recent event ids a customer keeps to drop producer re-sends. */
const RECENT_EVENT_IDS = 20;

export function tuningOf(config: RecommenderConfig): RecommenderTuning {
  return {
    popularityWeights: parseWeights(config.POPULARITY_WEIGHTS),
    popularityDays: config.POPULARITY_DAYS,
    recentViews: config.RECENT_VIEWS,
    coViewWindowMs: config.CO_VIEW_WINDOW,
    recentEventIds: RECENT_EVENT_IDS,
  };
}

export interface RunningRecommender {
  http: HttpServer;
  runner: ConsumerRunner;
  /** Resolves if the consumer stops on an error that retrying cannot fix (serviceMain then exits 70). */
  fatal: Promise<Error>;
  processor: RecommenderProcessor;
  store: RecommendationStore;
  state: PartitionStateStore;
  redis: RedisClient;
  logger: Logger;
  metrics: KairosMetrics;
  stop(): Promise<void>;
}

/** Starts the recommender; tests pass a clock and a logger. */
export async function startRecommender(
  config: RecommenderConfig,
  overrides: { clock?: () => number; logger?: Logger } = {},
): Promise<RunningRecommender> {
  const name = 'recommender';
  // Catalogue problems stop start-up before any connection is made.
  const catalog = new Catalog(loadCatalog(config.CATALOG_FILE), config.PRODUCT_URL_TEMPLATE, config.PRODUCT_IMAGE_URL_TEMPLATE);
  const tuning = tuningOf(config);
  // The producer carries dead letters only: the recommender writes no topic.
  const clients = createServiceClients(name, config, overrides);
  const { logger, metrics, redis, types, clock } = clients;
  const partitionKeys = new PartitionKeys(config.REDIS_KEY_PREFIX, name);
  const state = new PartitionStateStore(redis, partitionKeys, config.CO_VIEW_WINDOW);
  const store = new RecommendationStore(redis, new RecommenderKeys(config.REDIS_KEY_PREFIX, name), {
    popularityDays: config.POPULARITY_DAYS,
    popularityMaxProducts: config.POPULARITY_MAX_PRODUCTS,
    neighborsMax: config.NEIGHBORS_MAX,
    neighborsTtlMs: config.NEIGHBORS_TTL,
    popularCacheTtlMs: config.POPULAR_CACHE_TTL,
  });
  const log = new KafkaLogInspector(clients.admin, config.GROUP_ID);
  const processor = new RecommenderProcessor({ state, store, tuning, logger, metrics, clock, log });
  const binding = behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent);
  const { http, runner, fatal, stop } = await runConsumerService(clients, {
    config,
    bindings: [binding],
    handler: processor.handleBatch,
    background: { start: (partitions, intervalMs) => processor.startRelayLoop(partitions, intervalMs), stop: () => processor.stopRelayLoop() },
    routes: (partitionCount) =>
      recommenderRoutes({
        store,
        catalog,
        redis,
        partitionKeys,
        partitionCount,
        dayWeights: dayWeights(config.POPULARITY_DAYS, config.POPULARITY_HALF_LIFE),
        neighborsPerSeed: config.NEIGHBORS_MAX,
        clock,
      }),
  });
  return { http, runner, fatal, processor, store, state, redis, logger, metrics, stop };
}

if (require.main === module) serviceMain('recommender', recommenderShape, (config) => startRecommender(config));
