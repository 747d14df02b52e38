/**
 * Redis lost, `state rebuild`, restart: no trigger that reached Kafka before the loss is written
 * again, in the two cases where what reached Kafka is past the group's committed offset
 * (`make chaos` found both: docs/chaos.md, "What the runs found"):
 *
 *  - a batch whose outputs were relayed but which was never committed: here the process "dies"
 *    (a relay hook wipes the state and throws) after the relay's transaction committed, before
 *    the batch's offset commit; in production a rebalance ending the batch after its apply, its
 *    outbox relayed by a later call, does the same;
 *  - a timer the clock fired after the partition's last record: the commit covers the record
 *    that set it, and the replay's stream time never reaches its due time.
 *
 * The rebuild's restore bound comes from the relay's last transaction (its checkpoint's cover:
 * offsets and timer watermark), not only from the group's commit. One partition, an injected
 * clock.
 */
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { PartitionKeys } from '../../../services/kit/partition-state';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { deleteKeysMatching, globEscape } from '../../../services/kit/redis-scan';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { committedOffsets, REDIS_URL, stateTool, waitCaughtUp, waitFor } from '../../support/stack';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-20T08:00:00Z');

jest.setTimeout(180_000);
describe('the trigger service rebuilt after Redis lost its state', () => {
  let pipeline: TestPipeline;
  const redis: RedisClient = createRedis({ REDIS_URL });
  let service: RunningService | undefined;
  let now = T0;
  let n = 0;
  /** Armed: the next relay that produced records wipes the state and fails, before the batch is committed. */
  let dieAfterRelay = false;

  beforeAll(async () => {
    pipeline = await createTestPipeline('rebuild-relayed', 1);
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
    redis.disconnect();
  });

  const env = () => ({ ...pipeline.env, TIMER_INTERVAL_MS: '100' });
  const event = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: at, ...fields });
  const wipe = () => deleteKeysMatching(redis, `{${globEscape(pipeline.env.REDIS_KEY_PREFIX)}:*`);

  async function start(): Promise<void> {
    service = await startTrigger(loadConfig(triggerShape, env()), {
      clock: () => now,
      logger: silentLogger,
      relayHooks: {
        afterProduce: async () => {
          if (!dieAfterRelay) return;
          dieAfterRelay = false;
          await wipe();
          throw new Error('test: the process died after the relay committed, before the batch was committed');
        },
      },
    });
    await waitFor('the service to join its group', () => service?.runner.isReady() === true);
  }
  async function stop(): Promise<void> {
    await service?.stop();
    service = undefined;
  }
  async function triggers(): Promise<TriggerFired[]> {
    return pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
  }
  const state = (args: string[]) => stateTool(args, pipeline.env);

  it('writes no trigger twice: neither one relayed past the commit nor a timer the clock fired', async () => {
    await start();
    // Committed: a cart (its timer due at T0 + 15 min) and two views of a product.
    await pipeline.produceEvents([event('cart', 'add_to_cart', T0, { product_id: 'sku-c' }), event('views', 'product_view', T0, { product_id: 'sku-v' }), event('views', 'product_view', T0, { product_id: 'sku-v' })]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    // The clock passes the cart's due time: the timer fires by the clock, past the stream time (T0).
    now = T0 + 20 * MINUTE;
    await waitFor('cart_abandoned by the clock', async () => (await triggers()).some((t) => t.rule === 'cart_abandoned'));
    // The 3rd and 4th views (offsets 3, 4): high_interest reaches Kafka, then the state is lost
    // before the commit. Armed once the cart's relay has trimmed, so its hook has run.
    await pipeline.outboxesDrained();
    dieAfterRelay = true;
    await pipeline.produceEvents([event('views', 'product_view', T0 + MINUTE, { product_id: 'sku-v' }), event('views', 'product_view', T0 + MINUTE, { product_id: 'sku-v' })]);
    await waitFor('the partition to stop on its vanished state', () => [...(service?.processor.stopped().values() ?? [])].some((reason) => /vanished from Redis/.test(reason)));
    expect((await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.events)).get(0)).toBeLessThanOrEqual(4); // not past the 4th view
    const before = await triggers();
    expect(before.map((t) => t.rule).sort()).toEqual(['cart_abandoned', 'high_interest']);

    await stop();
    const rebuilt = await state(['rebuild', '--service', 'trigger', '--group', pipeline.env.GROUP_ID]);
    expect(rebuilt).toMatch(/0: .*@5 timers due by/); // the bound is past the commit (3): the relayed views
    expect(rebuilt).toMatch(/past .*'s commit, from the relay's last transaction/);
    await start();
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    await service?.processor.fireDue(0); // a tick on the clock past the cart's due time, as the timer loop runs it
    const fence = new PartitionKeys(pipeline.env.REDIS_KEY_PREFIX, 'trigger').fence(0);
    await waitFor('the owed timers to be fired without output', async () => (await redis.hget(fence, 'rt')) === null);
    expect(service?.processor.stopped().size).toBe(0);
    expect((await triggers()).map((t) => t.trigger_id).sort()).toEqual(before.map((t) => t.trigger_id).sort());
  });
});
