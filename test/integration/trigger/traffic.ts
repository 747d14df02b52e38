/**
 * Synthetic shop traffic for the trigger service's heavy tests: a seeded, reproducible mix of
 * sessions over a few thousand customers and a few hundred products.
 */
import { behaviorEvent, type BehaviorEvent } from '../../../services/core/types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with its seed. */
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
  total: number;
  customers: number;
  products: number;
  seed: number;
  /** Sessions start within [from, to) (event time). */
  from: number;
  to: number;
}

/**
 * About `options.total` events (at least that many), ordered by occurred_at with a few
 * delivered late. Sessions: browsing (page and product views), bursts of views of one product
 * (high_interest crossings), carts (adds, sometimes a removal, then a checkout or purchase, or
 * nothing: abandoned), e-mail engagement, and a few event types the pipeline does not know.
 */
export function shopTraffic(options: TrafficOptions): BehaviorEvent[] {
  const random = seededRandom(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const product = () => `p-${int(options.products)}`;
  const category = (productId: string) => `cat-${Number(productId.slice(2)) % 17}`;
  const events: BehaviorEvent[] = [];
  let n = 0;
  const push = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    events.push(behaviorEvent({ event_id: `ev-${options.seed}-${n++}`, customer_id: customer, type, occurred_at: Math.floor(at), ...fields }));

  while (events.length < options.total) {
    const customer = `cust-${int(options.customers)}`;
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
      // The same product viewed 2..7 times over up to a few hours: 4 or more views cross high_interest.
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
      // A purchase within the 15 minutes cancels; one after them does not (the trigger already fired).
      if (end < 0.2) push(customer, 'checkout_started', step(10 * MINUTE));
      else if (end < 0.45) push(customer, 'purchase', step(random() < 0.7 ? 10 * MINUTE : 40 * MINUTE), { order_id: `o-${n}`, value_cents: 1000 + int(50_000), currency: 'EUR' });
    } else if (kind < 0.98) {
      push(customer, random() < 0.7 ? 'email_open' : 'email_click', step(HOUR), { campaign_id: `camp-${int(5)}`, message_id: `m-${n}` });
    } else {
      push(customer, 'wishlist_add', step(MINUTE), { product_id: product() }); // unknown: counted, ignored
    }
  }
  events.sort((a, b) => a.occurred_at - b.occurred_at);
  // About 1% arrive late: moved up to a few hundred places later in the stream.
  for (let i = events.length - 1; i >= 0; i -= 1) {
    if (random() < 0.01) {
      const to = Math.min(events.length - 1, i + 1 + int(300));
      const [late] = events.splice(i, 1);
      events.splice(to, 0, late);
    }
  }
  return events;
}
