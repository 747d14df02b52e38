import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { behaviorEvent, type TriggerFired } from '../../../services/core/types';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { waitCaughtUp, waitFor, withAdmin } from '../../support/stack';

const HOUR = 3600_000;
const MINUTE = 60_000;
const T0 = Date.parse('2026-11-28T08:00:00Z');

describe('the trigger service against the real stack (injected clock)', () => {
  let pipeline: TestPipeline;
  let service: RunningService;
  let now = T0;

  beforeAll(async () => {
    pipeline = await createTestPipeline('trigger');
    const config = loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' });
    service = await startTrigger(config, { clock: () => now, logger: silentLogger });
    await waitFor('the service to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
  });

  const view = (customer: string, n: number, at: number, product = 'sku-1') =>
    behaviorEvent({ event_id: `${customer}-view-${n}`, customer_id: customer, type: 'product_view', occurred_at: at, product_id: product });

  async function snapshotState(keys: string[]): Promise<Record<string, string | null>> {
    const redis = service.parts.redis;
    const out: Record<string, string | null> = {};
    for (const key of keys.sort()) {
      const type = await redis.type(key);
      out[key] = type === 'string' ? ((await redis.getBuffer(key))?.toString('hex') ?? null) : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')) : type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type;
    }
    return out;
  }
  /** The state without the fence (its version moves with every apply) and the outbox's owner (each instance's relay claims it). */
  const omitFence = (state: Record<string, string | null>) =>
    Object.fromEntries(
      Object.entries(state)
        .filter(([key]) => !key.endsWith(':fence'))
        .map(([key, value]) => [key, key.endsWith(':outbox:relay') && value !== null ? JSON.stringify({ ...(JSON.parse(value) as object), owner: undefined }) : value]),
    );

  async function triggersOf(customer: string): Promise<TriggerFired[]> {
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    const all = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    return all.filter((t) => t.customer_id === customer);
  }

  it('high_interest fires on exactly the 4th view inside 24 h, once, and not for views spread over 24 h + 1 ms', async () => {
    // Every view below is in the clock's past: one beyond MAX_CLOCK_SKEW ahead would be dead-lettered.
    now = T0 + 25 * HOUR;
    await pipeline.produceEvents([
      view('hi-a', 1, T0), view('hi-a', 2, T0 + HOUR), view('hi-a', 3, T0 + 2 * HOUR),
      view('hi-a', 4, T0 + 3 * HOUR), view('hi-a', 5, T0 + 4 * HOUR),
      // the 4th view is 24 h + 1 ms after the first: only 3 inside any 24 h window
      view('hi-b', 1, T0), view('hi-b', 2, T0 + HOUR), view('hi-b', 3, T0 + 2 * HOUR), view('hi-b', 4, T0 + 24 * HOUR + 1),
      // only 3 views
      view('hi-c', 1, T0), view('hi-c', 2, T0 + 1), view('hi-c', 3, T0 + 2),
    ]);
    const a = await triggersOf('hi-a');
    expect(a).toHaveLength(1);
    expect(a[0]).toEqual(expect.objectContaining({ rule: 'high_interest', cause_event_id: 'hi-a-view-4', context: expect.objectContaining({ product_id: 'sku-1' }) }));
    expect(await triggersOf('hi-b')).toEqual([]);
    expect(await triggersOf('hi-c')).toEqual([]);
  });

  it('cart_abandoned fires 15 minutes after the add on the service clock, once; a purchase in between cancels it', async () => {
    now = T0 + 10 * HOUR;
    const add = (customer: string, product: string, at: number) =>
      behaviorEvent({ event_id: `${customer}-add-${product}`, customer_id: customer, type: 'add_to_cart', occurred_at: at, product_id: product });
    await pipeline.produceEvents([
      add('cart-a', 'sku-7', now), add('cart-a', 'sku-8', now + 1),
      add('cart-b', 'sku-9', now),
      behaviorEvent({ event_id: 'cart-b-buy', customer_id: 'cart-b', type: 'purchase', occurred_at: now + 5 * MINUTE, value_cents: 1000 }),
    ]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);

    now += 15 * MINUTE - 1000; // not yet due
    await service.processor.fireDue(0);
    await service.processor.fireDue(1);
    await service.processor.fireDue(2);
    expect((await triggersOf('cart-a')).filter((t) => t.rule === 'cart_abandoned')).toEqual([]);

    now += 2000; // 15 minutes and 1 second after the last add
    const fired = await waitFor('the abandonment trigger', async () => {
      const found = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => t.customer_id === 'cart-a' && t.rule === 'cart_abandoned');
      return found.length > 0 ? found : undefined;
    });
    expect(fired).toHaveLength(1);
    expect(fired[0].context.cart_product_ids.split(',').sort()).toEqual(['sku-7', 'sku-8']);
    expect(fired[0].fired_at).toBe(now);

    // Later ticks fire nothing again; the purchase cancelled cart-b's timer.
    now += HOUR;
    for (const p of [0, 1, 2]) await service.processor.fireDue(p);
    const all = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    expect(all.filter((t) => t.customer_id === 'cart-a' && t.rule === 'cart_abandoned')).toHaveLength(1);
    expect(all.filter((t) => t.customer_id === 'cart-b')).toEqual([]);
  });

  it('a re-sent event (same event_id, new offset) is not counted twice', async () => {
    await pipeline.produceEvents([view('resent', 1, T0), view('resent', 2, T0 + 1), view('resent', 3, T0 + 2)]);
    await pipeline.produceEvents([view('resent', 3, T0 + 2)]); // a producer retry re-sends the 3rd view
    expect(await triggersOf('resent')).toEqual([]); // counted, it would have been the 4th
    await pipeline.produceEvents([view('resent', 4, T0 + 3)]);
    expect(await triggersOf('resent')).toHaveLength(1);
  });

  it('a profile tombstone erases the customer: state and pending timers go, nothing fires later', async () => {
    const c = 'erased';
    await pipeline.produceEvents([
      view(c, 1, now), view(c, 2, now + 1),
      behaviorEvent({ event_id: `${c}-add`, customer_id: c, type: 'add_to_cart', occurred_at: now, product_id: 'sku-3' }),
    ]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    const keysOf = async () => (await pipeline.redisKeys()).filter((k) => k.includes(c));
    const timersOf = async () => {
      const found: string[] = [];
      for (const key of (await pipeline.redisKeys()).filter((k) => k.endsWith(':timers'))) {
        found.push(...(await service.parts.redis.zrange(key, 0, -1)).filter((m) => m.startsWith(`${c}|`)));
      }
      return found;
    };
    expect(await keysOf()).toHaveLength(1);
    expect(await timersOf()).toEqual([`${c}|cart_abandoned`]);

    await pipeline.produceProfiles([{ customer_id: c, tombstone: true }]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    expect(await keysOf()).toEqual([]);
    expect(await timersOf()).toEqual([]);
    now += HOUR;
    for (const p of [0, 1, 2]) await service.processor.fireDue(p);
    expect(await triggersOf(c)).toEqual([]);
  });

  it('replaying the same offsets (group reset to the beginning) changes no state and emits nothing again', async () => {
    const before = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    const keys = await pipeline.redisKeys();
    const stateBefore = await snapshotState(keys);
    await service.stop();
    await withAdmin((admin) => admin.resetOffsets({ groupId: pipeline.env.GROUP_ID, topic: pipeline.topics.events, earliest: true }));
    service = await startTrigger(loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' }), { clock: () => now, logger: silentLogger });
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    expect(await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).toHaveLength(before.length);
    // The offset fence dropped the replayed records before the engine saw them: not one was
    // even taken for a duplicate event_id.
    const processed = (await service.parts.metrics.recordsProcessed.get()).values.reduce((sum, v) => sum + v.value, 0);
    const duplicates = (await service.parts.metrics.eventsIgnored.get()).values.filter((v) => v.labels.reason === 'duplicate');
    expect(processed).toBeGreaterThan(20);
    expect(duplicates.reduce((sum, v) => sum + v.value, 0)).toBe(0);
    const stateAfter = await snapshotState(keys);
    // Only the fence's version and the outbox's owner (the new instance) may differ (nothing else was applied); every state is identical.
    expect(omitFence(stateAfter)).toEqual(omitFence(stateBefore));
    const ownersIn = (state: Record<string, string | null>) =>
      new Set(Object.entries(state).filter(([key]) => key.endsWith(':outbox:relay')).map(([, value]) => (JSON.parse(value ?? '{}') as { owner?: string }).owner));
    // One relay per instance: the new one claimed every partition from the old one.
    const [ownerBefore, ownerAfter] = [[...ownersIn(stateBefore)], [...ownersIn(stateAfter)]];
    expect({ before: ownerBefore.length, after: ownerAfter.length, same: ownerBefore[0] === ownerAfter[0] }).toEqual({ before: 1, after: 1, same: false });
  });
});
