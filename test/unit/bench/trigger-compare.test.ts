import type { TriggerFired } from '../../../services/core/types';
import { canonicalTrigger, compareTriggers } from '../../../bench/trigger-compare';

const trigger = (id: string, over: Partial<TriggerFired> = {}): TriggerFired => ({
  trigger_id: id,
  rule: 'high_interest',
  customer_id: `c-${id}`,
  fired_at: 1_772_474_400_000,
  cause_event_id: `e-${id}`,
  context: { count: '4', window: '24h', product_id: 'p-1' },
  ...over,
});

describe('compareTriggers', () => {
  it('finds two runs with the same triggers the same, whatever their order and context key order', () => {
    const a = [trigger('1'), trigger('2', { rule: 'cart_abandoned', context: { within: '15m', cart_product_ids: 'p-1,p-2', product_id: 'p-2' } })];
    const b = [trigger('2', { rule: 'cart_abandoned', context: { product_id: 'p-2', cart_product_ids: 'p-1,p-2', within: '15m' } }), trigger('1')];
    const c = compareTriggers(a, b);
    expect(c).toMatchObject({ same: true, expected: 2, actual: 2, missing: 0, extra: 0, duplicates: 0, different: 0, examples: [] });
    expect(c.actual_by_rule).toEqual({ cart_abandoned: 1, high_interest: 1 });
  });

  it('counts missing, extra, duplicated and different triggers, with examples', () => {
    const expected = [trigger('1'), trigger('2'), trigger('3')];
    const actual = [trigger('1'), trigger('1'), trigger('3', { context: { count: '5', window: '24h', product_id: 'p-1' } }), trigger('4')];
    const c = compareTriggers(expected, actual);
    expect(c).toMatchObject({ same: false, missing: 1, extra: 1, duplicates: 1, different: 1 });
    expect(c.examples).toEqual([
      'duplicate 1 (high_interest c-1)',
      'missing 2 (high_interest c-2 cause e-2)',
      `different 3: ${canonicalTrigger(trigger('3'))} vs ${canonicalTrigger(actual[2])}`,
      'extra 4 (high_interest c-4 cause e-4)',
    ]);
  });

  it('compares fired_at and the cause too', () => {
    expect(compareTriggers([trigger('1')], [trigger('1', { fired_at: 1 })]).different).toBe(1);
    expect(compareTriggers([trigger('1')], [trigger('1', { cause_event_id: null })]).different).toBe(1);
  });
});
