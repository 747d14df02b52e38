/**
 * The recommender service: reads behavior.events (its own consumer group), keeps popularity
 * and "viewed together" counts in Redis, and answers GET /recommendations and
 * GET /best-sellers for the renderer.
 *
 *   node dist/services/recommender/main.js
 */
import { commonShape, durationVar, intVar, loadConfig, runMain, stringVar } from '../kit/config';
import { AvroCodec, recordTypes } from '../kit/codec';
import { ConsumerRunner, metricsInstrumentation, type TopicBinding } from '../kit/consumer-runner';
import { startHttpServer, type HttpServer } from '../kit/http';
import { createIdempotentProducer, createKafka } from '../kit/kafka';
import { shutdownOnSignals } from '../kit/lifecycle';
import { createLogger, type Logger } from '../kit/logger';
import { createMetrics, type KairosMetrics } from '../kit/metrics';
import { PartitionKeys, PartitionStateStore } from '../kit/partition-state';
import { createRedis, type RedisClient } from '../kit/redis';
import { behaviorEventProblem, type BehaviorEvent } from '../core/types';
import { Catalog, loadCatalog } from './catalog';
import { dayWeights, parseWeights, type RecommenderTuning } from './logic';
import { RecommenderProcessor } from './processor';
import { recommenderRoutes } from './routes';
import { RecommendationStore, RecommenderKeys } from './store';

const WEIGHTS_PATTERN = /^[a-z_]+=\d+(?:\.\d+)?(?:,[a-z_]+=\d+(?:\.\d+)?)*$/;

export const recommenderShape = {
  ...commonShape,
  // 0 lets the OS pick a free port (tests, several instances on one host).
  HTTP_PORT: intVar(0, 65535).default(8095),
  GROUP_ID: stringVar().default('kairos-recommender'),
  PARTITIONS_CONCURRENTLY: intVar(1, 64).default(3),
  // Bounds one batch (and so one outbox record and one Lua call) per partition.
  FETCH_MAX_BYTES_PER_PARTITION: intVar(1024, 64 * 1024 * 1024).default(1024 * 1024),
  RELAY_INTERVAL_MS: intVar(50, 60_000).default(1000),
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
  const clock = overrides.clock ?? Date.now;
  // Catalogue problems stop start-up before any connection is made.
  const catalog = new Catalog(loadCatalog(config.CATALOG_FILE), config.PRODUCT_URL_TEMPLATE, config.PRODUCT_IMAGE_URL_TEMPLATE);
  const tuning = tuningOf(config);
  const logger = overrides.logger ?? createLogger({ service: name, level: config.LOG_LEVEL });
  const metrics = createMetrics(name);
  const redis = createRedis(config, { connectionName: `kairos-${name}` });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? `kairos-${name}`, logger });
  const producer = createIdempotentProducer(kafka); // dead letters only
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const partitionKeys = new PartitionKeys(config.REDIS_KEY_PREFIX, name);
  const state = new PartitionStateStore(redis, partitionKeys, config.CO_VIEW_WINDOW);
  const store = new RecommendationStore(redis, new RecommenderKeys(config.REDIS_KEY_PREFIX, name), {
    popularityDays: config.POPULARITY_DAYS,
    popularityMaxProducts: config.POPULARITY_MAX_PRODUCTS,
    neighborsMax: config.NEIGHBORS_MAX,
    neighborsTtlMs: config.NEIGHBORS_TTL,
    popularCacheTtlMs: config.POPULAR_CACHE_TTL,
  });
  const processor = new RecommenderProcessor({ state, store, tuning, logger, metrics, clock });
  const binding = {
    topic: config.TOPIC_BEHAVIOR_EVENTS,
    type: types.BehaviorEvent,
    validate: (event: BehaviorEvent) => behaviorEventProblem(event),
  } as TopicBinding<never>;

  await producer.connect();
  const runner = new ConsumerRunner({
    consumer: kafka.consumer({ groupId: config.GROUP_ID, maxBytesPerPartition: config.FETCH_MAX_BYTES_PER_PARTITION }),
    producer,
    codec,
    logger,
    instrumentation: metricsInstrumentation(metrics),
    service: name,
    groupId: config.GROUP_ID,
    bindings: [binding],
    handler: processor.handleBatch,
    dlqSuffix: config.DLQ_SUFFIX,
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
    clock,
  });

  const admin = kafka.admin();
  let partitions = 0;
  await admin.connect();
  try {
    const [topic] = (await admin.fetchTopicMetadata({ topics: [binding.topic] })).topics;
    partitions = topic?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
  const http = await startHttpServer({
    port: config.HTTP_PORT,
    registry: metrics.registry,
    logger,
    isReady: () => runner.isReady(),
    routes: recommenderRoutes({
      store,
      catalog,
      redis,
      partitionKeys,
      partitionCount: () => partitions,
      dayWeights: dayWeights(config.POPULARITY_DAYS, config.POPULARITY_HALF_LIFE),
      neighborsPerSeed: config.NEIGHBORS_MAX,
      clock,
    }),
  });
  await runner.start();
  processor.startRelayLoop(() => runner.assignedPartitions(binding.topic), config.RELAY_INTERVAL_MS);
  logger.info({ group: config.GROUP_ID, http: http.port, input: binding.topic, partitions }, 'started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await processor.stopRelayLoop();
      await runner.stop();
      await producer.disconnect();
      await http.close();
      redis.disconnect();
    })());
  return { http, runner, processor, store, state, redis, logger, metrics, stop };
}

if (require.main === module) {
  void runMain('recommender', async () => {
    const config = loadConfig(recommenderShape);
    const service = await startRecommender(config);
    shutdownOnSignals(service.logger, () => [{ name: 'recommender service', run: () => service.stop() }]);
  });
}
