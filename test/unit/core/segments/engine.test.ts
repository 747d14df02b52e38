import { triggerId } from '../../../../services/core/ids';
import {
  applyEvent,
  applyProfile,
  memberships,
  parseSegmentState,
  reevaluate,
  relevantEventTypes,
  serializeSegmentState,
  type SegmentDefinition,
  type SegmentResult,
  type SegmentState,
} from '../../../../services/core/segments';
import { customerProfile, type BehaviorEvent, type SegmentChange, type TriggerFired } from '../../../../services/core/types';
import { CUSTOMER, DAY, HOUR, MINUTE, T0, defsOf, event, oneSegment } from './harness';

interface Run {
  state: SegmentState | null;
  changes: SegmentChange[];
  triggers: TriggerFired[];
  last: SegmentResult;
}

/** Applies events in order, each at `now` (default: its own event time). */
function applyAll(defs: SegmentDefinition[], events: BehaviorEvent[], now?: number, start: SegmentState | null = null): Run {
  let state = start;
  const changes: SegmentChange[] = [];
  const triggers: TriggerFired[] = [];
  let last: SegmentResult = { state, changes: [], triggers: [], wakeAt: null, ignored: null };
  for (const item of events) {
    last = applyEvent(state, item, defs, now ?? item.occurred_at);
    state = last.state;
    changes.push(...last.changes);
    triggers.push(...last.triggers);
  }
  return { state, changes, triggers, last };
}

function purchases(count: number, at: number, valueCents: number | null = null): BehaviorEvent[] {
  return Array.from({ length: count }, () => event('purchase', at, { value_cents: valueCents }));
}

describe('count conditions', () => {
  const ops = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
  const defs = defsOf(ops.map((op) => ({ name: op, conditions: { count: { event: 'purchase', within: '1d', [op]: 2 } } })));
  const expected: Record<number, string[]> = {
    1: ['lt', 'lte', 'neq'],
    2: ['eq', 'gte', 'lte'],
    3: ['gt', 'gte', 'neq'],
    4: ['gt', 'gte', 'neq'],
  };

  it.each([1, 2, 3, 4])('with %i purchases compares every operator with 2', (count) => {
    const { state } = applyAll(defs, purchases(count, T0), T0);
    expect(memberships(state)).toEqual(expected[count]);
  });

  it('explains the count in the reason', () => {
    const { changes } = applyAll(oneSegment({ count: { event: 'purchase', within: '90d', gte: 3 } }), purchases(3, T0), T0);
    expect(changes).toEqual([{ customer_id: CUSTOMER, segment: 's', change: 'entered', at: T0, reason: 'purchase count in 90d is 3 (>= 3)' }]);
  });

  it('counts only events matching product_id, category and properties', () => {
    const defs = oneSegment({ count: { event: 'product_view', within: '1d', gte: 2, where: { product_id: 'p1', category: 'shoes', 'properties.channel': 'web' } } });
    const match = { product_id: 'p1', category: 'shoes', properties: { channel: 'web', extra: 'x' } };
    const { state, last } = applyAll(defs, [
      event('product_view', T0, match),
      event('product_view', T0, { ...match, product_id: 'p2' }),
      event('product_view', T0, { ...match, category: 'hats' }),
      event('product_view', T0, { ...match, properties: { channel: 'app' } }),
    ]);
    expect(memberships(state)).toEqual([]);
    expect(state?.a['product_view?product_id=p1&category=shoes&properties.channel=web']).toEqual({ t: [T0] });
    // The other views still count for the last-viewed fact (facts.ts), so none is ignored.
    expect(last.ignored).toBeNull();
    expect(state?.x?.v).toEqual([T0, 'p1']);
    expect(memberships(applyEvent(state, event('product_view', T0, match), defs, T0).state)).toEqual(['s']);
  });

  it('counts any of a list of event types', () => {
    const defs = oneSegment({ count: { event: ['email_open', 'email_click'], within: '1d', gte: 2 } });
    expect(memberships(applyAll(defs, [event('email_open', T0), event('email_click', T0)]).state)).toEqual(['s']);
  });
});

