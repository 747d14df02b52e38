/**
 * The engine evaluates every segment for every input without reasons, and builds a reason only
 * where a membership changes. Both evaluations must agree on the value and the next flip, for
 * every kind of condition, at every moment; and the engine's in-place trimming must only ever
 * touch a state it owns.
 */
import { applyEvent, applyProfile, reevaluate, SegmentEvaluations, type SegmentDefinition, type SegmentResult, type SegmentState } from '../../../../services/core/segments';
import { pruneAggregates } from '../../../../services/core/segments/aggregates';
import { evaluateCondition } from '../../../../services/core/segments/evaluate';
import { MAX_GROUPS, planFor } from '../../../../services/core/segments/plan';
import { behaviorEvent, customerProfile, type BehaviorEvent } from '../../../../services/core/types';
import { CUSTOMER, DAY, HOUR, MINUTE, T0, defsOf, seededRandom, shippedDefinitions } from './harness';

/** Segments of every kind of condition, as a definitions file writes them. */
const EVERY_KIND = [
  { name: 'c2', conditions: { count: { event: 'purchase', within: '3d', gte: 2 } } },
  { name: 'c0', conditions: { count: { event: 'purchase', within: '3d', eq: 0 } } },
  { name: 'c_lt3', conditions: { count: { event: ['email_open', 'email_click'], within: '36h', lt: 3 } } },
  { name: 'grouped', conditions: { count: { event: 'product_view', group_by: 'product_id', within: '2h', gte: 2 } } },
  { name: 'r', conditions: { recency: { event: ['email_open', 'email_click'], within: '2d' } } },
  { name: 'nv', conditions: { never: { event: 'purchase', within: '1d' } } },
  { name: 'ne', conditions: { never: { event: 'email_click' } } },
  { name: 'f', conditions: { first: { event: 'purchase', within: '5d' } } },
  { name: 's', conditions: { sum: { event: 'purchase', within: '5d', gte: 300 } } },
  { name: 'gone', conditions: { absence: { event: 'add_to_cart', not_followed_by: 'purchase', for: '15m', within: '1d' } } },
  { name: 'combo', conditions: { all: [{ count: { event: 'purchase', within: '3d', gte: 2 } }, { not: { recency: { event: 'email_open', within: '2d' } } }] } },
  { name: 'either', conditions: { any: [{ never: { event: 'purchase', within: '1d' } }, { sum: { event: 'purchase', within: '5d', gte: 300 } }] } },
];
const extra = defsOf(EVERY_KIND);

const TYPES = ['purchase', 'email_open', 'email_click', 'product_view', 'add_to_cart', 'page_view'];

function randomEvent(random: () => number, i: number, now: number): BehaviorEvent {
  const type = TYPES[Math.floor(random() * TYPES.length)];
  const lag = random() < 0.1 ? -Math.floor(random() * HOUR) : Math.floor(random() * random() * DAY);
  return behaviorEvent({
    event_id: `q${i}`,
    customer_id: CUSTOMER,
    type,
    occurred_at: now - lag,
    product_id: ['product_view', 'add_to_cart', 'purchase'].includes(type) ? `p${Math.floor(random() * 4)}` : null,
    value_cents: type === 'purchase' ? 50 + Math.floor(random() * 150) : null,
  });
}

function expectQuietAgrees(defs: readonly SegmentDefinition[], state: SegmentState, now: number, where: string): void {
  const plan = planFor(defs);
  for (const segment of defs) {
    const quiet = evaluateCondition(segment.conditions, { state, plan, now, explain: false });
    const explained = evaluateCondition(segment.conditions, { state, plan, now, explain: true });
    expect({ where, segment: segment.name, value: quiet.value, next: quiet.next, reason: quiet.reason }).toEqual({
      where,
      segment: segment.name,
      value: explained.value,
      next: explained.next,
      reason: '',
    });
    expect(explained.reason).not.toBe('');
  }
}

