import { readFileSync } from 'node:fs';
import { MAX_SUM_BUCKETS, memberships, parseSegmentDefinitions, relevantEventTypes } from '../../../../services/core/segments';
import { behaviorEvent } from '../../../../services/core/types';
import { deliver, event, CUSTOMER, DAY, HOUR, SHIPPED_PATH, T0, advanceTo, seededRandom, shippedDefinitions, startSimulation } from './harness';

const defs = shippedDefinitions();

describe('config/segments.yaml', () => {
  it('parses and ships the expected segments', () => {
    expect(defs.map((segment) => segment.name)).toEqual([
      'frequent_buyer',
      'engaged',
      'high_value_engaged',
      'new_customer',
      'lapsed_buyer',
      'big_spender',
      'high_interest',
      're_engagement',
    ]);
    expect(defs.filter((segment) => segment.triggerOnEntry).map((segment) => segment.name)).toEqual(['high_value_engaged']);
    expect([...relevantEventTypes(defs)].sort()).toEqual(['add_to_cart', 'email_click', 'email_open', 'product_view', 'purchase', 'remove_from_cart']);
  });

  it('is what the tests read (no stale copy)', () => {
    expect(parseSegmentDefinitions('x', readFileSync(SHIPPED_PATH, 'utf8'))).toEqual(defs);
  });
});

describe('the shipped segments over one customer life', () => {
  const purchase = (day: number) => ({ event: event('purchase', T0 + day * DAY, { value_cents: 20000, order_id: `o${day}` }), now: T0 + day * DAY });
  const timeline = [
    purchase(0),
    { event: event('email_open', T0 + DAY), now: T0 + DAY },
    { event: event('page_view', T0 + 5 * DAY), now: T0 + 5 * DAY },
    purchase(10),
    purchase(20),
  ];
  const simulation = startSimulation();
  for (const arrival of timeline) deliver(simulation, defs, arrival);
  advanceTo(simulation, defs, T0 + 1000 * DAY);

  it('enters and exits each segment exactly once, at the right moments', () => {
    expect(simulation.changes.map((change) => [change.segment, change.change, (change.at - T0) / DAY])).toEqual([
      ['new_customer', 'entered', 0],
      ['engaged', 'entered', 1],
      ['frequent_buyer', 'entered', 20],
      ['high_value_engaged', 'entered', 20],
      ['big_spender', 'entered', 20],
      ['new_customer', 'exited', 30 + 1 / DAY],
      ['engaged', 'exited', 31 + 1 / DAY],
      ['high_value_engaged', 'exited', 31 + 1 / DAY],
      ['frequent_buyer', 'exited', 90 + 1 / DAY],
      ['lapsed_buyer', 'entered', 110 + 1 / DAY],
      // The day-0 purchase's daily bucket ends at day 1 - 1 ms, so it counts until day 366.
      ['big_spender', 'exited', 366],
      ['lapsed_buyer', 'exited', 385 + 1 / DAY],
    ]);
    expect(simulation.changes.every((change) => change.customer_id === CUSTOMER)).toBe(true);
    expect(memberships(simulation.state)).toEqual([]);
    expect(simulation.wakeAt).toBeNull();
  });

  it('gives readable reasons', () => {
    const reasons = Object.fromEntries(simulation.changes.map((change) => [`${change.segment}:${change.change}`, change.reason]));
    expect(reasons['frequent_buyer:entered']).toBe('purchase count in 90d is 3 (>= 3)');
    expect(reasons['frequent_buyer:exited']).toBe('purchase count in 90d is 2 (>= 3)');
    expect(reasons['engaged:exited']).toBe('no email_click or email_open within 30d');
    expect(reasons['lapsed_buyer:entered']).toBe('last purchase 90d ago (within 365d); no purchase within 90d');
    expect(reasons['big_spender:entered']).toBe('purchase value in 365d is at least 60000 cents (>= 50000)');
    expect(reasons['new_customer:entered']).toBe('first purchase 0s ago (within 30d)');
  });

  it('fires the high_value_engaged trigger once, caused by the third purchase', () => {
    expect(simulation.triggers).toHaveLength(1);
    expect(simulation.triggers[0]).toMatchObject({
      rule: 'segment:high_value_engaged',
      customer_id: CUSTOMER,
      fired_at: T0 + 20 * DAY,
      cause_event_id: timeline[4].event.event_id,
      context: { segment: 'high_value_engaged', order_id: 'o20' },
    });
  });

  it('wakes only when something can change', () => {
    expect(simulation.timersFired).toBeLessThanOrEqual(8);
  });
});

describe('bounded state', () => {
  /** A year of one very active customer: 10,000 events, some late, some re-delivered, some from the future. */
  function busyYear(seed: number, purchaseCents: () => number) {
    const random = seededRandom(seed);
    const simulation = startSimulation();
    const types = ['purchase', 'purchase', 'purchase', 'email_open', 'email_click', 'page_view', 'product_view', 'add_to_cart'];
    let previous = null as ReturnType<typeof behaviorEvent> | null;
    for (let i = 0; i < 10_000; i++) {
      const now = T0 + Math.floor((i / 10_000) * 365 * DAY);
      const duplicate = previous !== null && random() < 0.05;
      const type = types[Math.floor(random() * types.length)];
      const lag = random() < 0.1 ? -HOUR : Math.floor(random() * 3 * DAY);
      const item = duplicate
        ? (previous as ReturnType<typeof behaviorEvent>)
        : behaviorEvent({
            event_id: `evt-${seed}-${i}-${'x'.repeat(24)}`,
            customer_id: 'customer-7f3a9c2e-5b1d-4e8a-9f6c-0d2b4a6e8c1f',
            type,
            occurred_at: now - lag,
            value_cents: type === 'purchase' ? purchaseCents() : null,
            product_id: 'sku-123456',
          });
      deliver(simulation, defs, { event: item, now });
      previous = item;
    }
    return simulation;
  }

  it('stays well under 1 KB of JSON for 10,000 events with typical amounts', () => {
    const random = seededRandom(7);
    const simulation = busyYear(1, () => 500 + Math.floor(random() * 20000));
    expect(simulation.maxStateBytes).toBeGreaterThan(100); // it measured something real
    expect(simulation.maxStateBytes).toBeLessThan(1024);
  });

  it('stays under 1 KB even when tiny amounts need every sum bucket', () => {
    const simulation = busyYear(2, () => 1);
    expect(simulation.state?.a.purchase.s?.b.length).toBe(MAX_SUM_BUCKETS);
    expect(simulation.maxStateBytes).toBeLessThan(1024);
  });
});