describe('sum conditions', () => {
  const ops = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
  const defs = defsOf(ops.map((op) => ({ name: op, conditions: { sum: { event: 'purchase', within: '30d', [op]: 5000 } } })));

  it.each([
    [[1000], ['lt', 'lte', 'neq']],
    [[2000, 3000], ['eq', 'gte', 'lte']],
    [[2000, 3001], ['gt', 'gte', 'neq']],
  ])('sums value_cents %j', (values, expected) => {
    const events = values.map((value) => event('purchase', T0 + HOUR, { value_cents: value }));
    expect(memberships(applyAll(defs, events, T0 + 2 * HOUR).state)).toEqual(expected);
  });

  it('ignores events without a positive value_cents', () => {
    const events = [event('purchase', T0, { value_cents: null }), event('purchase', T0, { value_cents: -500 }), event('purchase', T0, { value_cents: 0 })];
    expect(memberships(applyAll(defs, events, T0).state)).toEqual(['lt', 'lte', 'neq']);
  });

  it('explains the sum in the reason', () => {
    const { changes } = applyAll(oneSegment({ sum: { event: 'purchase', within: '365d', gte: 50000 } }), purchases(1, T0, 60000), T0);
    expect(changes[0].reason).toBe('purchase value in 365d is at least 60000 cents (>= 50000)');
  });
});

describe('recency, never and first', () => {
  it('recency: any listed type within the window', () => {
    const defs = oneSegment({ recency: { event: ['email_open', 'email_click'], within: '30d' } });
    const { state, changes } = applyAll(defs, [event('email_click', T0)], T0 + 2 * DAY);
    expect(memberships(state)).toEqual(['s']);
    expect(changes[0].reason).toBe('last email_click or email_open 2d ago (within 30d)');
  });

  it('never without a window: false once the event happened, whenever it was', () => {
    const defs = oneSegment({ never: { event: 'purchase' } });
    const viewer = applyAll(defs, [event('email_open', T0)]);
    expect(viewer.last.ignored).toBe('irrelevant');
    const { state } = applyAll(defs, [event('purchase', T0 - 300 * DAY)], T0);
    expect(memberships(state)).toEqual([]);
    expect(reevaluate(state, defs, T0 + 1000 * DAY).changes).toEqual([]);
  });

  it('never within a window: true again once the last event aged out', () => {
    const defs = oneSegment({ all: [{ recency: { event: 'purchase', within: '365d' } }, { never: { event: 'purchase', within: '90d' } }] });
    const { state, last } = applyAll(defs, [event('purchase', T0)]);
    expect(memberships(state)).toEqual([]);
    expect(last.wakeAt).toBe(T0 + 90 * DAY + 1);
    expect(reevaluate(state, defs, T0 + 90 * DAY).changes).toEqual([]);
    const entered = reevaluate(state, defs, T0 + 90 * DAY + 1);
    expect(entered.changes.map((change) => change.change)).toEqual(['entered']);
    expect(entered.wakeAt).toBe(T0 + 365 * DAY + 1);
  });

  it('first: the earliest matching event ever, wherever it arrives', () => {
    const defs = oneSegment({ first: { event: 'purchase', within: '30d' } });
    const now = T0 + 100 * DAY;
    expect(memberships(applyAll(defs, [event('purchase', now - DAY)], now).state)).toEqual(['s']);
    // An older purchase arriving late means the customer is not new.
    const run = applyAll(defs, [event('purchase', now - DAY), event('purchase', now - 60 * DAY)], now);
    expect(memberships(run.state)).toEqual([]);
    expect(run.changes.map((change) => change.change)).toEqual(['entered', 'exited']);
    expect(run.changes[1].reason).toBe('first purchase 60d ago (not within 30d)');
  });
});

