/**
 * One record dated in the future must not poison a customer (issue 9, item 3). Each case
 * gives customer X a BehaviorEvent dated year 3000 and then the same real events as a control
 * customer Y who got none: X must end exactly like Y, and the future record must be in the
 * events DLQ with reason `future-time`, dead-lettered by the trigger service. One partition,
 * so one customer's records and the timers of all of them are in one ordered stream.
 */
import type { KafkaMessage } from 'kafkajs';
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import type { RunningService } from '../../../services/kit/partition-service';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { readAll, waitCaughtUp, waitFor } from '../../support/stack';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.parse('2026-11-20T08:00:00Z');
const YEAR_3000 = Date.parse('3000-01-01T00:00:00Z');

describe('the trigger service and event times from the future (injected clock)', () => {
  let pipeline: TestPipeline;
  let service: RunningService;
  let now = T0;
  let n = 0;

  beforeAll(async () => {
    pipeline = await createTestPipeline('future-trigger', 1);
    const config = loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' });
    service = await startTrigger(config, { clock: () => now, logger: silentLogger });
    await waitFor('the service to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
  });

  const event = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: at, ...fields });

  async function settled(): Promise<void> {
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
  }
  async function firedFor(customer: string, rule: string): Promise<TriggerFired[]> {
    const all = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    return all.filter((t) => t.customer_id === customer && t.rule === rule);
  }
  /** Waits until every customer has a firing of `rule`, then returns them all. */
  async function waitFired(rule: string, customers: string[]): Promise<Record<string, TriggerFired[]>> {
    return waitFor(`${rule} for ${customers.join(', ')}`, async () => {
      const found = Object.fromEntries(await Promise.all(customers.map(async (c) => [c, await firedFor(c, rule)] as const)));
      return customers.every((c) => found[c].length > 0) ? found : undefined;
    });
  }
  /** The dead letter of `customer`'s future record; the trigger service has committed past it, so it is there. */
  async function deadLetterOf(customer: string): Promise<KafkaMessage> {
    const dead = (await readAll(dlqTopic(pipeline.topics.events))).filter((m) => m.key?.toString() === customer);
    expect(dead).toHaveLength(1);
    const header = (name: string) => dead[0].headers?.[name]?.toString();
    expect(header(DLQ_HEADERS.reason)).toBe('future-time');
    expect(header(DLQ_HEADERS.service)).toBe('trigger');
    expect(header(DLQ_HEADERS.topic)).toBe(pipeline.topics.events);
    expect(header(DLQ_HEADERS.exceptionMessage)).toMatch(
      /^occurred_at 3000-01-01T00:00:00\.000Z is \d+d \d+h ahead of this service's clock \(.+\), more than MAX_CLOCK_SKEW \(5m\)/,
    );
    return dead[0];
  }

  it('after a future product_view, four real views of another product fire high_interest, as for the control', async () => {
    now = T0;
    const [x, y] = ['view-x', 'view-y'];
    const views = (c: string) => [1, 2, 3, 4].map((i) => event(c, 'product_view', now - (5 - i) * MINUTE, { product_id: 'sku-real' }));
    await pipeline.produceEvents([event(x, 'product_view', YEAR_3000, { product_id: 'sku-future' }), ...views(x), ...views(y)]);
    const fired = await waitFired('high_interest', [x, y]);
    await settled();
    for (const c of [x, y]) {
      expect(fired[c]).toHaveLength(1);
      expect(fired[c][0].context.product_id).toBe('sku-real');
      expect(fired[c][0].cause_event_id).toMatch(new RegExp(`^${c}-product_view-`));
    }
    await deadLetterOf(x);
  });

  it('after a future purchase, a real abandoned cart fires cart_abandoned 15 minutes later, as for the control', async () => {
    now = T0 + HOUR;
    const [x, y] = ['abandon-x', 'abandon-y'];
    await pipeline.produceEvents([
      event(x, 'purchase', YEAR_3000, { value_cents: 1000 }),
      event(x, 'add_to_cart', now, { product_id: 'sku-cart' }),
      event(y, 'add_to_cart', now, { product_id: 'sku-cart' }),
    ]);
    await settled();
    now += 15 * MINUTE + 1000;
    const fired = await waitFired('cart_abandoned', [x, y]);
    for (const c of [x, y]) {
      expect(fired[c]).toHaveLength(1);
      expect(fired[c][0].context.cart_product_ids).toBe('sku-cart');
    }
    await deadLetterOf(x);
  });

  it('after a future add_to_cart, a real purchase cancels the real cart: nothing fires, as for the control', async () => {
    now = T0 + 2 * HOUR;
    const [x, y, sentinel] = ['cancel-x', 'cancel-y', 'cancel-sentinel'];
    await pipeline.produceEvents([
      event(x, 'add_to_cart', YEAR_3000, { product_id: 'sku-future' }),
      event(x, 'add_to_cart', now - 5 * MINUTE, { product_id: 'sku-cart' }),
      event(y, 'add_to_cart', now - 5 * MINUTE, { product_id: 'sku-cart' }),
      event(x, 'purchase', now, { value_cents: 1000 }),
      event(y, 'purchase', now, { value_cents: 1000 }),
    ]);
    await settled();
    // Any timer X or Y still had (the bug armed one at now + 15 min) is due from here on.
    now += 16 * MINUTE;
    // The sentinel's cart is abandoned and falls due after every timer of X and Y: once its
    // firing is on the (single-partition) triggers topic, theirs would be there too.
    await pipeline.produceEvents([event(sentinel, 'add_to_cart', now, { product_id: 'sku-cart' })]);
    await settled();
    now += 16 * MINUTE;
    await waitFired('cart_abandoned', [sentinel]);
    expect(await firedFor(x, 'cart_abandoned')).toEqual([]);
    expect(await firedFor(y, 'cart_abandoned')).toEqual([]);
    await deadLetterOf(x);
  });

  it('dead-lettered exactly the three future records, and no real one', async () => {
    const dead = await readAll(dlqTopic(pipeline.topics.events));
    expect(dead.map((m) => m.key?.toString()).sort()).toEqual(['abandon-x', 'cancel-x', 'view-x']);
    const counted = (await service.parts.metrics.recordsDeadLettered.get()).values.filter((v) => v.labels.reason === 'future-time');
    expect(counted.reduce((sum, v) => sum + v.value, 0)).toBe(3);
  });
});
