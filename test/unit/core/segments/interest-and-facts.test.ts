/**
 * The brief's segments (high_interest, re_engagement) with the shipped definitions, the bounds of
 * grouped counts and absence, and the behavioural facts kept for templates.
 */
import { applyEvent, factsOf, FACT_PURCHASE_CAP, memberships, segmentStateView, serializeSegmentState, type SegmentState } from '../../../../services/core/segments';
import { PURCHASE_AGGREGATE_KEY, PURCHASE_FILTER } from '../../../../services/core/segments/facts';
import { aggregateKey, MAX_GROUPS, planFor } from '../../../../services/core/segments/plan';
import type { BehaviorEvent } from '../../../../services/core/types';
import { advanceTo, deliver, DAY, defsOf, event, HOUR, MINUTE, oneSegment, shippedDefinitions, startSimulation, T0 } from './harness';

const shipped = shippedDefinitions();
const view = (product: string, at: number) => event('product_view', at, { product_id: product, category: 'shoes' });

function run(defs = shipped, arrivals: Array<{ event: BehaviorEvent; now?: number }>, until?: number) {
  const simulation = startSimulation();
  for (const arrival of arrivals) deliver(simulation, defs, { event: arrival.event, now: arrival.now ?? arrival.event.occurred_at });
  if (until !== undefined) advanceTo(simulation, defs, until);
  return simulation;
}

const changesOf = (simulation: ReturnType<typeof startSimulation>, segment: string) =>
  simulation.changes.filter((change) => change.segment === segment).map((change) => [change.change, change.at - T0, change.reason]);

