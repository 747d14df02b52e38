/**
 * The bounded engine against a brute-force reference that keeps every event: same memberships
 * after every input and at random moments in between (so wakeAt is never late either).
 */
import { memberships } from '../../../../services/core/segments';
import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';
import { deliver, CUSTOMER, DAY, HOUR, T0, advanceTo, defsOf, seededRandom, startSimulation } from './harness';

const defs = defsOf([
  { name: 'c2', conditions: { count: { event: 'purchase', within: '3d', gte: 2 } } },
  { name: 'c0', conditions: { count: { event: 'purchase', within: '3d', eq: 0 } } },
  { name: 'c_lt3', conditions: { count: { event: ['email_open', 'email_click'], within: '36h', lt: 3 } } },
  { name: 'r', conditions: { recency: { event: ['email_open', 'email_click'], within: '2d' } } },
  { name: 'nv', conditions: { never: { event: 'purchase', within: '1d' } } },
  { name: 'ne', conditions: { never: { event: 'email_click' } } },
  { name: 'f', conditions: { first: { event: 'purchase', within: '5d' } } },
  { name: 's', conditions: { sum: { event: 'purchase', within: '5d', gte: 300 } } },
  { name: 'combo', conditions: { all: [{ count: { event: 'purchase', within: '3d', gte: 2 } }, { not: { recency: { event: 'email_open', within: '2d' } } }] } },
  { name: 'either', conditions: { any: [{ never: { event: 'purchase', within: '1d' } }, { sum: { event: 'purchase', within: '5d', gte: 300 } }] } },
]);

interface Seen {
  type: string;
  /** Event time clamped to the clock at arrival. */
  at: number;
  cents: number;
}

function referenceMemberships(seen: Seen[], now: number): string[] {
  const within = (types: string[], windowMs: number) => seen.filter((item) => types.includes(item.type) && item.at >= now - windowMs);
  const purchases = (windowMs: number) => within(['purchase'], windowMs);
  const emails = (windowMs: number) => within(['email_open', 'email_click'], windowMs);
  // Daily buckets: money counts while the last millisecond of its UTC day is inside the window.
  const sum5d = seen
    .filter((item) => item.type === 'purchase' && (Math.floor(item.at / DAY) + 1) * DAY - 1 >= now - 5 * DAY)
    .reduce((total, item) => total + item.cents, 0);
  const firstPurchase = Math.min(...seen.filter((item) => item.type === 'purchase').map((item) => item.at));
  const result: Record<string, boolean> = {
    c2: purchases(3 * DAY).length >= 2,
    c0: purchases(3 * DAY).length === 0,
    c_lt3: emails(36 * HOUR).length < 3,
    r: emails(2 * DAY).length > 0,
    nv: purchases(DAY).length === 0,
    ne: !seen.some((item) => item.type === 'email_click'),
    f: Number.isFinite(firstPurchase) && firstPurchase >= now - 5 * DAY,
    s: sum5d >= 300,
    combo: purchases(3 * DAY).length >= 2 && within(['email_open'], 2 * DAY).length === 0,
    either: purchases(DAY).length === 0 || sum5d >= 300,
  };
  return Object.keys(result)
    .filter((name) => result[name])
    .sort();
}

describe.each([1, 2, 3, 4, 5])('engine agrees with the reference (seed %i)', (seed) => {
  it('after every input and at random moments between inputs', () => {
    const random = seededRandom(seed);
    const simulation = startSimulation();
    const seen: Seen[] = [];
    const types = ['purchase', 'email_open', 'email_click', 'page_view', 'checkout_started'];
    let now = T0 + 7 * HOUR;
    let previous: BehaviorEvent | null = null;
    for (let i = 0; i < 400; i++) {
      now += Math.floor(random() * random() * 2 * DAY);
      // Check a random moment in the gap: every due timer must already have fired.
      const between = now - Math.floor(random() * HOUR);
      advanceTo(simulation, defs, between);
      const stateAtBetween = memberships(simulation.state);
      const emptyBefore = simulation.state === null;
      if (!emptyBefore && simulation.wakeAt !== null) expect(simulation.wakeAt).toBeGreaterThan(between);
      expect({ i, at: 'between', m: emptyBefore ? [] : stateAtBetween }).toEqual({ i, at: 'between', m: membershipsIfChanged(seen, between, stateAtBetween) });

      const duplicate = previous !== null && random() < 0.1;
      const type = types[Math.floor(random() * types.length)];
      const lag = random() < 0.1 ? -Math.floor(random() * HOUR) : Math.floor(random() * random() * 4 * DAY);
      const item: BehaviorEvent = duplicate
        ? (previous as BehaviorEvent)
        : behaviorEvent({ event_id: `e${i}`, customer_id: CUSTOMER, type, occurred_at: now - lag, value_cents: type === 'purchase' ? 50 + Math.floor(random() * 150) : null });
      if (!duplicate) seen.push({ type: item.type, at: Math.min(item.occurred_at, now), cents: item.value_cents ?? 0 });
      deliver(simulation, defs, { event: item, now });
      previous = item;
      expect({ i, at: 'after', m: memberships(simulation.state) }).toEqual({ i, at: 'after', m: referenceMembershipsOrEmpty(seen, now, simulation.state === null) });
    }
  });
});

/** The reference at `now`; an engine that has no state yet has never seen a relevant event. */
function referenceMembershipsOrEmpty(seen: Seen[], now: number, engineEmpty: boolean): string[] {
  const relevant = seen.filter((item) => ['purchase', 'email_open', 'email_click'].includes(item.type));
  if (engineEmpty && relevant.length === 0) return [];
  return referenceMemberships(seen, now);
}

/** Memberships between inputs: the stored ones must match the reference at that moment. */
function membershipsIfChanged(seen: Seen[], at: number, stored: string[]): string[] {
  const relevant = seen.filter((item) => ['purchase', 'email_open', 'email_click'].includes(item.type));
  return relevant.length === 0 ? stored : referenceMemberships(seen, at);
}