describe('profile conditions', () => {
  const profile = customerProfile({
    customer_id: CUSTOMER,
    updated_at: T0,
    email: 'ann@example.com',
    first_name: 'Ann',
    country: 'DE',
    consent_email: true,
    attributes: { tier: 'gold', orders: '10', since: '2021-05-01' },
  });

  it.each([
    [{ field: 'country', eq: 'DE' }, true],
    [{ field: 'country', eq: 'FR' }, false],
    [{ field: 'country', neq: 'FR' }, true],
    [{ field: 'attributes.tier', in: ['gold', 'platinum'] }, true],
    [{ field: 'attributes.tier', not_in: ['gold', 'platinum'] }, false],
    [{ field: 'attributes.orders', gt: 9 }, true],
    [{ field: 'attributes.orders', gt: '9' }, true],
    [{ field: 'attributes.orders', gte: 10 }, true],
    [{ field: 'attributes.orders', lt: 10 }, false],
    [{ field: 'attributes.orders', lte: 10.0 }, true],
    [{ field: 'attributes.orders', eq: '10.0' }, true],
    [{ field: 'attributes.since', gte: '2021-01-01' }, true],
    [{ field: 'attributes.since', lt: '2021-01-01' }, false],
    [{ field: 'attributes.tier', gt: 'bronze' }, true],
    [{ field: 'consent_email', eq: true }, true],
    [{ field: 'consent_email', eq: false }, false],
    [{ field: 'email', exists: true }, true],
    [{ field: 'email', not_exists: true }, false],
    [{ field: 'locale', exists: true }, false],
    [{ field: 'locale', not_exists: true }, true],
    [{ field: 'locale', eq: 'en-US' }, false],
    [{ field: 'locale', neq: 'en-US' }, true],
    [{ field: 'attributes.missing', not_in: ['x'] }, true],
    [{ field: 'attributes.missing', lt: 5 }, false],
  ])('%j is %s', (condition, expected) => {
    const result = applyProfile(null, profile, oneSegment({ profile: condition }), T0);
    expect(memberships(result.state)).toEqual(expected ? ['s'] : []);
  });

  it('keeps only the fields conditions read, and never shows personal values in reasons', () => {
    const defs = defsOf([
      { name: 'tiered', conditions: { profile: { field: 'attributes.tier', eq: 'gold' } } },
      { name: 'ann', conditions: { profile: { field: 'email', eq: 'ann@example.com' } } },
      { name: 'named', conditions: { profile: { field: 'first_name', in: ['Ann', 'Bob'] } } },
    ]);
    const result = applyProfile(null, profile, defs, T0);
    expect(result.state?.p).toEqual({ 'attributes.tier': 'gold', email: 'ann@example.com', first_name: 'Ann' });
    const reasons = result.changes.map((change) => change.reason).join(' | ');
    expect(result.changes).toHaveLength(3);
    expect(reasons).not.toMatch(/ann@example\.com|Ann|Bob/);
    expect(reasons).toContain('attributes.tier eq gold');
  });

  it('ignores an older profile record and irrelevant profiles', () => {
    const defs = oneSegment({ profile: { field: 'country', eq: 'DE' } });
    const { state } = applyProfile(null, profile, defs, T0);
    const stale = applyProfile(state, { ...profile, updated_at: T0 - 1, country: 'FR' }, defs, T0);
    expect(stale.ignored).toBe('stale_profile');
    expect(stale.state).toBe(state);
    const moved = applyProfile(state, { ...profile, updated_at: T0 + 1, country: 'FR' }, defs, T0 + 1);
    expect(moved.changes.map((change) => [change.segment, change.change])).toEqual([['s', 'exited']]);
    const unused = applyProfile(null, profile, oneSegment({ never: { event: 'purchase' } }), T0);
    expect(unused).toEqual({ state: null, changes: [], triggers: [], wakeAt: null, ignored: 'irrelevant' });
  });
});

describe('combinators', () => {
  const viewed = { recency: { event: 'product_view', within: '1d' } };
  const bought = { recency: { event: 'purchase', within: '1d' } };
  const defs = defsOf([
    { name: 'both', conditions: { all: [viewed, bought] } },
    { name: 'either', conditions: { any: [viewed, bought] } },
    { name: 'browser', conditions: { all: [viewed, { not: bought }] } },
    { name: 'nested', conditions: { not: { any: [{ all: [viewed, bought] }, { not: viewed }] } } },
  ]);

  it.each([
    [['product_view'], ['browser', 'either', 'nested']],
    [['purchase'], ['either']],
    [['product_view', 'purchase'], ['both', 'either']],
  ])('after %j the customer is in %j', (types, expected) => {
    const { state } = applyAll(defs, types.map((type) => event(type, T0)));
    expect(memberships(state)).toEqual(expected);
  });

  it('an all that is false wakes only when every failing part could have flipped', () => {
    const waiting = oneSegment({ all: [{ never: { event: 'purchase', within: '1d' } }, { never: { event: 'email_open', within: '2d' } }] });
    const run = applyAll(waiting, [event('purchase', T0), event('email_open', T0)]);
    expect(run.last.wakeAt).toBe(T0 + 2 * DAY + 1);
    expect(reevaluate(run.state, waiting, T0 + 2 * DAY + 1).changes.map((change) => change.change)).toEqual(['entered']);
  });
});