describe('high_interest (shipped): a product viewed more than 3 times within 24 hours', () => {
  it('enters on the 4th view of one product inside 24 h and leaves when that product is back to 3', () => {
    const views = [0, 2, 5, 20].map((hour) => ({ event: view('p1', T0 + hour * HOUR) }));
    const simulation = run(shipped, views, T0 + 3 * DAY);
    expect(changesOf(simulation, 'high_interest')).toEqual([
      ['entered', 20 * HOUR, 'highest product_view count in 24h for one product_id is 4 or more (> 3)'],
      // The first view leaves the window 24 h + 1 ms after it: 3 views remain.
      ['exited', 24 * HOUR + 1, 'highest product_view count in 24h for one product_id is 3 (> 3)'],
    ]);
  });

  it('does not enter on 4 views spread over more than 24 h, nor on 4 views of different products', () => {
    const spread = run(shipped, [0, 8, 16, 24].map((hour) => ({ event: view('p1', T0 + hour * HOUR + (hour === 24 ? 1 : 0)) })));
    expect(changesOf(spread, 'high_interest')).toEqual([]);
    const mixed = run(shipped, ['p1', 'p2', 'p3', 'p4', 'p1', 'p2', 'p3'].map((product, i) => ({ event: view(product, T0 + i * MINUTE) })));
    expect(changesOf(mixed, 'high_interest')).toEqual([]);
  });

  it('stays while another product keeps more than 3 views, and leaves when the last one drops', () => {
    const arrivals = [
      ...[0, 1, 2, 3].map((hour) => ({ event: view('p1', T0 + hour * HOUR) })),
      ...[10, 11, 12, 13].map((hour) => ({ event: view('p2', T0 + hour * HOUR) })),
    ];
    const simulation = run(shipped, arrivals, T0 + 3 * DAY);
    expect(changesOf(simulation, 'high_interest').map(([change, at]) => [change, at])).toEqual([
      ['entered', 3 * HOUR],
      ['exited', 34 * HOUR + 1], // p1 dropped at 24 h + 1 ms, p2 at 34 h + 1 ms
    ]);
  });

  it('ignores views without a product', () => {
    const simulation = run(shipped, [0, 1, 2, 3].map((minute) => ({ event: event('product_view', T0 + minute * MINUTE) })));
    expect(memberships(simulation.state)).toEqual([]);
  });

  it(`keeps at most ${MAX_GROUPS} products, the most recently viewed`, () => {
    const arrivals = Array.from({ length: MAX_GROUPS + 30 }, (_, i) => ({ event: view(`p${i}`, T0 + i * 1000) }));
    const simulation = run(shipped, arrivals);
    const groups = simulation.state?.a.product_view.g?.product_id ?? {};
    expect(Object.keys(groups)).toHaveLength(MAX_GROUPS);
    expect(groups[`p${MAX_GROUPS + 29}`]).toEqual([T0 + (MAX_GROUPS + 29) * 1000]);
    expect(groups.p0).toBeUndefined();
  });

  it('keeps each product\'s newest views up to the cap inside 24 h; a product whose views all left goes, the others keep their order', () => {
    const cap = planFor(shipped).aggregates.get('product_view')!.groups.get('product_id')!.cap;
    const tenViews = Array.from({ length: 10 }, (_, minute) => ({ event: view('p1', T0 + minute * MINUTE) }));
    const simulation = run(shipped, [...tenViews, { event: view('p2', T0 + HOUR) }, { event: view('p3', T0 + 2 * HOUR) }]);
    const groupsNow = () => simulation.state?.a.product_view.g?.product_id ?? {};
    expect(groupsNow().p1).toEqual(Array.from({ length: cap }, (_, i) => T0 + (10 - cap + i) * MINUTE));
    // 25 h on, p1's views are all older than 24 h; p2's, at exactly 24 h, is still inside.
    deliver(simulation, shipped, { event: view('p3', T0 + 25 * HOUR), now: T0 + 25 * HOUR });
    expect(Object.keys(groupsNow())).toEqual(['p2', 'p3']);
    expect(groupsNow().p3).toEqual([T0 + 2 * HOUR, T0 + 25 * HOUR]);
  });

  it('stores a long group value as a hash, still one group per value', () => {
    const long = 'x'.repeat(100);
    const simulation = run(shipped, [0, 1, 2, 3].map((minute) => ({ event: view(long, T0 + minute * MINUTE) })));
    expect(memberships(simulation.state)).toEqual(['high_interest']);
    const keys = Object.keys(simulation.state?.a.product_view.g?.product_id ?? {});
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^#[A-Za-z0-9_-]{22}$/);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('counts views of a product whose id is %s like any other (no Object.prototype member is met)', (product) => {
    const simulation = run(shipped, [0, 1, 2, 3].map((minute) => ({ event: view(product, T0 + minute * MINUTE) })));
    expect(memberships(simulation.state)).toEqual(['high_interest']);
    const groups = simulation.state?.a.product_view.g?.product_id ?? {};
    // A data-keyed map (dataKeyed): no prototype, and no key became one.
    expect(Object.getPrototypeOf(groups)).toBeNull();
    expect(Object.values(groups).map((times) => times.length)).toEqual([4]);
    // And the state survives its stored form.
    expect(segmentStateView(serializeSegmentState(simulation.state as SegmentState), T0 + 10 * MINUTE).segments).toEqual(['high_interest']);
  });
});

