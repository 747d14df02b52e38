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
import { committedOffsets, waitCaughtUp, waitFor } from '../../support/stack';
import { triggerLoss, type TriggerLoss } from '../../support/trigger-loss';

const T0 = Date.parse('2026-11-20T08:00:00Z');
const CUSTOMERS = ['c1', 'c2', 'c3', 'c4', 'c5'];

jest.setTimeout(180_000);
describe('the trigger service rebuilt after Redis was lost between two relay reads of one batch', () => {
  let loss: TriggerLoss;
  const transactions: number[] = [];

  beforeAll(async () => {
    loss = await triggerLoss('rebuild-chunked', {
      clock: () => T0,
      relayChunk: 2,
      onRelay: (records) => transactions.push(records),
      death: 'test: the process died after the first relay transaction of the batch, before the batch was committed',
    });
  });
  afterAll(async () => {
    await loss?.close();
  });

  it("writes no trigger twice when a batch's outputs are more than a relay chunk", async () => {
    await loss.start();
    // Committed: three views of one product by each customer (offsets 0-14), no trigger yet.
    await loss.pipeline.produceEvents(CUSTOMERS.flatMap((c) => [0, 1, 2].map(() => loss.event(c, 'product_view', T0, { product_id: 'sku-v' }))));
    await waitCaughtUp(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events);
    await loss.pipeline.outboxesDrained();
    expect(await loss.triggers()).toEqual([]);

    // The fourth views (offsets 15-19), one produce request, so one batch: five high_interest.
    loss.arm();
    transactions.length = 0;
    await loss.pipeline.produceEvents(CUSTOMERS.map((c) => loss.event(c, 'product_view', T0, { product_id: 'sku-v' })));
    await waitFor('the partition to stop on its vanished state', () => [...(loss.service()?.processor.stopped().values() ?? [])].some((reason) => /vanished from Redis/.test(reason)));
    expect((await committedOffsets(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events)).get(0)).toBe(15);
    expect(transactions).toEqual([5]); // three reads of 2, one transaction
    const before = await loss.triggers();
    expect(before.map((t) => `${t.rule}:${t.customer_id}`).sort()).toEqual(CUSTOMERS.map((c) => `high_interest:${c}`));

    await loss.stop();
    const rebuilt = await loss.state(['rebuild', '--service', 'trigger', '--group', loss.pipeline.env.GROUP_ID]);
    expect(rebuilt).toMatch(/0: .*@20/); // the bound is the batch's end, past the commit (15)
    await loss.start();
    await waitCaughtUp(loss.pipeline.env.GROUP_ID, loss.pipeline.topics.events);
    await loss.pipeline.outboxesDrained();
    expect(loss.service()?.processor.stopped().size).toBe(0);
    expect((await loss.triggers()).map((t) => t.trigger_id).sort()).toEqual(before.map((t) => t.trigger_id).sort());
  });
});