describe('window boundaries', () => {
  it.each([
    ['count', { count: { event: 'purchase', within: '1d', gte: 1 } }],
    ['recency', { recency: { event: 'purchase', within: '1d' } }],
    ['first', { first: { event: 'purchase', within: '1d' } }],
  ])('%s: an event exactly the window old is inside, one ms older is outside', (_kind, conditions) => {
    const defs = oneSegment(conditions);
    const { state, last } = applyAll(defs, [event('purchase', T0 + 123)], T0 + 123);
    expect(last.wakeAt).toBe(T0 + 123 + DAY + 1);
    expect(memberships(reevaluate(state, defs, T0 + 123 + DAY).state)).toEqual(['s']);
    expect(memberships(reevaluate(state, defs, T0 + 123 + DAY + 1).state)).toEqual([]);
  });

  it('sum: a bucket counts while its last millisecond is inside the window (1d window: hourly buckets)', () => {
    const defs = oneSegment({ sum: { event: 'purchase', within: '1d', gte: 100 } });
    const { state, last } = applyAll(defs, [event('purchase', T0 + 5 * MINUTE, { value_cents: 100 })]);
    const bucketEnd = T0 + HOUR - 1;
    expect(last.wakeAt).toBe(bucketEnd + DAY + 1);
    expect(memberships(reevaluate(state, defs, bucketEnd + DAY).state)).toEqual(['s']);
    expect(memberships(reevaluate(state, defs, bucketEnd + DAY + 1).state)).toEqual([]);
  });

  it('an event stamped later than now counts as now', () => {
    const defs = oneSegment({ recency: { event: 'purchase', within: '1h' } });
    const { state, last } = applyAll(defs, [event('purchase', T0 + 10 * HOUR)], T0);
    expect(memberships(state)).toEqual(['s']);
    expect(last.wakeAt).toBe(T0 + HOUR + 1);
    expect(memberships(reevaluate(state, defs, T0 + HOUR + 1).state)).toEqual([]);
  });

  it('an event already older than the window on arrival does not enter', () => {
    const defs = oneSegment({ count: { event: 'purchase', within: '1d', gte: 1 } });
    const run = applyAll(defs, [event('purchase', T0 - DAY - 1)], T0);
    expect(run.changes).toEqual([]);
    expect(memberships(run.state)).toEqual([]);
    // It is still the customer's last purchase: the state keeps that fact (facts.ts), nothing else.
    expect(run.state?.x).toEqual({ p: [T0 - DAY - 1] });
    expect(run.state?.m).toEqual([]);
  });
});

// email_open rather than purchase: the purchase aggregate also keeps the facts' 90 days of times.
describe('out-of-order events', () => {
  const defs = oneSegment({ count: { event: 'email_open', within: '1d', gte: 2 } });

  it('places a late event at its event time', () => {
    const late = applyAll(defs, [event('email_open', T0 + 10 * HOUR), event('email_open', T0 + 2 * HOUR)], T0 + 11 * HOUR);
    expect(late.state?.a.email_open.t).toEqual([T0 + 2 * HOUR, T0 + 10 * HOUR]);
    // Membership ends when the earlier (late-arriving) one leaves the window.
    expect(late.last.wakeAt).toBe(T0 + 2 * HOUR + DAY + 1);
  });

  it('keeps the newest threshold + 1 times whatever the arrival order', () => {
    const times = [5, 1, 9, 3, 7, 2].map((hour) => T0 + hour * HOUR);
    const { state, last } = applyAll(defs, times.map((time) => event('email_open', time)), T0 + 10 * HOUR);
    expect(state?.a.email_open.t).toEqual([T0 + 5 * HOUR, T0 + 7 * HOUR, T0 + 9 * HOUR]);
    expect(last.wakeAt).toBe(T0 + 7 * HOUR + DAY + 1);
  });
});