describe('re_engagement (shipped): a cart left 15 minutes without a purchase', () => {
  const add = (at: number, product = 'p1') => ({ event: event('add_to_cart', at, { product_id: product }), now: at });
  const buy = (at: number) => ({ event: event('purchase', at, { order_id: 'o1', value_cents: 1000 }), now: at });

  it('enters 15 minutes after the add (by the timer) and leaves on the purchase', () => {
    const simulation = startSimulation();
    deliver(simulation, shipped, add(T0));
    expect(memberships(simulation.state)).toEqual([]);
    expect(simulation.wakeAt).toBe(T0 + 15 * MINUTE);
    deliver(simulation, shipped, buy(T0 + HOUR));
    expect(changesOf(simulation, 're_engagement')).toEqual([
      ['entered', 15 * MINUTE, 'add_to_cart 15m ago with no purchase since (within 30d)'],
      ['exited', HOUR, 'no add_to_cart without a purchase since, within 30d'],
    ]);
  });

  it('never enters when the purchase comes within the 15 minutes; a checkout alone does not stop it', () => {
    expect(changesOf(run(shipped, [add(T0), buy(T0 + 10 * MINUTE)], T0 + DAY), 're_engagement')).toEqual([]);
    const checkout = run(shipped, [add(T0), { event: event('checkout_started', T0 + 5 * MINUTE) }], T0 + DAY);
    expect(changesOf(checkout, 're_engagement').map(([change, at]) => [change, at])).toEqual([['entered', 15 * MINUTE]]);
  });

  it('counts from the first add of the cart, and a new add after a purchase starts again', () => {
    const simulation = run(shipped, [add(T0), add(T0 + 10 * MINUTE, 'p2'), buy(T0 + 2 * HOUR), add(T0 + 3 * HOUR)], T0 + 4 * HOUR);
    expect(changesOf(simulation, 're_engagement').map(([change, at]) => [change, at])).toEqual([
      ['entered', 15 * MINUTE],
      ['exited', 2 * HOUR],
      ['entered', 3 * HOUR + 15 * MINUTE],
    ]);
  });

  it('leaves 30 days after the last add with no purchase', () => {
    const simulation = run(shipped, [add(T0), add(T0 + DAY)], T0 + 40 * DAY);
    expect(changesOf(simulation, 're_engagement').map(([change, at]) => [change, at])).toEqual([
      ['entered', 15 * MINUTE],
      ['exited', DAY + 30 * DAY + 1],
    ]);
  });

  it('keeps its witness through a burst of adds younger than `for`', () => {
    const simulation = run(shipped, [add(T0), ...[1, 2, 3, 4, 5, 6].map((minute) => add(T0 + HOUR + minute * MINUTE, `p${minute}`))]);
    expect(simulation.state?.a.add_to_cart.t).toEqual([T0, ...[3, 4, 5, 6].map((minute) => T0 + HOUR + minute * MINUTE)]);
    expect(changesOf(simulation, 're_engagement').map(([change]) => change)).toEqual(['entered']);
    expect(memberships(simulation.state)).toContain('re_engagement');
  });

  it('an absence without `for` holds from the event itself', () => {
    const defs = oneSegment({ absence: { event: 'add_to_cart', not_followed_by: 'purchase', within: '1h' } });
    const simulation = run(defs, [add(T0)], T0 + 2 * HOUR);
    expect(changesOf(simulation, 's').map(([change, at]) => [change, at])).toEqual([
      ['entered', 0],
      ['exited', HOUR + 1],
    ]);
  });
});

