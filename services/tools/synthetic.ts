/**
 * A synthetic shop: seeded, reproducible customers and a day of their behaviour, for the demo
 * (and anyone who wants realistic test traffic). Names and addresses are invented; addresses
 * use the reserved example.com domain.
 */
import { behaviorEvent, customerProfile, type BehaviorEvent, type CustomerProfile } from '../core/types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** mulberry32: small, fast and good enough for traffic; the seed makes a run repeatable. */
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

const FIRST_NAMES = ['Ada', 'Bruno', 'Chloé', 'Dmitri', 'Elif', 'Farah', 'Giulia', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Lars', 'Maya', 'Nils', 'Olga', 'Priya'];
const LAST_NAMES = ['Novak', 'Schmidt', 'Moreau', 'Rossi', 'Tanaka', 'García', 'Okafor', 'Larsen', 'Kowalski', 'Silva'];
const PLACES: Array<{ locale: string; timezone: string; country: string; currency: string }> = [
  { locale: 'en-US', timezone: 'America/New_York', country: 'US', currency: 'USD' },
  { locale: 'en-GB', timezone: 'Europe/London', country: 'GB', currency: 'GBP' },
  { locale: 'de-DE', timezone: 'Europe/Berlin', country: 'DE', currency: 'EUR' },
  { locale: 'fr-FR', timezone: 'Europe/Paris', country: 'FR', currency: 'EUR' },
  { locale: 'ja-JP', timezone: 'Asia/Tokyo', country: 'JP', currency: 'JPY' },
];
const CATEGORIES = ['shoes', 'jackets', 'bags', 'watches', 'scarves', 'hats'];

export interface SyntheticShop {
  profiles: CustomerProfile[];
  /** Ordered by occurred_at. */
  events: BehaviorEvent[];
}

/**
 * `customers` profiles and about `events` events over the day before `now`. Some customers are
 * regulars with several purchases and email opens in the weeks before (so segments like
 * frequent_buyer and engaged fill), most just browse; carts are left or bought; a few product
 * pages are viewed over and over (high interest); a few customers never gave consent or have
 * no address.
 */
export function syntheticShop(options: { customers: number; events: number; now: number; seed: number }): SyntheticShop {
  const random = seededRandom(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const profiles: CustomerProfile[] = [];
  for (let i = 0; i < options.customers; i += 1) {
    const place = pick(PLACES);
    const first = pick(FIRST_NAMES);
    const last = pick(LAST_NAMES);
    const noEmail = random() < 0.02;
    profiles.push(
      customerProfile({
        customer_id: `c-${String(i).padStart(5, '0')}`,
        email: noEmail ? null : `${first.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}.${i}@example.com`,
        first_name: random() < 0.9 ? first : null,
        last_name: last,
        locale: place.locale,
        timezone: place.timezone,
        country: place.country,
        consent_email: random() < 0.93,
        attributes: { tier: random() < 0.15 ? 'gold' : 'standard' },
        updated_at: options.now - DAY - int(30) * DAY,
      }),
    );
  }
  const currencyOf = new Map(profiles.map((p) => [p.customer_id, PLACES.find((pl) => pl.country === p.country)?.currency ?? 'EUR']));
  const events: BehaviorEvent[] = [];
  let n = 0;
  const push = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    events.push(behaviorEvent({ event_id: `demo-${options.seed}-${n++}`, customer_id: customer, type, occurred_at: Math.floor(at), ...fields }));
  const product = () => {
    const id = int(120);
    return { product_id: `sku-${String(id).padStart(3, '0')}`, category: CATEGORIES[id % CATEGORIES.length] };
  };

  // Regulars: a history of purchases and opens over the last weeks.
  for (const profile of profiles.filter(() => random() < 0.2)) {
    const c = profile.customer_id;
    for (let k = 0, buys = 1 + int(4); k < buys; k += 1) {
      push(c, 'purchase', options.now - DAY - int(80) * DAY - int(DAY), { ...product(), order_id: `o-${n}`, value_cents: 2000 + int(30000), currency: currencyOf.get(c) });
    }
    if (random() < 0.7) push(c, 'email_open', options.now - DAY - int(20) * DAY, { campaign_id: 'newsletter', message_id: `nl-${n}` });
  }

  // The day itself.
  while (events.length < options.events) {
    const c = pick(profiles).customer_id;
    let at = options.now - DAY + random() * (DAY - 20 * MINUTE);
    const step = (maxMs: number) => (at += 2000 + random() * maxMs);
    const kind = random();
    if (kind < 0.4) {
      for (let i = 0, views = 2 + int(6); i < views; i += 1) {
        if (random() < 0.3) push(c, 'page_view', step(2 * MINUTE), { properties: { path: `/c/${pick(CATEGORIES)}` } });
        else push(c, 'product_view', step(2 * MINUTE), product());
      }
    } else if (kind < 0.55) {
      const p = product(); // keeps coming back to one product
      for (let i = 0, views = 2 + int(5); i < views; i += 1) push(c, 'product_view', step(2 * HOUR), p);
    } else if (kind < 0.85) {
      const cart = [product(), ...(random() < 0.4 ? [product()] : [])];
      for (const p of cart) {
        push(c, 'product_view', step(MINUTE), p);
        push(c, 'add_to_cart', step(MINUTE), { ...p, quantity: 1, value_cents: 1500 + int(15000), currency: currencyOf.get(c) });
      }
      const end = random();
      if (end < 0.25) push(c, 'checkout_started', step(5 * MINUTE));
      if (end < 0.5) push(c, 'purchase', step(8 * MINUTE), { order_id: `o-${n}`, value_cents: 3000 + int(30000), currency: currencyOf.get(c) });
    } else if (kind < 0.97) {
      push(c, random() < 0.75 ? 'email_open' : 'email_click', step(HOUR), { campaign_id: 'newsletter', message_id: `nl-${n}` });
    } else {
      push(c, 'wishlist_add', step(MINUTE), product()); // a type Kairos does not know: counted, ignored
    }
  }
  events.sort((a, b) => a.occurred_at - b.occurred_at);
  return { profiles, events };
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
  /** Prefix of customer ids and event ids, so runs never share a customer (default s<seed>). */
  run?: string;
}

/**
 * Shop traffic for tests and benchmarks, about `total` events (a session is never cut), ordered
 * by occurred_at (the way a collector forwards them), about 1% delivered a few
 * hundred places late. Roughly: 30% browsing sessions, 30% repeated views of one product, 30%
 * carts (a third abandoned), 8% email opens/clicks, 2% an event type Kairos does not know.
 */
export function shopTraffic(options: TrafficOptions): BehaviorEvent[] {
  const random = seededRandom(options.seed);
  const run = options.run ?? `s${options.seed}`;
  const int = (n: number) => Math.floor(random() * n);
  const product = () => `p-${int(options.products)}`;
  const category = (productId: string) => `cat-${Number(productId.slice(2)) % 17}`;
  const events: BehaviorEvent[] = [];
  let n = 0;
  const push = (customer: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    events.push(
      behaviorEvent({ event_id: `${run}-e${n++}`, customer_id: customer, type, occurred_at: Math.floor(Math.min(at, options.to - 1)), ...fields }),
    );

  while (events.length < options.total) {
    const customer = `${run}-c${int(options.customers)}`;
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
