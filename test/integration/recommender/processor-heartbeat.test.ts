import { randomUUID } from 'node:crypto';
import type { BatchContext, ConsumedRecord } from '../../../services/kit/consumer-runner';
import { createMetrics } from '../../../services/kit/metrics';
import { PartitionKeys, PartitionStateStore } from '../../../services/kit/partition-state';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { deleteKeysMatching } from '../../../services/kit/redis-scan';
import { behaviorEvent } from '../../../services/core/types';
import { dayOf } from '../../../services/core/recommendations';
import { RecommenderProcessor } from '../../../services/recommender/processor';
import { RecommendationStore, RecommenderKeys } from '../../../services/recommender/store';
import { MemoryLog } from '../../support/memory-log';
import { silentLogger } from '../../support/pipeline';
import { REDIS_URL } from '../../support/stack';

/**
 * The recommender's batches beat within themselves (kafkajs beats only between batches), on the
 * real Redis scripts: after the apply, before the relay, and between relay chunks; and a beat
 * that finds the group rebalancing ends the batch with its apply kept.
 */
describe('the recommender processor heartbeats within a batch', () => {
  const TOPIC = 'behavior.events';
  const prefix = `hb-${randomUUID().slice(0, 8)}`;
  const at = Date.now();
  let redis: RedisClient;
  let state: PartitionStateStore;
  let store: RecommendationStore;
  let processor: RecommenderProcessor;
  let log: MemoryLog;

  beforeAll(() => {
    redis = createRedis({ REDIS_URL });
    const partitionKeys = new PartitionKeys(prefix, 'recommender');
    state = new PartitionStateStore(redis, partitionKeys, 3_600_000);
    store = new RecommendationStore(redis, new RecommenderKeys(prefix, 'recommender'), {
      popularityDays: 7,
      popularityMaxProducts: 1000,
      neighborsMax: 50,
      neighborsTtlMs: 86_400_000,
      popularCacheTtlMs: 0,
    });
    log = new MemoryLog();
    processor = new RecommenderProcessor({
      state,
      store,
      tuning: { popularityWeights: { product_view: 1 }, popularityDays: 7, recentViews: 5, coViewWindowMs: 3_600_000, recentEventIds: 20 },
      logger: silentLogger,
      metrics: createMetrics('test'),
      clock: () => at,
      log,
      relayBatchSize: 2,
    });
  });
  afterAll(async () => {
    await deleteKeysMatching(redis, `*${prefix}*`);
    redis.disconnect();
  });

  /** One product view at `offset` by its own customer, of its own product. */
  const batchAt = (offset: number): ConsumedRecord<unknown>[] => [
    {
      topic: TOPIC,
      partition: 0,
      offset: String(offset),
      key: `c${offset}`,
      value: behaviorEvent({ event_id: `e${offset}`, customer_id: `c${offset}`, type: 'product_view', occurred_at: at, product_id: `sku-${offset}` }),
      timestamp: at,
      headers: {},
    },
  ];
  const context = (records: ConsumedRecord<unknown>[], heartbeat: () => Promise<void>): BatchContext => ({
    topic: TOPIC,
    partition: 0,
    nextOffset: String(Number(records.at(-1)?.offset) + 1),
    firstOffset: records[0]?.offset as string,
    commit: async (offset, metadata) => void (log.committed = { offset: BigInt(offset), metadata }),
    generation: 1,
    heartbeat,
    isActive: () => true,
  });
  const pending = () => redis.llen(state.keys.outbox(0));
  const appliedUpTo = async () => (await state.fence(0)).appliedOffsets.get(TOPIC);
  const popularity = async () => redis.zrange(store.keys.popularityDay(dayOf(at)), 0, -1, 'WITHSCORES');

  it('a beat that finds the group rebalancing ends the batch: its apply kept, its outbox left for later', async () => {
    const rebalancing = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS' });
    for (let offset = 0; offset < 4; offset += 1) {
      const batch = batchAt(offset);
      await expect(processor.handleBatch(batch, context(batch, async () => Promise.reject(rebalancing)))).rejects.toBe(rebalancing);
      expect(await appliedUpTo()).toBe(BigInt(offset));
      expect(await pending()).toBe(offset + 1);
    }
    expect(await popularity()).toEqual([]); // nothing relayed to the shared aggregates yet
  });

  it('beats after the apply, before the relay, and after each full relay chunk', async () => {
    const seen: string[] = [];
    const beat = async () => void seen.push(`applied ${await appliedUpTo()}, pending ${await pending()}`);
    const batch = batchAt(4);
    await processor.handleBatch(batch, context(batch, beat));
    // Five records pending after the apply, relayed two at a time: 5 -> 3 -> 1 -> 0.
    expect(seen).toEqual(['applied 4, pending 5', 'applied 4, pending 3', 'applied 4, pending 1']);
    expect(await pending()).toBe(0);
    expect(await popularity()).toEqual(['sku-0', '1', 'sku-1', '1', 'sku-2', '1', 'sku-3', '1', 'sku-4', '1']);
  });

  it('a batch that comes again after the rebalance applies nothing twice', async () => {
    const batch = batchAt(0);
    await processor.handleBatch(batch, context(batch, async () => undefined));
    expect(await appliedUpTo()).toBe(4n);
    expect(await popularity()).toEqual(['sku-0', '1', 'sku-1', '1', 'sku-2', '1', 'sku-3', '1', 'sku-4', '1']);
  });
});
