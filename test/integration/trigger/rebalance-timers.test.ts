/**
 * Timers move with their partitions: two trigger instances in one group share a stream of
 * add_to_cart events while the (injected, shared) service clock runs; mid-stream one instance
 * stops and later another joins, each a rebalance while timers are falling due. Every due
 * timer fires exactly once: one cart_abandoned record per abandoned cart (by trigger_id and by
 * count of records), none for carts bought or checked out in time, none early.
 */
import { triggerId } from '../../../services/core/ids';
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { waitCaughtUp, waitFor } from '../../support/stack';

const PARTITIONS = 6;
const WAVES = 12;
const CARTS_PER_WAVE = 250;
const MINUTE = 60_000;
/** The clock moves this much with each wave: an add's timer falls due with the 3rd wave after it. */
const STEP = 4 * MINUTE;
const STOP_AFTER_WAVE = 4; // instance A stops (B takes its partitions)
const JOIN_AFTER_WAVE = 7; // instance C joins (B hands partitions over)
const T0 = Date.parse('2026-11-28T09:00:00Z');

type Fate = 'abandoned' | 'bought' | 'checked_out' | 'added_again';

describe('trigger timers across a rebalance (two instances, shared injected clock)', () => {
  let pipeline: TestPipeline;
  let now = T0;
  const instances = new Map<string, RunningService>();

  beforeAll(async () => {
    pipeline = await createTestPipeline('rebalance', PARTITIONS);
  });
  afterAll(async () => {
    for (const service of instances.values()) await service.stop();
    await pipeline?.close();
  });

  async function startInstance(name: string): Promise<RunningService> {
    const config = loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' });
    const service = await startTrigger(config, { clock: () => now, logger: silentLogger });
    instances.set(name, service);
    return service;
  }
  const owned = (service: RunningService) => service.runner.assignedPartitions(pipeline.topics.events);
  const producedBy = async (service: RunningService) =>
    (await service.parts.metrics.recordsProduced.get()).values.filter((v) => v.labels.topic === pipeline.topics.triggers).reduce((sum, v) => sum + v.value, 0);
  /** Waits until the running instances own every partition, each exactly once. */
  async function assignmentSettled(services: RunningService[]): Promise<void> {
    await waitFor('the group to settle', () => {
      const all = services.flatMap(owned).sort((a, b) => a - b);
      return services.every((s) => owned(s).length > 0) && all.join() === Array.from({ length: PARTITIONS }, (_, p) => p).join();
    }, 60_000);
  }

  it('fires every due cart_abandoned timer exactly once while instances stop and join', async () => {
    const a = await startInstance('a');
    const b = await startInstance('b');
    await assignmentSettled([a, b]);

    // Per wave: each new customer views and adds at the current clock; the previous wave's
    // customers then buy, check out, add again (restarting the timer), or do nothing.
    const fates = new Map<string, { fate: Fate; lastAdd: BehaviorEvent }>();
    const fateOf = (i: number): Fate => (['abandoned', 'abandoned', 'bought', 'checked_out', 'added_again'] as const)[i % 5];
    const aOwnedBeforeStop: number[] = [];
    let bOwnedAfterStop: number[] = [];
    let cOwned: number[] = [];
    // The last round only carries the follow-ups of the last wave's customers.
    for (let wave = 0; wave <= WAVES; wave += 1) {
      const events: BehaviorEvent[] = [];
      for (let i = 0; i < (wave < WAVES ? CARTS_PER_WAVE : 0); i += 1) {
        const customer = `w${wave}-c${i}`;
        const product = `p-${(wave * 31 + i) % 97}`;
        events.push(behaviorEvent({ event_id: `${customer}-view`, customer_id: customer, type: 'product_view', occurred_at: now - 1000, product_id: product }));
        const add = behaviorEvent({ event_id: `${customer}-add-1`, customer_id: customer, type: 'add_to_cart', occurred_at: now, product_id: product, quantity: 1 });
        events.push(add);
        fates.set(customer, { fate: fateOf(i), lastAdd: add });
      }
      if (wave > 0) {
        for (let i = 0; i < CARTS_PER_WAVE; i += 1) {
          const customer = `w${wave - 1}-c${i}`;
          const entry = fates.get(customer)!;
          const at = now; // STEP (4 minutes) after the add: within the 15 minutes
          if (entry.fate === 'bought') events.push(behaviorEvent({ event_id: `${customer}-buy`, customer_id: customer, type: 'purchase', occurred_at: at, value_cents: 1999 }));
          if (entry.fate === 'checked_out') events.push(behaviorEvent({ event_id: `${customer}-checkout`, customer_id: customer, type: 'checkout_started', occurred_at: at }));
          if (entry.fate === 'added_again') {
            const again = behaviorEvent({ event_id: `${customer}-add-2`, customer_id: customer, type: 'add_to_cart', occurred_at: at, product_id: `p-extra-${i % 7}`, quantity: 1 });
            events.push(again);
            entry.lastAdd = again;
          }
        }
      }
      await pipeline.produceEvents(events);
      // The clock moves on at once: the timers of the adds 3 waves back fall due while this
      // wave is in flight and, at the rebalances, while partitions change hands.
      now += STEP;
      if (wave === STOP_AFTER_WAVE) {
        aOwnedBeforeStop.push(...owned(a));
        await a.stop();
        instances.delete('a');
        await assignmentSettled([b]);
        bOwnedAfterStop = owned(b);
      }
      if (wave === JOIN_AFTER_WAVE) {
        const c = await startInstance('c');
        await assignmentSettled([b, c]);
        cOwned = owned(c);
      }
      // Each wave is applied before the next: a purchase 4 minutes after an add is applied
      // while the clock is at most 8 minutes past the add, before its timer is due, so what
      // fires is deterministic.
      await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events, 60_000);
    }
    now += 20 * MINUTE; // everything still pending is due now

    const expected = new Map<string, BehaviorEvent>(); // trigger_id -> the add it fires for
    for (const [customer, { fate, lastAdd }] of fates) {
      if (fate === 'abandoned' || fate === 'added_again') expected.set(triggerId('cart_abandoned', customer, lastAdd.event_id), lastAdd);
    }
    const b2 = instances.get('b')!;
    const c2 = instances.get('c')!;
    await waitFor(
      'every timer to fire and every outbox to drain',
      async () => {
        const keys = await pipeline.redisKeys();
        const pending = keys.filter((key) => key.endsWith(':timers') || key.endsWith(':outbox'));
        return pending.length === 0 && (await producedBy(b2)) + (await producedBy(c2)) > 0;
      },
      60_000,
    );
    const records = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => t.rule === 'cart_abandoned');
    const counts = new Map<string, number>();
    for (const t of records) counts.set(t.trigger_id, (counts.get(t.trigger_id) ?? 0) + 1);
    const missing = [...expected.keys()].filter((id) => !counts.has(id)).map((id) => expected.get(id)!.customer_id);
    const unexpected = records.filter((t) => !expected.has(t.trigger_id)).map((t) => `${t.customer_id} ${t.cause_event_id}`);
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${expected.get(id)?.customer_id ?? id} x${n}`);
    const early = records.filter((t) => expected.has(t.trigger_id) && t.fired_at < expected.get(t.trigger_id)!.occurred_at + 15 * MINUTE);
    console.log(
      `rebalance-timers: ${fates.size} carts, ${expected.size} due timers; A owned [${aOwnedBeforeStop}] before it stopped, ` +
        `B owned [${bOwnedAfterStop}] after, C took [${cOwned}]; ${records.length} cart_abandoned records, ${counts.size} distinct ids`,
    );
    expect({ missing: missing.slice(0, 10), unexpected: unexpected.slice(0, 10), repeated: repeated.slice(0, 10), early: early.slice(0, 5) }).toEqual({
      missing: [],
      unexpected: [],
      repeated: [],
      early: [],
    });
    expect(records).toHaveLength(expected.size);
    expect(counts.size).toBe(expected.size);

    // The rebalances really moved partitions: A owned some and stopped; B then owned all; C took some over.
    expect(aOwnedBeforeStop.length).toBeGreaterThan(0);
    expect(bOwnedAfterStop).toHaveLength(PARTITIONS);
    expect(cOwned.length).toBeGreaterThan(0);
    // C fired timers of partitions it took over (their adds were applied before it joined).
    expect(await producedBy(c2)).toBeGreaterThan(0);
  }, 170_000);
});
