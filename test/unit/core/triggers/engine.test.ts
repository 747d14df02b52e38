import { triggerId } from '../../../../services/core/ids';
import {
  applyEvent,
  applyEvents,
  fireDueTimers,
  fireTimer,
  decodeTriggerState,
  emptyTriggerState,
  encodeTriggerState,
  mergeTimerChanges,
  parseTimerId,
  timerIdFor,
  TriggerStateError,
  type EngineResult,
  type TriggerState,
} from '../../../../services/core/triggers';
import { CART_MAX_ITEMS, MAX_GROUPS_PER_RULE, SEEN_EVENT_IDS } from '../../../../services/core/triggers/limits';
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../../services/core/types';
import { causeIds, Customer, CUSTOMER, Events, HOUR, MINUTE, rulesFrom, seedRules, T0 } from './harness';

/** A small seeded PRNG (mulberry32), so the run is the same every time. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('event filtering', () => {
  it('ignores unknown event types with a flag and changes nothing', () => {
    const e = new Events();
    const result = applyEvent(null, e.of('app_crash', 0, { product_id: 'p1' }), seedRules(), T0);
    expect(result).toEqual({
      state: emptyTriggerState(),
      triggers: [],
      timers: { set: [], cancel: [] },
      changed: false,
      ignored: 'unknown_type',
    });
  });

  it('leaves the state alone for known events no rule uses', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.view('p1', 0));
    const before = customer.stored;
    const result = customer.apply(e.of('page_view', 1 * MINUTE));
    expect(result.changed).toBe(false);
    expect(result.ignored).toBeUndefined();
    expect(customer.stored).toBe(before);
  });

  it('does not count a re-delivered event twice', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    const views = [0, 1, 2].map((hours) => e.view('p1', hours * HOUR));
    for (const view of views) customer.apply(view);
    const before = customer.stored;
    const duplicate = customer.apply(views[2]!, T0 + 3 * HOUR);
    expect(duplicate).toMatchObject({ triggers: [], changed: false, ignored: 'duplicate' });
    expect(customer.stored).toBe(before);
    expect(causeIds(customer.apply(e.view('p1', 3 * HOUR)).triggers)).toEqual(['e4']);
  });

  it('does not restart a cart timer for a re-delivered add', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    const add = e.add('p1', 0);
    customer.apply(add);
    expect(customer.apply(add, T0 + 10 * MINUTE).ignored).toBe('duplicate');
    expect(customer.timers.get(timerIdFor(CUSTOMER, 'cart_abandoned'))).toBe(T0 + 15 * MINUTE);
  });

  it('does not mutate the state it is given', () => {
    const e = new Events();
    const rules = seedRules();
    const first = applyEvent(null, e.add('p1', 0), rules, T0).state;
    const frozen = JSON.stringify(first);
    applyEvent(first, e.view('p1', 1), rules, T0);
    applyEvent(first, e.of('purchase', 2), rules, T0);
    expect(JSON.stringify(first)).toBe(frozen);
  });
});

describe('determinism', () => {
  /** A morning of one customer's events; `now` trails event time by 2 s. */
  function replay(): TriggerFired[] {
    const e = new Events();
    const customer = new Customer(seedRules());
    const events = [
      ...[0, 10, 20, 30].map((minutes) => e.view('p1', minutes * MINUTE)),
      e.add('p1', 31 * MINUTE),
      e.view('p2', 40 * MINUTE),
      e.add('p2', 50 * MINUTE),
    ];
    for (const event of events) {
      customer.fireDue(event.occurred_at + 2_000);
      customer.apply(event, event.occurred_at + 2_000);
    }
    customer.fireDue(T0 + 2 * HOUR);
    return customer.outbox;
  }

  it('gives the same triggers, ids included, for the same input', () => {
    const first = replay();
    // p1's 4th view; the p1 add, abandoned by 46 min; the p2 add, abandoned by 65 min.
    expect(first.map((trigger) => [trigger.rule, trigger.cause_event_id])).toEqual([
      ['high_interest', 'e4'],
      ['cart_abandoned', 'e5'],
      ['cart_abandoned', 'e7'],
    ]);
    expect(replay()).toEqual(first);
  });

  it('derives trigger ids from the rule, the customer and the causing event', () => {
    for (const trigger of replay()) {
      expect(trigger.trigger_id).toBe(triggerId(trigger.rule, CUSTOMER, trigger.cause_event_id!));
    }
  });
});

