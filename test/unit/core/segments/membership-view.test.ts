import { segmentMembershipView, SegmentMembershipViewError, serializeSegmentState } from '../../../../services/core/segments';
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
