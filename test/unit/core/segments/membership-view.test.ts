import { NO_FACTS, segmentMembershipView, SegmentMembershipViewError, segmentStateView, serializeSegmentState } from '../../../../services/core/segments';
import { emptyState } from '../../../../services/core/segments/state';

describe('segmentMembershipView', () => {
  it('reads the memberships of a state the segmenter serialized', () => {
    const state = { ...emptyState('c1'), m: ['engaged', 'vip'] };
    expect(segmentMembershipView(serializeSegmentState(state))).toEqual(['engaged', 'vip']);
  });

  it('is empty when there is no state', () => {
    expect(segmentMembershipView(null)).toEqual([]);
    expect(segmentMembershipView('')).toEqual([]);
    expect(segmentMembershipView(serializeSegmentState(emptyState('c1')))).toEqual([]);
  });

  it.each([
    ['a version it does not know', JSON.stringify({ v: 2, m: ['vip'] }), /state version 2 is unknown \(known: 1\)/],
    ['no version', JSON.stringify({ m: ['vip'] }), /state version null is unknown/],
    ['text that is not JSON', '{m:', /not JSON/],
    ['JSON that is not an object', '["vip"]', /not a JSON object/],
    ['memberships that are not names', JSON.stringify({ v: 1, m: ['vip', 3] }), /field `m` is not a list/],
    ['no memberships', JSON.stringify({ v: 1 }), /field `m` is not a list/],
  ])('throws a SegmentMembershipViewError on %s', (_case, stored, message) => {
    expect(() => segmentMembershipView(stored)).toThrow(SegmentMembershipViewError);
    expect(() => segmentMembershipView(stored)).toThrow(message);
  });
});

describe('segmentStateView', () => {
  it('reads segments and facts; no state means no segments and no facts', () => {
    expect(segmentStateView(null, 0)).toEqual({ segments: [], facts: NO_FACTS });
    // A state written by hand with only memberships (as older tests and tools do) has no facts.
    expect(segmentStateView(JSON.stringify({ v: 1, m: ['vip'] }), 0)).toEqual({ segments: ['vip'], facts: NO_FACTS });
    const stored = JSON.stringify({ v: 1, m: [], a: { purchase: { t: [10, 20] } }, x: { p: [20, 'p1'], v: [15, 'p2'] } });
    expect(segmentStateView(stored, 30)).toEqual({
      segments: [],
      facts: { lastPurchase: { at: 20, productId: 'p1' }, lastViewed: { at: 15, productId: 'p2' }, purchases30d: 2, purchases90d: 2 },
    });
  });

  it.each([
    ['facts that are not facts', JSON.stringify({ v: 1, m: [], x: { p: 'yesterday' } }), /field `x` \(facts\)/],
    ['purchase times that are not times', JSON.stringify({ v: 1, m: [], a: { purchase: { t: ['x'] } } }), /purchase times/],
    ['a version it does not know', JSON.stringify({ v: 2, m: [] }), /state version 2 is unknown/],
  ])('throws a SegmentMembershipViewError on %s', (_case, stored, message) => {
    expect(() => segmentStateView(stored, 0)).toThrow(SegmentMembershipViewError);
    expect(() => segmentStateView(stored, 0)).toThrow(message);
  });
});
