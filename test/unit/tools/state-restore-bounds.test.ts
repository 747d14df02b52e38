import { checkpointMetadataOf } from '../../../services/kit/outbox-relay';
import { commitMetadata } from '../../../services/kit/log-binding';
import { checkedGroup, coversOf, restoreBounds } from '../../../services/tools/state';

const TOPIC = 'behavior.events';
const ranges = [0, 1, 2].map((partition) => ({ partition, low: '0', high: '100' }));
const commit = (partition: number, offset: string, incarnation = 'fence-a') => ({ partition, offset, metadata: commitMetadata(incarnation) });
const checkpoint = (partition: number, offsets: Record<string, string>, timersThrough: number | null = null, incarnation = 'fence-a') => ({
  partition,
  offset: '9',
  metadata: checkpointMetadataOf('outbox-1', 'relay-1', { incarnation, offsets, timersThrough }),
});

describe('state rebuild: the restore bound of each partition', () => {
  it("is the group's commit when the relay recorded nothing further", () => {
    expect(restoreBounds(TOPIC, ranges, [commit(0, '40'), commit(1, '0'), commit(2, '-1')])).toEqual([{ partition: 0, offset: '40', covered: false, timersThrough: null }]);
    const covers = coversOf([checkpoint(0, { [TOPIC]: '30' }, 5_000)]);
    expect(restoreBounds(TOPIC, ranges, [commit(0, '40')], covers)).toEqual([{ partition: 0, offset: '40', covered: false, timersThrough: 5_000 }]);
  });

  it("goes past the commit to what the relay's last transaction covered: a batch relayed but never committed", () => {
    const covers = coversOf([checkpoint(0, { [TOPIC]: '57' }, 5_000), checkpoint(1, { 'customer.profiles': '3' })]);
    expect(restoreBounds(TOPIC, ranges, [commit(0, '40'), commit(1, '12')], covers)).toEqual([
      { partition: 0, offset: '58', covered: true, timersThrough: 5_000 },
      { partition: 1, offset: '12', covered: false, timersThrough: null },
    ]);
    expect(restoreBounds('customer.profiles', ranges, [commit(1, '2')], covers)).toEqual([{ partition: 1, offset: '4', covered: true, timersThrough: null }]);
  });

  it('ignores a cover of another state (reset or rebuilt since: the commits name another incarnation) or with no commit to bind it', () => {
    const covers = coversOf([checkpoint(0, { [TOPIC]: '57' }, 5_000, 'fence-old'), checkpoint(1, { [TOPIC]: '57' })]);
    expect(restoreBounds(TOPIC, ranges, [commit(0, '40', 'fence-new')], covers)).toEqual([{ partition: 0, offset: '40', covered: false, timersThrough: null }]);
    expect(restoreBounds(TOPIC, ranges, [{ partition: 0, offset: '40', metadata: null }], covers)).toEqual([{ partition: 0, offset: '40', covered: false, timersThrough: null }]);
  });

  it('never passes the log end, and leaves out partitions with no progress past the log start', () => {
    const covers = coversOf([checkpoint(0, { [TOPIC]: '500' })]);
    expect(restoreBounds(TOPIC, ranges, [commit(0, '40')], covers)).toEqual([{ partition: 0, offset: '100', covered: true, timersThrough: null }]);
    const truncated = [{ partition: 0, low: '60', high: '100' }];
    expect(restoreBounds(TOPIC, truncated, [commit(0, '50')])).toEqual([]);
  });

  it('reads covers only from checkpoints that carry one', () => {
    expect(coversOf([{ partition: 0, offset: '9', metadata: 'outbox-1/relay-1' }, { partition: 1, offset: '-1', metadata: null }]).size).toBe(0);
  });
});

describe('state tool: the consumer group it reads or resets', () => {
  it('takes a --group the services would take (GROUP_ID), and none', () => {
    expect(checkedGroup('kairos-segmenter')).toBe('kairos-segmenter');
    expect(checkedGroup('x'.repeat(255))).toBe('x'.repeat(255));
    expect(checkedGroup(undefined)).toBeUndefined();
  });

  it('refuses one longer than 255 characters or with a control character, naming the flag', () => {
    expect(() => checkedGroup('x'.repeat(256))).toThrow(/^--group: "x+" is not a consumer group id; expected up to 255 characters/);
    expect(() => checkedGroup('kairos\nsegmenter')).toThrow(/--group: "kairos\\nsegmenter" is not a consumer group id/);
    expect(() => checkedGroup('')).toThrow(/--group: "" is not/);
  });
});
