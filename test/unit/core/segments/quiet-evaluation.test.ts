/**
 * The engine evaluates every segment for every input without reasons, and builds a reason only
 * where a membership changes. Both evaluations must agree on the value and the next flip, for
 * every kind of condition, at every moment; and the engine's in-place trimming must only ever
 * touch a state it owns.
 */
import { applyEvent, reevaluate, type SegmentDefinition, type SegmentState } from '../../../../services/core/segments';
import { evaluateCondition } from '../../../../services/core/segments/evaluate';
import { planFor } from '../../../../services/core/segments/plan';
import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';
import { CUSTOMER, DAY, HOUR, MINUTE, T0, defsOf, seededRandom, shippedDefinitions } from './harness';

const extra = defsOf([
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
]);

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
