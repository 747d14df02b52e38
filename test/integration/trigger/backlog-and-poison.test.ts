/**
 * Timers judged by the log, and poison state, against the real stack:
 *  - an add and its purchase 5 minutes later, produced together 40 minutes after the fact,
 *    fire nothing (the purchase further down the log cancels before the timer is judged);
 *  - 100,000 backlogged events give exactly the firings of a live run (test/support/
 *    trigger-reference.ts: the pure core fed one event at a time, timers fired as the stream
 *    time passes them, then at the clock);
 *  - a customer whose stored state is corrupt has its records dead-lettered with a reason, and
 *    the partition goes on (a control customer beside it fires).
 */
import { recordTypes } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { partitionOf } from '../../../services/kit/partitioner';
import type { RunningService } from '../../../services/kit/partition-service';
import { startTrigger, triggerShape, loadTriggerRules } from '../../../services/trigger/main';
import { shopTraffic } from '../../../services/tools/synthetic';
import { behaviorEvent, type TriggerFired } from '../../../services/core/types';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { referenceTriggers } from '../../support/trigger-reference';
import { readAll, waitCaughtUp, waitFor } from '../../support/stack';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2026-11-30T12:00:00Z');
const PARTITIONS = 3;
const types = recordTypes();

describe('trigger service: timers judged by the log, and poison state', () => {
  let pipeline: TestPipeline;
  let service: RunningService | undefined;
  const rules = loadTriggerRules('config/triggers.yaml');

  beforeEach(async () => {
    pipeline = await createTestPipeline('backlog', PARTITIONS);
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await pipeline.close();
  });

  async function startService(): Promise<RunningService> {
    const config = loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' });
    service = await startTrigger(config, { clock: () => NOW, logger: silentLogger });
    return service;
  }
  async function settledTriggers(): Promise<TriggerFired[]> {
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events, 180_000);
    for (let p = 0; p < PARTITIONS; p += 1) await service!.processor.fireDue(p);
    return Promise.all((await readAll(pipeline.topics.triggers)).map((m) => pipeline.codec.decode<TriggerFired>(m.value!, types.TriggerFired)));
  }

  it('an add and its purchase 5 minutes later, produced 40 minutes after the fact, fire nothing; a lone add beside them fires', async () => {
    const at = NOW - 40 * MINUTE;
    await pipeline.produceEvents([
      behaviorEvent({ event_id: 'late-add', customer_id: 'late', type: 'add_to_cart', occurred_at: at, product_id: 'sku-1' }),
      behaviorEvent({ event_id: 'late-buy', customer_id: 'late', type: 'purchase', occurred_at: at + 5 * MINUTE, value_cents: 100 }),
      behaviorEvent({ event_id: 'lone-add', customer_id: 'lone', type: 'add_to_cart', occurred_at: at, product_id: 'sku-2' }),
    ]);
    await startService();
    const fired = await settledTriggers();
    expect(fired.map((t) => [t.customer_id, t.rule, t.cause_event_id])).toEqual([['lone', 'cart_abandoned', 'lone-add']]);
  });

  it('100,000 backlogged events give exactly the firings of a live run', async () => {
    const events = shopTraffic({ total: 100_000, customers: 3_000, products: 400, seed: 5, from: NOW - 26 * HOUR, to: NOW - 2 * HOUR });
    const expected = new Set(referenceTriggers(events, rules, { partitions: PARTITIONS, now: NOW, endDueBy: 'clock' }).keys());
    await pipeline.produceEvents(events);
    await startService();
    const fired = await settledTriggers();
    const ids = fired.map((t) => t.trigger_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(expected);
    const carts = fired.filter((t) => t.rule === 'cart_abandoned').length;
    const adds = events.filter((e) => e.type === 'add_to_cart').length;
    // About a third of the traffic's carts are abandoned; the backlog defect fired nearly all.
    expect(carts / adds).toBeLessThan(0.6);
    expect(carts).toBeGreaterThan(0);
  }, 300_000);

  it('a corrupt customer state dead-letters that customer\'s records with a reason; the partition goes on', async () => {
    const svc = await startService();
    await waitFor('the service to join its group', () => svc.runner.isReady());
    const view = (customer: string, n: number) =>
      behaviorEvent({ event_id: `${customer}-v${n}`, customer_id: customer, type: 'product_view', occurred_at: NOW - HOUR + n, product_id: 'sku-9' });
    // Both customers share a partition, so the control proves the partition was not stalled.
    const control = ['ctl-a', 'ctl-b', 'ctl-c', 'ctl-d', 'ctl-e'].find((c) => partitionOf(c, PARTITIONS) === partitionOf('broken', PARTITIONS))!;
    await svc.parts.redis.set(svc.parts.keys.customer(partitionOf('broken', PARTITIONS), 'broken'), '{"v":0,"not":"a trigger state"');
    await pipeline.produceEvents([1, 2, 3, 4].flatMap((n) => [view('broken', n), view(control, n)]));
    const fired = await settledTriggers();
    expect(fired.map((t) => [t.customer_id, t.rule])).toEqual([[control, 'high_interest']]);
    const dead = await readAll(`${pipeline.topics.events}.dlq`);
    expect(dead).toHaveLength(4);
    for (const m of dead) {
      expect(m.key?.toString()).toBe('broken');
      expect(m.headers?.['kairos.dlq.reason']?.toString()).toBe('corrupt-state');
      expect(m.headers?.['__connect.errors.exception.message']?.toString()).toMatch(/cannot be decoded/);
    }
    const corrupt = await svc.parts.metrics.registry.getSingleMetricAsString('kairos_corrupt_states_total');
    expect(corrupt).toMatch(/kairos_corrupt_states_total\{[^}]*\} [1-9]/);
  });
});
