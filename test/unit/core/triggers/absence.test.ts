import { triggerId } from '../../../../services/core/ids';
import { fireTimer, timerIdFor } from '../../../../services/core/triggers';
import { Customer, CUSTOMER, Events, MINUTE, rulesFrom, seedRules, T0 } from './harness';

const TIMER = timerIdFor(CUSTOMER, 'cart_abandoned');

describe('cart_abandoned (add_to_cart not followed by purchase or checkout_started within 15m)', () => {
  it('sets a timer at add + 15 min and fires through fireTimer then, once', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    const add = e.add('p1', 0);
    const result = customer.apply(add, T0 + 2_000);
    expect(result.triggers).toEqual([]);
    expect(result.timers).toEqual({ set: [{ id: TIMER, dueAt: T0 + 15 * MINUTE }], cancel: [] });

    expect(customer.fireDue(T0 + 15 * MINUTE - 1)).toEqual([]);
    expect(customer.fireDue(T0 + 15 * MINUTE + 300)).toEqual([
      {
        trigger_id: triggerId('cart_abandoned', CUSTOMER, add.event_id),
        rule: 'cart_abandoned',
        customer_id: CUSTOMER,
        fired_at: T0 + 15 * MINUTE + 300,
        cause_event_id: add.event_id,
        context: { within: '15m', product_id: 'p1', cart_product_ids: 'p1' },
      },
    ]);
    expect(customer.timers.size).toBe(0);
    // A poller that lost the removal and fires again gets nothing.
    const again = fireTimer(customer.state(), TIMER, customer.rules, T0 + 16 * MINUTE);
    expect(again.triggers).toEqual([]);
    expect(again.changed).toBe(false);
    expect(customer.outbox).toHaveLength(1);
  });

  it.each(['purchase', 'checkout_started'])('does not fire when a %s comes in between', (type) => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0));
    const cancelling = customer.apply(e.of(type, 5 * MINUTE));
    expect(cancelling.timers).toEqual({ set: [], cancel: [TIMER] });
    expect(customer.fireDue(T0 + 60 * MINUTE)).toEqual([]);
    // Even a stale timer entry fired directly is a no-op.
    expect(fireTimer(customer.state(), TIMER, customer.rules, T0 + 60 * MINUTE).triggers).toEqual([]);
  });

  it('is not cancelled by a purchase that happened before the add (delivered late)', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 10 * MINUTE));
    customer.apply(e.of('purchase', 5 * MINUTE), T0 + 11 * MINUTE);
    expect(customer.fireDue(T0 + 25 * MINUTE).map((t) => t.cause_event_id)).toEqual(['e1']);
  });

  it('restart: a second add restarts the wait and the trigger names the second add and the whole cart', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0));
    const second = customer.apply(e.add('p2', 10 * MINUTE));
    expect(second.timers.set).toEqual([{ id: TIMER, dueAt: T0 + 25 * MINUTE }]);

    // The old due time comes around: the engine puts the timer back at its new time.
    const early = fireTimer(customer.state(), TIMER, customer.rules, T0 + 15 * MINUTE);
    expect(early.triggers).toEqual([]);
    expect(early.timers).toEqual({ set: [{ id: TIMER, dueAt: T0 + 25 * MINUTE }], cancel: [] });

    const fired = customer.fireDue(T0 + 25 * MINUTE);
    expect(fired.map((t) => [t.cause_event_id, t.context])).toEqual([
      ['e2', { within: '15m', product_id: 'p2', cart_product_ids: 'p1,p2' }],
    ]);
  });

  it('restart: an older add delivered late does not move the timer back', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 10 * MINUTE));
    const late = customer.apply(e.add('p2', 5 * MINUTE), T0 + 11 * MINUTE);
    expect(late.timers).toEqual({ set: [], cancel: [] });
    expect(customer.fireDue(T0 + 24 * MINUTE)).toEqual([]);
    expect(customer.fireDue(T0 + 25 * MINUTE).map((t) => t.cause_event_id)).toEqual(['e1']);
  });

  it('keep: a second add leaves the first timer', () => {
    const rules = rulesFrom(`
rules:
  - name: cart_abandoned
    kind: absence
    event: add_to_cart
    not_followed_by: [purchase, checkout_started]
    within: 15m
    on_repeat: keep
    context: cart
`);
    const e = new Events();
    const customer = new Customer(rules);
    customer.apply(e.add('p1', 0));
    expect(customer.apply(e.add('p2', 10 * MINUTE)).timers).toEqual({ set: [], cancel: [] });
    const fired = customer.fireDue(T0 + 15 * MINUTE);
    // The arming add's product, which the cart still holds: one product, described consistently.
    expect(fired.map((t) => [t.cause_event_id, t.context])).toEqual([
      ['e1', { within: '15m', product_id: 'p1', cart_product_ids: 'p1,p2' }],
    ]);
    expect(customer.fireDue(T0 + 25 * MINUTE)).toEqual([]);
  });

  it('never fires while an add is applied, however late it arrives: the timer is due at add + 15 min, in event time', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    const result = customer.apply(e.add('p1', 0), T0 + 20 * MINUTE);
    expect(result.triggers).toEqual([]);
    expect(result.timers).toEqual({ set: [{ id: TIMER, dueAt: T0 + 15 * MINUTE }], cancel: [] });
    // The adapter fires it once the log has been read past its due time (or is caught up).
    expect(customer.fireDue(T0 + 20 * MINUTE).map((t) => [t.cause_event_id, t.fired_at])).toEqual([['e1', T0 + 20 * MINUTE]]);
  });

  it('a purchase further down the log cancels a late add before its timer is judged', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0), T0 + 40 * MINUTE);
    customer.apply(e.of('purchase', 5 * MINUTE), T0 + 40 * MINUTE);
    expect(customer.timers.size).toBe(0);
    expect(customer.fireDue(T0 + 40 * MINUTE)).toEqual([]);
  });

  it('does not arm a late add when a purchase at or after it was already seen', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.of('purchase', 10 * MINUTE), T0 + 19 * MINUTE);
    const result = customer.apply(e.add('p1', 0), T0 + 20 * MINUTE);
    expect(result.triggers).toEqual([]);
    expect(result.timers).toEqual({ set: [], cancel: [] });
    // Nor an add at the same time as the purchase.
    expect(customer.apply(e.add('p2', 10 * MINUTE), T0 + 20 * MINUTE).timers.set).toEqual([]);
  });

  it('arms a late add when the purchase seen was before it', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.of('purchase', 0), T0 + 19 * MINUTE);
    expect(customer.apply(e.add('p1', 1 * MINUTE), T0 + 20 * MINUTE).timers.set).toEqual([{ id: TIMER, dueAt: T0 + 16 * MINUTE }]);
    expect(customer.fireDue(T0 + 20 * MINUTE)).toHaveLength(1);
  });

  it('an emptied cart cancels the wait; a cart with something left reports what is left, without the removed one\'s category', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.of('add_to_cart', 0, { product_id: 'p1', category: 'shoes' }));
    customer.apply(e.of('remove_from_cart', 1 * MINUTE, { product_id: 'p1' }));
    expect(customer.timers.size).toBe(0);
    expect(customer.fireDue(T0 + 60 * MINUTE)).toEqual([]);

    customer.apply(e.of('add_to_cart', 70 * MINUTE, { product_id: 'p2', category: 'bags' }));
    customer.apply(e.of('add_to_cart', 71 * MINUTE, { product_id: 'p3', category: 'hats' }));
    customer.apply(e.of('remove_from_cart', 72 * MINUTE, { product_id: 'p3' }));
    const fired = customer.fireDue(T0 + 90 * MINUTE);
    expect(fired.map((t) => t.context)).toEqual([{ within: '15m', product_id: 'p2', cart_product_ids: 'p2' }]);
  });

  it('the arming product and its category go together', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.of('add_to_cart', 0, { product_id: 'p1', category: 'shoes' }));
    expect(customer.fireDue(T0 + 15 * MINUTE).map((t) => t.context)).toEqual([
      { within: '15m', product_id: 'p1', category: 'shoes', cart_product_ids: 'p1' },
    ]);
  });

  it('arms again after a firing', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0));
    customer.fireDue(T0 + 15 * MINUTE);
    customer.apply(e.add('p2', 30 * MINUTE));
    expect(customer.fireDue(T0 + 45 * MINUTE).map((t) => t.cause_event_id)).toEqual(['e2']);
  });
});

