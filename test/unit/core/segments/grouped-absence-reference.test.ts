/**
 * Grouped counts and absence conditions against a brute-force reference that keeps every event:
 * same memberships after every input and at random moments in between (so wakeAt is never late).
 * Adds to the cart arrive in order and at least 10 minutes apart, so fewer than
 * ABSENCE_TIMESTAMPS of them ever fall within one `for` (the bound under which absence is exact);
 * everything else may arrive late or twice.
 */
import { memberships } from '../../../../services/core/segments';
import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';
import { deliver, CUSTOMER, HOUR, MINUTE, T0, advanceTo, defsOf, seededRandom, startSimulation } from './harness';

const defs = defsOf([
  { name: 'hot', conditions: { count: { event: 'product_view', group_by: 'product_id', within: '2h', gt: 2 } } },
  { name: 'seen', conditions: { count: { event: ['product_view', 'add_to_cart'], group_by: 'product_id', within: '30m', gte: 1 } } },
  { name: 'hot_shoes', conditions: { count: { event: 'product_view', group_by: 'properties.colour', where: { category: 'shoes' }, within: '1h', gte: 2 } } },
  { name: 'left', conditions: { absence: { event: 'add_to_cart', not_followed_by: 'purchase', for: '20m', within: '3h' } } },
  { name: 'open', conditions: { absence: { event: 'add_to_cart', not_followed_by: ['purchase', 'checkout_started'], within: '1h' } } },
  { name: 'both', conditions: { all: [{ count: { event: 'product_view', group_by: 'product_id', within: '2h', gt: 2 } }, { not: { absence: { event: 'add_to_cart', not_followed_by: 'purchase', for: '20m', within: '3h' } } }] } },
]);

interface Seen {
  event: BehaviorEvent;
  /** Event time clamped to the clock at arrival. */
  at: number;
}

function within(seen: Seen[], now: number, windowMs: number, test: (event: BehaviorEvent) => boolean): Seen[] {
  return seen.filter((item) => test(item.event) && item.at >= now - windowMs);
}

function someGroup(items: Seen[], field: (event: BehaviorEvent) => string | null, passes: (count: number) => boolean): boolean {
  const counts = new Map<string, number>();
  for (const { event } of items) {
    const value = field(event);
    if (value !== null && value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts.values()].some(passes);
}

function absence(seen: Seen[], now: number, types: string[], cancelling: string[], forMs: number, windowMs: number): boolean {
  const cancelledAt = Math.max(...seen.filter((item) => cancelling.includes(item.event.type)).map((item) => item.at));
  return seen.some((item) => types.includes(item.event.type) && item.at > cancelledAt && item.at >= now - windowMs && item.at <= now - forMs);
}

function reference(seen: Seen[], now: number): string[] {
  const viewed = (event: BehaviorEvent) => event.type === 'product_view';
  const hot = someGroup(within(seen, now, 2 * HOUR, viewed), (event) => event.product_id, (count) => count > 2);
  const left = absence(seen, now, ['add_to_cart'], ['purchase'], 20 * MINUTE, 3 * HOUR);
  const result: Record<string, boolean> = {
    hot,
    seen: someGroup(within(seen, now, 30 * MINUTE, (event) => ['product_view', 'add_to_cart'].includes(event.type)), (event) => event.product_id, (count) => count >= 1),
    hot_shoes: someGroup(within(seen, now, HOUR, (event) => viewed(event) && event.category === 'shoes'), (event) => event.properties.colour ?? null, (count) => count >= 2),
    left,
    open: absence(seen, now, ['add_to_cart'], ['purchase', 'checkout_started'], 0, HOUR),
    both: hot && !left,
  };
  return Object.keys(result).filter((name) => result[name]).sort();
}

describe.each([1, 2, 3, 4, 5, 6])('grouped counts and absence agree with the reference (seed %i)', (seed) => {
  it('after every input and at random moments between inputs', () => {
    const random = seededRandom(seed);
    const simulation = startSimulation();
    const seen: Seen[] = [];
    const types = ['product_view', 'product_view', 'product_view', 'add_to_cart', 'purchase', 'checkout_started', 'page_view'];
    let now = T0 + 7 * HOUR;
    let lastAdd = Number.NEGATIVE_INFINITY;
    let previous: BehaviorEvent | null = null;
    for (let i = 0; i < 600; i++) {
      const before = now;
      now += Math.floor(random() * random() * 90 * MINUTE);
      const between = Math.max(before, now - Math.floor(random() * 10 * MINUTE));
      advanceTo(simulation, defs, between);
      if (simulation.state !== null && simulation.wakeAt !== null) expect(simulation.wakeAt).toBeGreaterThan(between);
      const stored = memberships(simulation.state);
      expect({ i, at: 'between', m: stored }).toEqual({ i, at: 'between', m: seen.length === 0 ? [] : reference(seen, between) });

      let type = types[Math.floor(random() * types.length)];
      if (type === 'add_to_cart' && now - lastAdd < 10 * MINUTE) type = 'page_view';
      const duplicate = previous !== null && type !== 'add_to_cart' && random() < 0.1;
      const lag = type === 'add_to_cart' ? 0 : random() < 0.1 ? -Math.floor(random() * 5 * MINUTE) : Math.floor(random() * random() * 3 * HOUR);
      const product = `p${Math.floor(random() * 4)}`;
      const item: BehaviorEvent = duplicate
        ? (previous as BehaviorEvent)
        : behaviorEvent({
            event_id: `e${i}`,
            customer_id: CUSTOMER,
            type,
            occurred_at: now - lag,
            product_id: type === 'product_view' || type === 'add_to_cart' ? (random() < 0.05 ? null : product) : null,
            category: random() < 0.5 ? 'shoes' : 'hats',
            properties: random() < 0.8 ? { colour: ['red', 'blue', 'green'][Math.floor(random() * 3)] } : {},
          });
      if (type === 'add_to_cart') lastAdd = now;
      if (!duplicate) seen.push({ event: item, at: Math.min(item.occurred_at, now) });
      deliver(simulation, defs, { event: item, now });
      previous = item;
      expect({ i, at: 'after', m: memberships(simulation.state) }).toEqual({ i, at: 'after', m: reference(seen, now) });
    }
    // Both conditions were exercised both ways.
    const entered = new Set(simulation.changes.filter((change) => change.change === 'entered').map((change) => change.segment));
    const exited = new Set(simulation.changes.filter((change) => change.change === 'exited').map((change) => change.segment));
    expect([...entered].sort()).toEqual(['both', 'hot', 'hot_shoes', 'left', 'open', 'seen']);
    expect([...exited].sort()).toEqual(['both', 'hot', 'hot_shoes', 'left', 'open', 'seen']);
  });
});