describe('duplicates and ignored events', () => {
  const defs = oneSegment({ count: { event: 'purchase', within: '1d', gte: 2 } });

  it('does not count a re-delivered event_id twice', () => {
    const first = event('purchase', T0);
    const run = applyAll(defs, [first, { ...first }, event('email_open', T0), { ...first }]);
    expect(run.state?.a.purchase.t).toEqual([T0]);
    expect(memberships(run.state)).toEqual([]);
    const again = applyEvent(run.state, { ...first }, defs, T0 + 1);
    expect(again.ignored).toBe('duplicate');
    expect(again.state).toBe(run.state);
    expect(again.changes).toEqual([]);
  });

  it('ignores unknown event types without touching the state', () => {
    const { state } = applyAll(defs, [event('purchase', T0), event('purchase', T0)]);
    const result = applyEvent(state, event('teleport', T0), defs, T0 + 1);
    expect(result).toEqual({ state, changes: [], triggers: [], wakeAt: T0 + DAY + 1, ignored: 'unknown_type' });
    expect(result.state).toBe(state);
  });

  it('never mutates the state passed in', () => {
    const { state } = applyAll(defs, [event('purchase', T0)]);
    const before = JSON.stringify(state);
    applyEvent(state, event('purchase', T0 + 1), defs, T0 + 1);
    reevaluate(state, defs, T0 + 2 * DAY);
    expect(JSON.stringify(state)).toBe(before);
  });

  it('refuses a state of another customer', () => {
    const { state } = applyAll(defs, [event('purchase', T0)]);
    expect(() => applyEvent(state, { ...event('purchase', T0), customer_id: 'someone-else' }, defs, T0)).toThrow(/another customer/);
  });
});

describe('time moves membership', () => {
  const defs = defsOf([{ name: 'engaged', conditions: { recency: { event: ['email_open', 'email_click'], within: '30d' } } }]);

  it('leaves engaged exactly at wakeAt, not a millisecond before', () => {
    const open = event('email_open', T0 + 77);
    const entered = applyEvent(null, open, defs, T0 + 1000);
    expect(entered.changes.map((change) => change.change)).toEqual(['entered']);
    const wakeAt = entered.wakeAt as number;
    expect(wakeAt).toBe(T0 + 77 + 30 * DAY + 1);
    const early = reevaluate(entered.state, defs, wakeAt - 1);
    expect(early.changes).toEqual([]);
    expect(early.wakeAt).toBe(wakeAt);
    const exited = reevaluate(entered.state, defs, wakeAt);
    expect(exited.changes).toEqual([
      { customer_id: CUSTOMER, segment: 'engaged', change: 'exited', at: wakeAt, reason: 'no email_click or email_open within 30d' },
    ]);
    expect(exited.wakeAt).toBeNull();
    expect(exited.state).toBeNull(); // nothing left worth storing
    expect(reevaluate(exited.state, defs, wakeAt + DAY).changes).toEqual([]);
  });

  it('a newer open moves the wake-up later', () => {
    const run = applyAll(defs, [event('email_open', T0), event('email_click', T0 + 5 * DAY)]);
    expect(run.changes).toHaveLength(1);
    expect(run.last.wakeAt).toBe(T0 + 35 * DAY + 1);
    expect(reevaluate(run.state, defs, T0 + 30 * DAY + 1).changes).toEqual([]);
  });
});

describe('segment-entry triggers', () => {
  const defs = defsOf([
    {
      name: 'vip',
      description: 'Bought twice',
      trigger_on_entry: true,
      conditions: { count: { event: 'purchase', within: '30d', gte: 2 } },
    },
    { name: 'quiet', conditions: { count: { event: 'purchase', within: '30d', gte: 1 } } },
  ]);

  it('fires once on entry with a deterministic id and a useful context', () => {
    const cause = event('purchase', T0 + 1, { product_id: 'p9', category: 'shoes', order_id: 'o1' });
    const run = applyAll(defs, [event('purchase', T0), cause, event('purchase', T0 + 2)]);
    expect(run.triggers).toEqual([
      {
        trigger_id: triggerId('segment:vip', CUSTOMER, `event:${cause.event_id}`),
        rule: 'segment:vip',
        customer_id: CUSTOMER,
        fired_at: T0 + 1,
        cause_event_id: cause.event_id,
        context: {
          segment: 'vip',
          segment_description: 'Bought twice',
          reason: 'purchase count in 30d is 2 (>= 2)',
          cause: 'event',
          entered_at: String(T0 + 1),
          event_type: 'purchase',
          product_id: 'p9',
          category: 'shoes',
          order_id: 'o1',
        },
      },
    ]);
    const stateBefore = applyAll(defs, [event('purchase', T0)]).state;
    expect(applyEvent(stateBefore, cause, defs, T0 + 1).triggers[0].trigger_id).toBe(run.triggers[0].trigger_id);
  });

  it('a timer entry is keyed by its due time, so a late or repeated timer gives the same id', () => {
    const lapsed = defsOf([
      {
        name: 'lapsed',
        trigger_on_entry: true,
        conditions: { all: [{ recency: { event: 'purchase', within: '7d' } }, { never: { event: 'purchase', within: '1d' } }] },
      },
    ]);
    const { state, last } = applyAll(lapsed, [event('purchase', T0)]);
    const due = last.wakeAt as number;
    const onTime = reevaluate(state, lapsed, due);
    const late = reevaluate(state, lapsed, due + 5 * MINUTE);
    expect(onTime.triggers).toHaveLength(1);
    expect(onTime.triggers[0].trigger_id).toBe(triggerId('segment:lapsed', CUSTOMER, `timer:${due}`));
    expect(late.triggers[0].trigger_id).toBe(onTime.triggers[0].trigger_id);
    expect(onTime.triggers[0].cause_event_id).toBeNull();
    expect(onTime.triggers[0].context.cause).toBe('timer');
  });
});