describe('fireTimer no-ops', () => {
  it('yields nothing and cancels for no state, an unknown rule, a threshold rule or a malformed id', () => {
    const rules = seedRules();
    for (const id of [TIMER, timerIdFor(CUSTOMER, 'gone'), timerIdFor(CUSTOMER, 'high_interest'), 'no-separator']) {
      const result = fireTimer(null, id, rules, T0);
      expect(result.triggers).toEqual([]);
      expect(result.timers).toEqual({ set: [], cancel: [id] });
      expect(result.changed).toBe(false);
    }
  });
});

describe('cart context', () => {
  it('tracks adds and removes and reports the last added product still in the cart', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0));
    customer.apply(e.add('p2', 1 * MINUTE));
    customer.apply(e.add('p3', 2 * MINUTE));
    customer.apply(e.of('remove_from_cart', 3 * MINUTE, { product_id: 'p3' }));
    customer.apply(e.add('p1', 4 * MINUTE)); // again: moves to the end, not listed twice
    customer.apply(e.of('remove_from_cart', 5 * MINUTE, { product_id: 'p1' }));
    const [fired] = customer.fireDue(T0 + 60 * MINUTE);
    expect(fired?.context).toEqual({ within: '15m', product_id: 'p2', cart_product_ids: 'p2' });
  });

  it('keeps the last 20 products and starts empty after a purchase', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    for (let i = 1; i <= 25; i += 1) customer.apply(e.add(`p${i}`, i));
    const [first] = customer.fireDue(T0 + 60 * MINUTE);
    expect(first?.context['cart_product_ids']).toBe(Array.from({ length: 20 }, (_, i) => `p${i + 6}`).join(','));

    customer.apply(e.of('purchase', 61 * MINUTE));
    customer.apply(e.add('q1', 62 * MINUTE));
    const [second] = customer.fireDue(T0 + 120 * MINUTE);
    expect(second?.context).toEqual({ within: '15m', product_id: 'q1', cart_product_ids: 'q1' });
  });

  it('puts no cart into rules without context: cart', () => {
    const rules = rulesFrom(`
rules:
  - name: browse_abandoned
    kind: absence
    event: product_view
    not_followed_by: add_to_cart
    within: 1h
`);
    const e = new Events();
    const customer = new Customer(rules);
    customer.apply(e.view('p9', 0));
    const [fired] = customer.fireDue(T0 + 60 * MINUTE);
    expect(fired?.context).toEqual({ within: '1h', product_id: 'p9', category: 'shoes' });
    expect(customer.state()!.cart).toBeNull();
  });
});
