/**
 * Redis lost between two relay reads of one batch's outputs, `state rebuild`, restart: no trigger
 * that reached Kafka before the loss is written again.
 *
 * The relay reads an outbox a chunk at a time (RELAY_CHUNK records; 2 here, so that five
 * triggers of one batch span three chunks). Each apply marks where its outputs end, with what
 * they cover (applyPartitionChange-n.lua), and the exactly_once relay reads on into the same
 * transaction to that mark: the batch's triggers reach Kafka in one transaction whose checkpoint
 * covers the batch. Before, the first chunk went alone with the previous cover, and a loss right
 * after it made the rebuild produce those triggers again (docs/operations.md, "Redis lost").
 * One partition, an injected clock.
 */
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { deleteKeysMatching, globEscape } from '../../../services/kit/redis-scan';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { committedOffsets, REDIS_URL, stateTool, waitCaughtUp, waitFor } from '../../support/stack';

const T0 = Date.parse('2026-11-20T08:00:00Z');
const CUSTOMERS = ['c1', 'c2', 'c3', 'c4', 'c5'];

jest.setTimeout(180_000);
describe('the trigger service rebuilt after Redis was lost between two relay reads of one batch', () => {
  let pipeline: TestPipeline;
  const redis: RedisClient = createRedis({ REDIS_URL });
  let service: RunningService | undefined;
  let n = 0;
  /** Armed: the next relay transaction wipes the state once committed and fails, before the batch is committed. */
  let dieAfterRelay = false;
  const transactions: number[] = [];

  beforeAll(async () => {
    pipeline = await createTestPipeline('rebuild-chunked', 1);
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
    redis.disconnect();
  });

  const event = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: at, ...fields });
  const wipe = () => deleteKeysMatching(redis, `{${globEscape(pipeline.env.REDIS_KEY_PREFIX)}:*`);

  async function start(): Promise<void> {
    service = await startTrigger(loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' }), {
      clock: () => T0,
      logger: silentLogger,
      relayChunk: 2,
      relayHooks: {
        afterProduce: async (_partition, count) => {
          transactions.push(count);
          if (!dieAfterRelay) return;
          dieAfterRelay = false;
          await wipe();
          throw new Error('test: the process died after the first relay transaction of the batch, before the batch was committed');
        },
      },
    });
    await waitFor('the service to join its group', () => service?.runner.isReady() === true);
  }
  async function stop(): Promise<void> {
    await service?.stop();
    service = undefined;
  }
  const triggers = () => pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');

  it("writes no trigger twice when a batch's outputs are more than a relay chunk", async () => {
    await start();
    // Committed: three views of one product by each customer (offsets 0-14), no trigger yet.
    await pipeline.produceEvents(CUSTOMERS.flatMap((c) => [0, 1, 2].map(() => event(c, 'product_view', T0, { product_id: 'sku-v' }))));
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    await pipeline.outboxesDrained();
    expect(await triggers()).toEqual([]);

    // The fourth views (offsets 15-19), one produce request, so one batch: five high_interest.
    dieAfterRelay = true;
    transactions.length = 0;
    await pipeline.produceEvents(CUSTOMERS.map((c) => event(c, 'product_view', T0, { product_id: 'sku-v' })));
    await waitFor('the partition to stop on its vanished state', () => [...(service?.processor.stopped().values() ?? [])].some((reason) => /vanished from Redis/.test(reason)));
    expect((await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.events)).get(0)).toBe(15);
    expect(transactions).toEqual([5]); // three reads of 2, one transaction
    const before = await triggers();
    expect(before.map((t) => `${t.rule}:${t.customer_id}`).sort()).toEqual(CUSTOMERS.map((c) => `high_interest:${c}`));

    await stop();
    const rebuilt = await stateTool(['rebuild', '--service', 'trigger', '--group', pipeline.env.GROUP_ID], pipeline.env);
    expect(rebuilt).toMatch(/0: .*@20/); // the bound is the batch's end, past the commit (15)
    await start();
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    await pipeline.outboxesDrained();
    expect(service?.processor.stopped().size).toBe(0);
    expect((await triggers()).map((t) => t.trigger_id).sort()).toEqual(before.map((t) => t.trigger_id).sort());
  });
});