describe('applyEvents', () => {
  it('applies a batch in order, merges timer changes and counts ignored events', () => {
    const e = new Events();
    const add = e.add('p1', 0);
    const result = applyEvents(
      null,
      [add, e.of('app_crash', 1), add, e.of('checkout_started', 2), e.add('p2', 3)],
      seedRules(),
      T0 + 10,
    );
    expect(result.ignored).toEqual({ unknown_type: 1, duplicate: 1 });
    expect(result.timers).toEqual({ set: [{ id: timerIdFor(CUSTOMER, 'cart_abandoned'), dueAt: T0 + 3 + 15 * MINUTE }], cancel: [] });
    expect(result.changed).toBe(true);
  });

  it('fires a timer due by the stream time before the next event, as a live run would have, then applies the event', () => {
    const e = new Events();
    const add = e.add('p1', 0);
    const purchase = e.of('purchase', 20 * MINUTE);
    // Between the two, the partition was read past add + 15 min (another customer's event).
    const result = applyEvents(null, [add, purchase], seedRules(), T0 + HOUR, [T0 - MINUTE, T0 + 16 * MINUTE]);
    expect(result.triggers.map((t) => [t.rule, t.cause_event_id, t.fired_at])).toEqual([['cart_abandoned', add.event_id, T0 + HOUR]]);
    expect(result.timers).toEqual({ set: [], cancel: [timerIdFor(CUSTOMER, 'cart_abandoned')] });
  });

  it('a purchase read before the stream time passed the due time cancels, however late the batch is read', () => {
    const e = new Events();
    const result = applyEvents(null, [e.add('p1', 0), e.of('purchase', 5 * MINUTE)], seedRules(), T0 + HOUR, [T0 - MINUTE, T0]);
    expect(result.triggers).toEqual([]);
    expect(result.timers).toEqual({ set: [], cancel: [timerIdFor(CUSTOMER, 'cart_abandoned')] });
  });

  it('gives what applying the events one at a time gives, and leaves its input state alone', () => {
    // applyEvents works on one copy of the state for the whole batch; this is the fold it must
    // equal: each due timer and event through fireDueTimers / applyEvent, timer changes merged.
    const next = random(7);
    const rules = [...seedRules(), ...rulesFrom(`
rules:
  - name: category_fan
    kind: threshold
    event: [product_view, add_to_cart]
    group_by: category
    window: 2h
    greater_than: 2
    cooldown: 30m
`)];
    const types = ['product_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'purchase', 'page_view', 'app_crash'] as const;
    const e = new Events();
    const recent: BehaviorEvent[] = [];
    let state: TriggerState | null = null;
    let clock = 0;
    let streamTime: number | null = null;
    let fired = 0;
    for (let batch = 0; batch < 300; batch += 1) {
      const events: BehaviorEvent[] = [];
      const streamTimes: Array<number | null> = [];
      for (let i = Math.floor(next() * 6); i >= 0; i -= 1) {
        clock += Math.floor(next() * 8 * MINUTE);
        const type = types[Math.floor(next() * types.length)]!;
        const event = recent.length > 0 && next() < 0.1
          ? recent[Math.floor(next() * recent.length)]!
          : e.of(type, clock - (next() < 0.1 ? Math.floor(next() * 3 * HOUR) : 0), { product_id: `p${Math.floor(next() * 5)}`, category: `c${Math.floor(next() * 3)}` });
        recent.push(event);
        events.push(event);
        streamTimes.push(streamTime);
        streamTime = Math.max(streamTime ?? event.occurred_at, event.occurred_at);
      }
      const now = T0 + clock + 2_000;
      const before = JSON.stringify(state);
      const batched = applyEvents(state, events, rules, now, streamTimes);
      expect(JSON.stringify(state)).toBe(before);

      let folded: TriggerState | null = state;
      const expected = { triggers: [] as TriggerFired[], timers: mergeTimerChanges({ set: [], cancel: [] }, { set: [], cancel: [] }), changed: false };
      const ignored = { unknown_type: 0, duplicate: 0 };
      const take = (result: EngineResult) => {
        folded = result.state;
        expected.triggers.push(...result.triggers);
        expected.timers = mergeTimerChanges(expected.timers, result.timers);
        expected.changed ||= result.changed;
        if (result.ignored !== undefined) ignored[result.ignored] += 1;
      };
      events.forEach((event, i) => {
        if (streamTimes[i] !== null) take(fireDueTimers(folded, CUSTOMER, rules, now, streamTimes[i]!));
        take(applyEvent(folded, event, rules, now));
      });
      expect(batched.triggers).toEqual(expected.triggers);
      expect(batched.timers).toEqual(expected.timers);
      expect(batched.changed).toBe(expected.changed);
      expect(batched.ignored).toEqual(ignored);
      expect(batched.state).toEqual(folded ?? emptyTriggerState());
      state = batched.state;
      fired += batched.triggers.length;
    }
    // The run did fire both kinds of rule.
    expect(fired).toBeGreaterThan(20);
  });

  it('refuses events of several customers', () => {
    const events = [new Events('a').add('p1', 0), new Events('b').add('p1', 0)];
    expect(() => applyEvents(null, events, seedRules(), T0)).toThrow(/2 customers/);
  });
});

describe('rule changes', () => {
  it('drops the state of a rule that is no longer configured and cancels its timer', () => {
    const e = new Events();
    const customer = new Customer(seedRules());
    customer.apply(e.add('p1', 0));
    customer.apply(e.view('p1', 1));
    const onlyViews = seedRules().filter((rule) => rule.name === 'high_interest');
    const result = applyEvent(customer.state(), e.view('p1', 2), onlyViews, T0);
    expect(result.timers.cancel).toEqual([timerIdFor(CUSTOMER, 'cart_abandoned')]);
    expect(result.state.rules.map((rule) => rule.rule)).toEqual(['high_interest']);
    expect(result.state.cart).toBeNull();
  });
});

describe('timer ids', () => {
  it('round-trip customer and rule, even when the customer id contains the separator', () => {
    expect(timerIdFor('c-1', 'cart_abandoned')).toBe('c-1|cart_abandoned');
    expect(parseTimerId(timerIdFor('we|rd', 'cart_abandoned'))).toEqual({ customerId: 'we|rd', rule: 'cart_abandoned' });
    expect(parseTimerId('no-separator')).toBeNull();
    expect(parseTimerId('|rule')).toBeNull();
    expect(parseTimerId('customer|')).toBeNull();
  });

  it('merge keeps only the last change per id', () => {
    const merged = mergeTimerChanges(
      { set: [{ id: 'a', dueAt: 1 }, { id: 'b', dueAt: 2 }], cancel: ['c'] },
      { set: [{ id: 'c', dueAt: 3 }], cancel: ['a'] },
    );
    expect(merged).toEqual({ set: [{ id: 'b', dueAt: 2 }, { id: 'c', dueAt: 3 }], cancel: ['a'] });
  });
});

describe('stored state', () => {
  it('decodes what it encodes, and a missing key as an empty state', () => {
    const e = new Events();
    const { state } = applyEvents(null, [e.add('p1', 0), e.view('p1', 1)], seedRules(), T0);
    expect(decodeTriggerState(encodeTriggerState(state))).toEqual(state);
    expect(decodeTriggerState(null)).toEqual(emptyTriggerState());
  });

  it.each([['not json', '{'], ['another version', '{"v":2,"seen":[],"cart":null,"rules":[]}'], ['a wrong shape', '{"v":1,"seen":[1],"cart":null,"rules":[]}']])(
    'rejects %s with a TriggerStateError',
    (_what, text) => {
      expect(() => decodeTriggerState(text)).toThrow(TriggerStateError);
    },
  );
});

describe('bounded state', () => {
  it('stays under 12 KB over 50,000 random events of one customer', () => {
    const next = random(42);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const rules = [
      ...seedRules(),
      ...rulesFrom(`
rules:
  - name: category_fan
    kind: threshold
    event: [product_view, add_to_cart]
    group_by: category
    window: 7d
    greater_than: 10
    cooldown: 1d
`),
    ];
    const types = ['product_view', 'product_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'purchase',
      'checkout_started', 'page_view', 'email_open', 'app_crash'] as const;
    // The adapter's view, kept as objects (not JSON) so 50,000 events run in a few seconds.
    let state: TriggerState | null = null;
    const timers = new Map<string, number>();
    const apply = (result: EngineResult) => {
      state = result.state;
      for (const { id, dueAt } of result.timers.set) timers.set(id, dueAt);
      for (const id of result.timers.cancel) timers.delete(id);
      triggers += result.triggers.length;
    };
    const recent: BehaviorEvent[] = [];
    let clock = T0;
    let largest = 0;
    let triggers = 0;
    for (let i = 0; i < 50_000; i += 1) {
      clock += Math.floor(next() * 10 * MINUTE);
      let event: BehaviorEvent;
      if (recent.length > 0 && next() < 0.05) {
        event = pick(recent); // a re-delivery
      } else {
        const late = next() < 0.1 ? Math.floor(next() * 30 * HOUR) : 0;
        event = behaviorEvent({
          event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          customer_id: CUSTOMER,
          type: pick(types),
          occurred_at: clock - late,
          product_id: `product-${String(Math.floor(next() * 400)).padStart(6, '0')}`,
          category: `category-${Math.floor(next() * 80)}`,
        });
        recent.push(event);
        if (recent.length > 200) recent.shift();
      }
      const now = clock + Math.floor(next() * 5_000);
      for (const [id, dueAt] of [...timers]) if (dueAt <= now) apply(fireTimer(state, id, rules, now));
      apply(applyEvent(state, event, rules, now));
      largest = Math.max(largest, encodeTriggerState(state!).length);
    }
    const final: TriggerState = decodeTriggerState(encodeTriggerState(state!));
    // Every bound in limits.ts holds at the end ...
    expect(final.seen.length).toBeLessThanOrEqual(SEEN_EVENT_IDS);
    expect(final.cart!.items.length).toBeLessThanOrEqual(CART_MAX_ITEMS);
    for (const ruleState of final.rules) {
      if (ruleState.kind !== 'threshold') continue;
      const rule = rules.find((candidate) => candidate.name === ruleState.rule)!;
      expect(ruleState.groups.length).toBeLessThanOrEqual(MAX_GROUPS_PER_RULE);
      for (const group of ruleState.groups) expect(group.times.length).toBeLessThanOrEqual(rule.kind === 'threshold' ? rule.greaterThan + 1 : 0);
    }
    // ... the size never exceeded the budget, and the run did exercise the rules.
    expect(largest).toBeLessThan(12_000);
    expect(triggers).toBeGreaterThan(100);
    console.log(`trigger state: largest ${largest} bytes, final ${encodeTriggerState(final).length} bytes, ${triggers} triggers`);
  });

  it('stays under 9 KB for the seed rules in the worst case: every bound full', () => {
    const rules = seedRules();
    const e = new Events();
    let state: TriggerState | null = null;
    // 100 products viewed 5 times each within an hour (the last 50 kept, 4 times each, all
    // fired), 30 products added to the cart (20 kept, a timer pending), 64+ distinct event ids.
    for (let product = 0; product < 100; product += 1) {
      for (let view = 0; view < 5; view += 1) {
        const event = e.view(`product-${String(product).padStart(6, '0')}`, (product * 5 + view) * 1_000);
        state = applyEvent(state, event, rules, event.occurred_at).state;
      }
    }
    for (let product = 0; product < 30; product += 1) {
      const event = e.add(`product-${String(product).padStart(6, '0')}`, HOUR + product * 1_000);
      state = applyEvent(state, event, rules, event.occurred_at).state;
    }
    const full = state!;
    const highInterest = full.rules.find((ruleState) => ruleState.rule === 'high_interest');
    expect(highInterest?.kind === 'threshold' && highInterest.groups.every((group) => group.times.length === 4)).toBe(true);
    expect(highInterest?.kind === 'threshold' && highInterest.groups.length).toBe(MAX_GROUPS_PER_RULE);
    expect(full.seen).toHaveLength(SEEN_EVENT_IDS);
    expect(full.cart?.items).toHaveLength(CART_MAX_ITEMS);
    const size = encodeTriggerState(full).length;
    expect(size).toBeLessThan(9_000);
    console.log(`trigger state, seed rules, every bound full: ${size} bytes`);
  });
});
