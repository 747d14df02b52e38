/**
 * Seeded synthetic shop traffic for the benchmarks: sessions of browsing, repeated views of one
 * product (high_interest crossings), carts (abandoned or bought), purchases (segments) and email
 * engagement, over a pool of customers. The same seed always gives the same events.
 */
import { behaviorEvent, type BehaviorEvent } from '../services/core/types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** mulberry32: small, fast, and good enough for traffic shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TrafficOptions {
  /** At least this many events are generated (a session is never cut). */
  total: number;
  customers: number;
  products: number;
  seed: number;
  /** Event times fall in [from, to). */
  from: number;
  to: number;
  /** Prefix of customer ids and event ids, so runs never share a customer. */
  run: string;
}

/**
 * Events ordered by occurred_at (the way a collector forwards them), about 1% delivered a few
 * hundred places late. Roughly: 30% browsing sessions, 30% repeated views of one product, 30%
 * carts (a third abandoned), 8% email opens/clicks, 2% an event type Kairos does not know.
 */
export function shopTraffic(options: TrafficOptions): BehaviorEvent[] {
  const random = seededRandom(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const product = () => `p-${int(options.products)}`;
  const category = (productId: string) => `cat-${Number(productId.slice(2)) % 17}`;
  const events: BehaviorEvent[] = [];
  let n = 0;
  const push = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    events.push(
      behaviorEvent({ event_id: `${options.run}-e${n++}`, customer_id: customer, type, occurred_at: Math.floor(Math.min(at, options.to - 1)), ...fields }),
    );

  while (events.length < options.total) {
    const customer = `${options.run}-c${int(options.customers)}`;
    let at = options.from + random() * (options.to - options.from);
    const step = (maxMs: number) => (at += 1000 + random() * maxMs);
    const kind = random();
    if (kind < 0.3) {
      for (let i = 0, views = 2 + int(5); i < views; i += 1) {
        if (random() < 0.4) push(customer, 'page_view', step(2 * MINUTE), { properties: { path: `/c/${int(40)}` } });
        else {
          const p = product();
          push(customer, 'product_view', step(2 * MINUTE), { product_id: p, category: category(p) });
        }
      }
    } else if (kind < 0.6) {
      const p = product();
      for (let i = 0, views = 2 + int(6); i < views; i += 1) push(customer, 'product_view', step(HOUR), { product_id: p, category: category(p) });
    } else if (kind < 0.9) {
      const cart: string[] = [];
      for (let i = 0, adds = 1 + int(3); i < adds; i += 1) {
        const p = product();
        push(customer, 'product_view', step(MINUTE), { product_id: p, category: category(p) });
        push(customer, 'add_to_cart', step(MINUTE), { product_id: p, category: category(p), quantity: 1 + int(3), value_cents: 500 + int(20_000), currency: 'EUR' });
        cart.push(p);
      }
      if (random() < 0.15) push(customer, 'remove_from_cart', step(MINUTE), { product_id: cart[0], quantity: 1 });
      const end = random();
      if (end < 0.2) push(customer, 'checkout_started', step(10 * MINUTE));
      else if (end < 0.65) push(customer, 'purchase', step(random() < 0.7 ? 10 * MINUTE : 40 * MINUTE), { order_id: `o-${n}`, value_cents: 1000 + int(50_000), currency: 'EUR' });
    } else if (kind < 0.98) {
      push(customer, random() < 0.7 ? 'email_open' : 'email_click', step(HOUR), { campaign_id: `camp-${int(5)}`, message_id: `m-${n}` });
    } else {
      push(customer, 'wishlist_add', step(MINUTE), { product_id: product() });
    }
  }
  events.sort((a, b) => a.occurred_at - b.occurred_at);
  for (let i = events.length - 1; i >= 0; i -= 1) {
    if (random() < 0.01) {
      // Moves event i to `to`, shifting only the events in between (splice would copy the whole tail).
      const to = Math.min(events.length - 1, i + 1 + int(300));
      const late = events[i];
      for (let k = i; k < to; k += 1) events[k] = events[k + 1];
      events[to] = late;
    }
  }
  return events;
}

/**
 * Latency probes: a fresh customer's fourth view of one product inside a minute, which fires
 * high_interest at once. Only the fourth view of each probe is timed; `probe(i)` gives the
 * four events of probe i with event times around `at`.
 */
export function highInterestProbe(run: string, i: number, at: number): BehaviorEvent[] {
  const customer = `${run}-probe${i}`;
  return [0, 1, 2, 3].map((view) =>
    behaviorEvent({
      event_id: `${run}-probe${i}-v${view}`,
      customer_id: customer,
      type: 'product_view',
      occurred_at: at - (3 - view) * 1000,
      product_id: `p-${i % 500}`,
      category: 'cat-1',
    }),
  );
}
