import { triggerId } from '../../../../services/core/ids';
import type { BehaviorEvent } from '../../../../services/core/types';
import { causeIds, Customer, CUSTOMER, Events, HOUR, MINUTE, rulesFrom, seedRules, T0 } from './harness';

/** Applies the events in order to a fresh customer under the seed rules; returns the customer. */
function run(events: BehaviorEvent[], rules = seedRules()): Customer {
  const customer = new Customer(rules);
  for (const event of events) customer.apply(event);
  return customer;
}

describe('high_interest (product_view by product_id, greater_than 3 within 24h)', () => {
  it('fires on the 4th view inside 24 h and not on the 3rd', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    for (const offset of [0, 1 * HOUR, 2 * HOUR]) {
      expect(customer.apply(e.view('p1', offset)).triggers).toEqual([]);
    }
    const fourth = e.view('p1', 3 * HOUR);
    const result = customer.apply(fourth, T0 + 3 * HOUR + 5_000);
    expect(result.triggers).toEqual([
      {
        trigger_id: triggerId('high_interest', CUSTOMER, fourth.event_id),
        rule: 'high_interest',
        customer_id: CUSTOMER,
        fired_at: T0 + 3 * HOUR + 5_000,
        cause_event_id: fourth.event_id,
        context: { count: '4', window: '24h', product_id: 'p1', category: 'shoes' },
      },
    ]);
  });

  it('counts a 4th view exactly 24 h after the 1st as inside the window', () => {
    const e = new Events();
    const customer = run([e.view('p1', 0), e.view('p1', 8 * HOUR), e.view('p1', 16 * HOUR), e.view('p1', 24 * HOUR)]);
    expect(causeIds(customer.outbox)).toEqual(['e4']);
  });

  it('does not fire on a 4th view spread over 24 h + 1 ms', () => {
    const e = new Events();
    const customer = run([
      e.view('p1', 0),
      e.view('p1', 8 * HOUR),
      e.view('p1', 16 * HOUR),
      e.view('p1', 24 * HOUR + 1),
    ]);
    expect(customer.outbox).toEqual([]);
  });

  it('fires once per crossing, not on the 5th and 6th view', () => {
    const e = new Events();
    const views = [0, 1, 2, 3, 4, 5].map((hours) => e.view('p1', hours * HOUR));
    expect(causeIds(run(views).outbox)).toEqual(['e4']);
  });

  it('fires again after the count fell back (time passed) and rose again', () => {
    const e = new Events();
    const customer = run([
      ...[0, 1, 2, 3].map((hours) => e.view('p1', hours * HOUR)), // e1..e4: fires on e4
      e.view('p1', 30 * HOUR), // e5: count 1, re-armed
      e.view('p1', 31 * HOUR),
      e.view('p1', 32 * HOUR),
      e.view('p1', 33 * HOUR), // e8: 4th view inside [9h, 33h]
    ]);
    expect(causeIds(customer.outbox)).toEqual(['e4', 'e8']);
  });

  it('re-arms when the oldest view slides out, so the count fell to 3 just before the next view', () => {
    const e = new Events();
    // After e4 the window at 25h is [1h, 25h]: e1 left it (count 3) before e5 made it 4 again.
    const customer = run([...[0, 1, 2, 3].map((hours) => e.view('p1', hours * HOUR)), e.view('p1', 25 * HOUR)]);
    expect(causeIds(customer.outbox)).toEqual(['e4', 'e5']);
  });

  it('does not re-arm while the count stays above 3', () => {
    const e = new Events();
    // At 23h the window [-1h, 23h] still holds e1..e4.
    const customer = run([...[0, 1, 2, 3].map((hours) => e.view('p1', hours * HOUR)), e.view('p1', 23 * HOUR)]);
    expect(causeIds(customer.outbox)).toEqual(['e4']);
  });

  it('counts each product separately and reports the product', () => {
    const e = new Events();
    const customer = run([
      e.view('p1', 0),
      e.view('p2', 1 * MINUTE),
      e.view('p1', 2 * MINUTE),
      e.view('p2', 3 * MINUTE),
      e.view('p1', 4 * MINUTE),
      e.view('p2', 5 * MINUTE),
      e.view('p1', 6 * MINUTE), // e7: 4th view of p1
      e.view('p3', 7 * MINUTE),
      e.view('p2', 8 * MINUTE), // e9: 4th view of p2
    ]);
    expect(causeIds(customer.outbox)).toEqual(['e7', 'e9']);
    expect(customer.outbox.map((trigger) => trigger.context['product_id'])).toEqual(['p1', 'p2']);
  });

  it('ignores views without a product_id', () => {
    const e = new Events();
    const customer = run([0, 1, 2, 3, 4].map((minutes) => e.view(null, minutes * MINUTE)));
    expect(customer.outbox).toEqual([]);
    expect(customer.stored).toBeNull(); // nothing the rules use, so nothing to store
  });
});