describe('erasure', () => {
  const defs = defsOf([
    { name: 'a', conditions: { recency: { event: 'purchase', within: '30d' } } },
    { name: 'b', conditions: { count: { event: 'purchase', within: '30d', gte: 1 } } },
    { name: 'c', conditions: { never: { event: 'purchase' } } },
  ]);

  it('a tombstone deletes the state and exits every membership once', () => {
    const { state } = applyAll(defs, [event('purchase', T0)]);
    expect(memberships(state)).toEqual(['a', 'b']);
    const erased = applyProfile(state, null, defs, T0 + HOUR);
    expect(erased.state).toBeNull();
    expect(erased.wakeAt).toBeNull();
    expect(erased.triggers).toEqual([]);
    expect(erased.changes).toEqual([
      { customer_id: CUSTOMER, segment: 'a', change: 'exited', at: T0 + HOUR, reason: 'customer erased' },
      { customer_id: CUSTOMER, segment: 'b', change: 'exited', at: T0 + HOUR, reason: 'customer erased' },
    ]);
    expect(applyProfile(null, null, defs, T0).changes).toEqual([]);
  });
});

describe('definitions changing under a stored state', () => {
  it('exits segments that are no longer defined and drops aggregates no one reads', () => {
    // email_click rather than purchase, which every plan keeps for the facts.
    const before = defsOf([{ name: 'old', conditions: { recency: { event: 'email_click', within: '30d' } } }]);
    const after = defsOf([{ name: 'new', conditions: { recency: { event: 'email_open', within: '30d' } } }]);
    const { state } = applyAll(before, [event('email_click', T0)]);
    const result = reevaluate(state, after, T0 + 1);
    expect(result.changes).toEqual([{ customer_id: CUSTOMER, segment: 'old', change: 'exited', at: T0 + 1, reason: 'segment no longer defined' }]);
    expect(result.state).toBeNull();
  });
});

describe('helpers', () => {
  it('relevantEventTypes lists the types the definitions read, and those of the facts', () => {
    const defs = defsOf([
      { name: 'a', conditions: { recency: { event: ['email_open', 'email_click'], within: '30d' } } },
      { name: 'b', conditions: { not: { count: { event: 'purchase', within: '1d', gte: 1 } } } },
      { name: 'c', conditions: { profile: { field: 'country', eq: 'DE' } } },
    ]);
    expect([...relevantEventTypes(defs)].sort()).toEqual(['add_to_cart', 'email_click', 'email_open', 'product_view', 'purchase', 'remove_from_cart']);
  });

  it('state round-trips through JSON and bad states are refused', () => {
    const defs = oneSegment({ sum: { event: 'purchase', within: '30d', gte: 1 } });
    const { state } = applyAll(defs, [event('purchase', T0, { value_cents: 5 })]);
    expect(parseSegmentState(serializeSegmentState(state as SegmentState))).toEqual(state);
    expect(parseSegmentState(null)).toBeNull();
    expect(() => parseSegmentState('{"v":2}')).toThrow(/segment state is not valid: v/);
  });
});