describe('facts', () => {
  const noSegments = defsOf([{ name: 'never_used', conditions: { recency: { event: 'email_click', within: '1d' } } }]);
  const stateAfter = (events: Array<{ event: BehaviorEvent; now?: number }>, defs = noSegments) => run(defs, events).state as SegmentState;

  it('keep the last purchase, its product and time, and the last viewed product, whatever the segments', () => {
    const state = stateAfter([
      { event: event('product_view', T0, { product_id: 'p1' }) },
      { event: event('purchase', T0 + HOUR, { product_id: 'p9', order_id: 'o1' }) },
      { event: event('product_view', T0 + 2 * HOUR, { product_id: 'p2' }) },
    ]);
    expect(factsOf(state, T0 + 3 * HOUR)).toEqual({
      lastPurchase: { at: T0 + HOUR, productId: 'p9' },
      lastViewed: { at: T0 + 2 * HOUR, productId: 'p2' },
      purchases30d: 1,
      purchases90d: 1,
    });
  });

  it('take the product last added to the cart for a purchase that names none', () => {
    const bought = stateAfter([
      { event: event('add_to_cart', T0, { product_id: 'p1' }) },
      { event: event('add_to_cart', T0 + MINUTE, { product_id: 'p2' }) },
      { event: event('purchase', T0 + 2 * MINUTE, { order_id: 'o1' }) },
    ]);
    expect(factsOf(bought, T0 + HOUR).lastPurchase).toEqual({ at: T0 + 2 * MINUTE, productId: 'p2' });
    expect(bought.x?.c).toBeUndefined(); // the purchase emptied the cart

    const removed = stateAfter([
      { event: event('add_to_cart', T0, { product_id: 'p1' }) },
      { event: event('remove_from_cart', T0 + MINUTE, { product_id: 'p1' }) },
      { event: event('purchase', T0 + 2 * MINUTE, { order_id: 'o1' }) },
    ]);
    expect(factsOf(removed, T0 + HOUR).lastPurchase).toEqual({ at: T0 + 2 * MINUTE, productId: null });
  });

  it('go when the last of them goes, and leave no empty facts behind', () => {
    // A cart added and removed again: nothing else was kept, so the state goes.
    expect(
      run(noSegments, [{ event: event('add_to_cart', T0, { product_id: 'p1' }) }, { event: event('remove_from_cart', T0 + MINUTE, { product_id: 'p1' }) }]).state,
    ).toBeNull();
    const viewed = stateAfter([
      { event: event('product_view', T0, { product_id: 'p0' }) },
      { event: event('add_to_cart', T0 + MINUTE, { product_id: 'p1' }) },
      { event: event('remove_from_cart', T0 + 2 * MINUTE, { product_id: 'p1' }) },
    ]);
    expect(viewed.x).toStrictEqual({ v: [T0, 'p0'] });
  });

  it('are not replaced by a late event older than them', () => {
    const state = stateAfter([
      { event: event('product_view', T0 + HOUR, { product_id: 'new' }) },
      { event: event('product_view', T0, { product_id: 'old' }), now: T0 + 2 * HOUR },
      { event: event('purchase', T0 + HOUR, { product_id: 'bought-new' }) },
      { event: event('purchase', T0, { product_id: 'bought-old' }), now: T0 + 2 * HOUR },
    ]);
    expect(factsOf(state, T0 + 3 * HOUR)).toMatchObject({
      lastViewed: { productId: 'new' },
      lastPurchase: { productId: 'bought-new' },
      purchases30d: 2,
    });
  });

  it('count purchases in 30 and 90 days at the reader’s clock, up to the cap', () => {
    const purchases = Array.from({ length: FACT_PURCHASE_CAP + 5 }, (_, i) => ({ event: event('purchase', T0 + i * HOUR, { order_id: `o${i}` }) }));
    const state = stateAfter(purchases);
    expect(factsOf(state, T0 + DAY)).toMatchObject({ purchases30d: FACT_PURCHASE_CAP, purchases90d: FACT_PURCHASE_CAP });
    const few = stateAfter([{ event: event('purchase', T0) }, { event: event('purchase', T0 + 40 * DAY) }]);
    expect(factsOf(few, T0 + 41 * DAY)).toMatchObject({ purchases30d: 1, purchases90d: 2 });
    expect(factsOf(few, T0 + 30 * DAY + 40 * DAY)).toMatchObject({ purchases30d: 1 }); // exactly 30 d old still counts
    expect(factsOf(few, T0 + 30 * DAY + 40 * DAY + 1)).toMatchObject({ purchases30d: 0, purchases90d: 2 });
    expect(factsOf(few, T0 + 90 * DAY + 1)).toMatchObject({ purchases30d: 0, purchases90d: 1 });
  });

  it('make fact events relevant, and a view without a product still irrelevant', () => {
    expect(applyEvent(null, event('product_view', T0), noSegments, T0).ignored).toBe('irrelevant');
    expect(applyEvent(null, event('remove_from_cart', T0, { product_id: 'p1' }), noSegments, T0).ignored).toBe('irrelevant');
    expect(applyEvent(null, event('product_view', T0, { product_id: 'p1' }), noSegments, T0).state?.x).toEqual({ v: [T0, 'p1'] });
  });

  it('share the plain purchase aggregate with the segments', () => {
    expect(aggregateKey(PURCHASE_FILTER)).toBe(PURCHASE_AGGREGATE_KEY);
  });

  it('reach other services through the segment state view', () => {
    const state = stateAfter([{ event: event('purchase', T0, { product_id: 'p9', order_id: 'o1', value_cents: 100 }) }, { event: event('email_open', T0) }], shipped);
    expect(segmentStateView(serializeSegmentState(state), T0 + HOUR)).toEqual({
      segments: ['engaged', 'new_customer'],
      facts: { lastPurchase: { at: T0, productId: 'p9' }, lastViewed: null, purchases30d: 1, purchases90d: 1 },
    });
  });
});