describe.each([1, 2, 3])('quiet and explained evaluations agree (seed %i)', (seed) => {
  it.each([
    ['the shipped definitions', shippedDefinitions()],
    ['every kind of condition', extra],
  ])('%s, after every input and at moments between', (_name, defs) => {
    const random = seededRandom(seed);
    let state: SegmentState | null = null;
    let now = T0 + 7 * HOUR;
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(random() * random() * 6 * HOUR);
      if (state !== null) {
        expectQuietAgrees(defs, state, now - Math.floor(random() * 20 * MINUTE), `between ${i}`);
        checked += 1;
      }
      state = applyEvent(state, randomEvent(random, i, now), defs, now).state;
      if (state !== null) {
        expectQuietAgrees(defs, state, now, `after ${i}`);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});

describe('trimming in place', () => {
  it('leaves a state that was not handed over untouched, and gives the same result as handing it over', () => {
    const defs = extra;
    const random = seededRandom(7);
    let state: SegmentState | null = null;
    let now = T0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(random() * random() * 6 * HOUR);
      const input = randomEvent(random, i, now);
      const before = JSON.stringify(state);
      const kept = applyEvent(state, input, defs, now);
      expect(JSON.stringify(state)).toBe(before);
      const handed = applyEvent(state === null ? null : (JSON.parse(before) as SegmentState), input, defs, now, { handOver: true });
      expect(handed).toEqual(kept);
      if (kept.wakeAt !== null && random() < 0.3) {
        const woken = JSON.stringify(kept.state);
        const timer = reevaluate(kept.state, defs, kept.wakeAt);
        expect(JSON.stringify(kept.state)).toBe(woken);
        state = timer.state;
      } else state = kept.state;
    }
  });
});

/** Pruning `state` whole at `now` finds nothing more to drop (an input the engine settled leaves it so). */
function expectPrunedWhole(state: SegmentState | null, defs: readonly SegmentDefinition[], now: number): void {
  if (state === null) return;
  const again = structuredClone(state);
  pruneAggregates(again, planFor(defs), now);
  expect(again).toEqual(state);
}

describe('segments evaluated again only where an event reached their inputs', () => {
  // A handed-over state with its SegmentEvaluations keeps each segment's last evaluation at one
  // `now` (the segmenter's batch): an event re-evaluates only the segments reading an aggregate
  // it changed, and prunes only those aggregates. Copying the state for every input evaluates
  // every segment every time: both must agree, and every state settled must come out pruned whole.
  const withProfile = defsOf([
    ...EVERY_KIND,
    { name: 'gold_buyer', conditions: { all: [{ profile: { field: 'attributes.tier', eq: 'gold' } }, { count: { event: 'purchase', within: '3d', gte: 1 } }] } },
  ]);

  // More products than a grouped count keeps groups (MAX_GROUPS), over a window that holds them.
  const manyGroups = defsOf([...EVERY_KIND, { name: 'browsed_twice', conditions: { count: { event: 'product_view', group_by: 'product_id', within: '30d', gte: 2 } } }]);

  it.each([
    ['the shipped definitions', shippedDefinitions()],
    ['every kind of condition, and a profile', withProfile],
  ])('%s: batches of events at one moment, profiles, erasures and timers between, give what evaluating every segment gives', (_name, defs) => {
    const random = seededRandom(23);
    let handed: SegmentState | null = null;
    let copied: SegmentState | null = null;
    let now = T0 + 7 * HOUR;
    let reused = 0;
    const use = { handOver: true, evaluations: new SegmentEvaluations() };
    const summary = (result: SegmentResult) => [result.changes, result.triggers, result.wakeAt, result.ignored];
    for (let batch = 0; batch < 150; batch += 1) {
      now += Math.floor(random() * random() * 12 * HOUR);
      const size = 1 + Math.floor(random() * 12);
      for (let i = 0; i < size; i += 1) {
        const roll = random();
        let results: [SegmentResult, SegmentResult];
        if (roll < 0.03) {
          // A tombstone: the state goes, and the customer's next event starts a new one.
          results = [applyProfile(handed, null, defs, now, use), applyProfile(copied, null, defs, now)];
        } else if (roll < 0.1) {
          const profile = customerProfile({ customer_id: CUSTOMER, updated_at: now + i, attributes: { tier: random() < 0.5 ? 'gold' : 'silver' } });
          results = [applyProfile(handed, profile, defs, now, use), applyProfile(copied, profile, defs, now)];
        } else if (roll < 0.14 && handed !== null) {
          results = [reevaluate(handed, defs, now, use), reevaluate(copied, defs, now)];
        } else {
          const input = randomEvent(random, batch * 100 + i, now);
          results = [applyEvent(handed, input, defs, now, use), applyEvent(copied, input, defs, now)];
          if (i > 0 && results[1].ignored === null) reused += 1;
        }
        expect({ batch, i, handed: summary(results[0]) }).toEqual({ batch, i, handed: summary(results[1]) });
        expect(results[0].state).toEqual(results[1].state);
        if (results[0].ignored === null) expectPrunedWhole(results[0].state, defs, now);
        [handed, copied] = [results[0].state, results[1].state];
      }
    }
    expect(reused).toBeGreaterThan(300); // events after the first of a batch: where the kept evaluations are used
  });

  it(`a grouped count over more products than its ${MAX_GROUPS} groups: views of kept, new and dropped products within one batch prune as a whole prune does`, () => {
    const random = seededRandom(5);
    const now = T0 + 40 * DAY;
    const use = { handOver: true, evaluations: new SegmentEvaluations() };
    let handed: SegmentState | null = null;
    let copied: SegmentState | null = null;
    let groups = 0;
    // First views of 1.5x MAX_GROUPS products, then views of any of twice as many, some late.
    for (let i = 0; i < 4 * MAX_GROUPS; i += 1) {
      const product = i < 1.5 * MAX_GROUPS ? i : Math.floor(random() * 3 * MAX_GROUPS);
      const late = random() < 0.2 ? Math.floor(random() * 40 * DAY) : 0;
      const view = behaviorEvent({ event_id: `g${i}`, customer_id: CUSTOMER, type: 'product_view', occurred_at: now - 20 * DAY + i * MINUTE - late, product_id: `p${product}` });
      const results: [SegmentResult, SegmentResult] = [applyEvent(handed, view, manyGroups, now, use), applyEvent(copied, view, manyGroups, now)];
      expect({ i, changes: results[0].changes }).toEqual({ i, changes: results[1].changes });
      expect(results[0].state).toEqual(results[1].state);
      expectPrunedWhole(results[0].state, manyGroups, now);
      [handed, copied] = [results[0].state, results[1].state];
      groups = Math.max(groups, Object.keys(handed?.a['product_view']?.g?.product_id ?? {}).length);
    }
    expect(groups).toBe(MAX_GROUPS); // the cap was reached, so groups were chosen among
  });
});
