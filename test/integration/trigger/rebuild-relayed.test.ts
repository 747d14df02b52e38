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
import { PartitionKeys } from '../../../services/kit/partition-state';
import { committedOffsets, waitCaughtUp, waitFor } from '../../support/stack';
import { triggerLoss, type TriggerLoss } from '../../support/trigger-loss';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-20T08:00:00Z');

jest.setTimeout(180_000);
describe('the trigger service rebuilt after Redis lost its state', () => {
  let loss: TriggerLoss;
  let now = T0;

  beforeAll(async () => {
    loss = await triggerLoss('rebuild-relayed', { clock: () => now, death: 'test: the process died after the relay committed, before the batch was committed' });
  });
  afterAll(async () => {
    await loss?.close();
  });

  it('writes no trigger twice: neither one relayed past the commit nor a timer the clock fired', async () => {
    await loss.start();
    // Committed: a cart (its timer due at T0 + 15 min) and two views of a product.
    await loss.pipeline.produceEvents([loss.event('cart', 'add_to_cart', T0, { product_id: 'sku-c' }), loss.event('views', 'product_view', T0, { product_id: 'sku-v' }), loss.event('views', 'product_view', T0, { product_id: 'sku-v' })]);
    await waitCaughtUp(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events);
    // The clock passes the cart's due time: the timer fires by the clock, past the stream time (T0).
    now = T0 + 20 * MINUTE;
    await waitFor('cart_abandoned by the clock', async () => (await loss.triggers()).some((t) => t.rule === 'cart_abandoned'));
    // The 3rd and 4th views (offsets 3, 4): high_interest reaches Kafka, then the state is lost
    // before the commit. Armed once the cart's relay has trimmed, so its hook has run.
    await loss.pipeline.outboxesDrained();
    loss.arm();
    await loss.pipeline.produceEvents([loss.event('views', 'product_view', T0 + MINUTE, { product_id: 'sku-v' }), loss.event('views', 'product_view', T0 + MINUTE, { product_id: 'sku-v' })]);
    await waitFor('the partition to stop on its vanished state', () => [...(loss.service()?.processor.stopped().values() ?? [])].some((reason) => /vanished from Redis/.test(reason)));
    expect((await committedOffsets(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events)).get(0)).toBeLessThanOrEqual(4); // not past the 4th view
    const before = await loss.triggers();
    expect(before.map((t) => t.rule).sort()).toEqual(['cart_abandoned', 'high_interest']);

    await loss.stop();
    const rebuilt = await loss.state(['rebuild', '--service', 'trigger', '--group', loss.pipeline.env.GROUP_ID]);
    expect(rebuilt).toMatch(/0: .*@5 timers due by/); // the bound is past the commit (3): the relayed views
    expect(rebuilt).toMatch(/past .*'s commit, from the relay's last transaction/);
    await loss.start();
    await waitCaughtUp(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events);
    await loss.service()?.processor.fireDue(0); // a tick on the clock past the cart's due time, as the timer loop runs it
    const fence = new PartitionKeys(loss.pipeline.env.REDIS_KEY_PREFIX, 'trigger').fence(0);
    await waitFor('the owed timers to be fired without output', async () => (await loss.redis.hget(fence, 'rt')) === null);
    expect(loss.service()?.processor.stopped().size).toBe(0);
    expect((await loss.triggers()).map((t) => t.trigger_id).sort()).toEqual(before.map((t) => t.trigger_id).sort());
  });
});