describe('out-of-order and late views', () => {
  const permutations = (items: number[]): number[][] =>
    items.length <= 1
      ? [items]
      : items.flatMap((item, index) =>
          permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
        );

  it('fires exactly once, on the 4th arrival, in every arrival order of 4 views within 24 h', () => {
    for (const order of permutations([0, 5, 10, 23])) {
      const e = new Events();
      const views = order.map((hours) => e.view('p1', hours * HOUR));
      expect(causeIds(run(views).outbox)).toEqual(['e4']);
    }
  });

  it('lets a late view inside the current window complete it', () => {
    const e = new Events();
    // Window at 25h is [1h, 25h]: 1h, 2h, 25h, and the late 3h make four.
    const customer = run([e.view('p1', 1 * HOUR), e.view('p1', 2 * HOUR), e.view('p1', 25 * HOUR), e.view('p1', 3 * HOUR)]);
    expect(causeIds(customer.outbox)).toEqual(['e4']);
  });

  it('does not count a view that is before the current window (more than 24 h older than the newest)', () => {
    const e = new Events();
    // 1h, 2h, 3h and 4h would be four views within 24 h, but 4h arrives after 30h:
    // it is older than 30h - 24h and can no longer share a window with the newest view.
    const customer = run([
      e.view('p1', 1 * HOUR),
      e.view('p1', 2 * HOUR),
      e.view('p1', 3 * HOUR),
      e.view('p1', 30 * HOUR),
      e.view('p1', 4 * HOUR),
    ]);
    expect(customer.outbox).toEqual([]);
  });

  it('uses the newest view of any product as the lateness reference', () => {
    const e = new Events();
    const customer = run([
      e.view('p1', 1 * HOUR),
      e.view('p1', 2 * HOUR),
      e.view('p1', 3 * HOUR),
      e.view('p2', 40 * HOUR),
      e.view('p1', 4 * HOUR), // 36 h behind the newest view of the rule: too late
      e.view('p1', 17 * HOUR), // 23 h behind: counts; its window [-7h, 17h] holds 1h, 2h, 3h, 17h
    ]);
    expect(causeIds(customer.outbox)).toEqual(['e6']);
  });
});

describe('cooldown', () => {
  const yaml = (cooldown: string) => `
rules:
  - name: repeat_view
    kind: threshold
    event: product_view
    group_by: product_id
    window: 1h
    greater_than: 1
${cooldown === '' ? '' : `    cooldown: ${cooldown}`}
`;
  const views = () => {
    const e = new Events();
    return [
      e.view('p1', 0),
      e.view('p1', 10 * MINUTE), // e2: crossing, fires
      e.view('p1', 120 * MINUTE), // e3: count 1, re-armed
      e.view('p1', 121 * MINUTE), // e4: crossing
      e.view('p1', 129 * MINUTE), // e5: still above 1
      e.view('p1', 130 * MINUTE), // e6: 2 h after the firing at 10 min
    ];
  };

  it('without a cooldown fires on every crossing', () => {
    expect(causeIds(run(views(), rulesFrom(yaml(''))).outbox)).toEqual(['e2', 'e4']);
  });

  it('holds a crossing inside the cooldown and fires on the first view after it while the count is still above', () => {
    expect(causeIds(run(views(), rulesFrom(yaml('2h'))).outbox)).toEqual(['e2', 'e6']);
  });

  it('applies per group', () => {
    const e = new Events();
    const customer = run(
      [e.view('p1', 0), e.view('p1', 1 * MINUTE), e.view('p2', 2 * MINUTE), e.view('p2', 3 * MINUTE)],
      rulesFrom(yaml('2h')),
    );
    expect(causeIds(customer.outbox)).toEqual(['e2', 'e4']);
  });
});

describe('filters and other groupings', () => {
  const rules = rulesFrom(`
rules:
  - name: red_shoes
    kind: threshold
    event: [product_view, add_to_cart]
    where: { category: shoes, properties.color: red }
    group_by: properties.size
    window: 1h
    greater_than: 1
  - name: busy_browser
    kind: threshold
    event: page_view
    window: 10m
    greater_than: 2
`);

  it('counts only events matching every where condition, grouped by a property', () => {
    const e = new Events();
    const red = (size: string) => ({ properties: { color: 'red', size } });
    const customer = run(
      [
        e.view('p1', 0, red('42')),
        e.view('p2', 1 * MINUTE, { properties: { color: 'blue', size: '42' } }), // filtered out
        e.view('p3', 2 * MINUTE, { ...red('42'), category: 'hats' }), // filtered out
        e.view('p4', 3 * MINUTE, red('43')), // other group
        e.of('add_to_cart', 4 * MINUTE, { product_id: 'p5', category: 'shoes', ...red('42') }), // e5
      ],
      rules,
    );
    expect(customer.outbox.map((trigger) => [trigger.rule, trigger.cause_event_id, trigger.context['properties.size']])).toEqual([
      ['red_shoes', 'e5', '42'],
    ]);
  });

  it('counts per customer without group_by', () => {
    const e = new Events();
    const customer = run([0, 1, 2].map((minutes) => e.of('page_view', minutes * MINUTE)), rules);
    expect(customer.outbox.map((trigger) => [trigger.rule, trigger.cause_event_id, trigger.context['count']])).toEqual([
      ['busy_browser', 'e3', '3'],
    ]);
  });
});
