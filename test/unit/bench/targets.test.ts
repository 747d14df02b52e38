import { triggersWrittenBy, countBy, countDifferences, formatCounts, judge, judgeLatency, judgeTargets, latencyRatio, positiveIntList, ratio, streamsGuaranteeOf, type TargetFigures } from '../../../bench/targets';

const figures = (over: Partial<TargetFigures> = {}): TargetFigures => ({
  ceiling_eps: 100_000,
  kairos_eps: 50_000,
  segmenter_eps: 60_000,
  trigger_eps: 59_000,
  latency: [
    { offered_eps: 2000, achieved_eps: 2000, guarantee: 'exactly_once', p99_ms: 99, probes_missing: 0 },
    { offered_eps: 10_000, achieved_eps: 6000, guarantee: 'at_least_once', p99_ms: 40, probes_missing: 0 },
  ],
  growth: [{ events: 100_000, kairos_eps: 30_000 }, { events: 1_000_000, kairos_eps: 27_000 }],
  redis_bytes_per_customer: 400,
  render_only_eps: 16_000,
  render_bare_eps: 20_000,
  render_send_eps: 300,
  bare_ses_eps: 601,
  streams_eps: 39_334,
  streams_same_triggers: true,
  ...over,
});

describe('bench targets', () => {
  it('judges every target of the issue at its bound', () => {
    const t = judgeTargets(figures());
    expect(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, [v.value, v.target, v.met]]))).toEqual({
      kairos_to_ceiling: [0.5, '>= 0.5', true],
      segmenter_to_ceiling: [0.6, '>= 0.6', true],
      trigger_to_ceiling: [0.59, '>= 0.6', false],
      trigger_to_streams: [1.5, '>= 1.5', true],
      latency_p99_ms_at_2000_eps_exactly_once: [99, '< 100', true],
      latency_p99_ms_at_10000_eps_at_least_once: [40, '< 100', false],
      growth_eps_ratio: [0.9, '>= 0.9', true],
      redis_bytes_per_customer: [400, '<= 400', true],
      render_only_to_bare: [0.8, '>= 0.8', true],
      render_bare_eps: [20_000, '>= 20000', true],
      render_send_to_bare_ses: [0.5, '>= 0.5', true],
    });
  });

  it('does not meet a latency target whose rate was not produced, or whose probes did not all fire', () => {
    expect(judgeLatency({ offered_eps: 10_000, achieved_eps: 9400, guarantee: 'exactly_once', p99_ms: 10, probes_missing: 0 })).toMatchObject({ met: false, note: expect.stringMatching(/9400 of 10000/) });
    expect(judgeLatency({ offered_eps: 10_000, achieved_eps: 9500, guarantee: 'exactly_once', p99_ms: 10, probes_missing: 0 }).met).toBe(true);
    expect(judgeLatency({ offered_eps: 2000, achieved_eps: 2000, guarantee: 'exactly_once', p99_ms: 10, probes_missing: 3 })).toMatchObject({ met: false, value: 10 });
    expect(judge(100, '<', 100).met).toBe(false);
  });

  it('does not meet a target whose figure is missing', () => {
    const t = judgeTargets(figures({ redis_bytes_per_customer: null, render_send_eps: null, growth: [{ events: 10, kairos_eps: 5 }] }));
    expect(t.redis_bytes_per_customer.met).toBe(false);
    expect(t.render_send_to_bare_ses).toMatchObject({ value: null, met: false });
    expect(t.growth_eps_ratio).toMatchObject({ value: null, met: false, note: 'needs two growth sizes' });
    expect(ratio(1, 0)).toBeNull();
    expect(judge(Number.NaN, '<', 100).met).toBe(false);
  });

  it('does not meet the Kafka Streams target when the app was not run or wrote other triggers', () => {
    expect(judgeTargets(figures({ streams_eps: null, streams_same_triggers: null })).trigger_to_streams).toMatchObject({ value: null, met: false, note: 'the Kafka Streams app was not run' });
    expect(judgeTargets(figures({ streams_eps: 10_000, streams_same_triggers: false })).trigger_to_streams).toMatchObject({ value: 5.9, met: false, note: expect.stringMatching(/differ/) });
    expect(judgeTargets(figures({ streams_eps: 40_000 })).trigger_to_streams).toMatchObject({ value: 1.48, met: false });
  });

  it('counts firings by rule, sorted, and names the differences', () => {
    const counts = countBy([{ rule: 'high_interest' }, { rule: 'cart_abandoned' }, { rule: 'high_interest' }], (t) => t.rule);
    expect(Object.entries(counts)).toEqual([['cart_abandoned', 1], ['high_interest', 2]]);
    expect(formatCounts(counts)).toBe('cart_abandoned 1, high_interest 2');
    expect(formatCounts({})).toBe('none');
    expect(countDifferences(counts, { high_interest: 2, cart_abandoned: 1 })).toEqual([]);
    expect(countDifferences(counts, { high_interest: 1, other: 4 })).toEqual(['cart_abandoned: 1 vs 0', 'high_interest: 2 vs 1', 'other: 0 vs 4']);
  });

  it('splits the triggers by the service that writes them', () => {
    const all = { cart_abandoned: 3, high_interest: 5, 'segment:high_value_engaged': 1 };
    expect(triggersWrittenBy(all, { segmenter: false, trigger: true })).toEqual({ cart_abandoned: 3, high_interest: 5 });
    expect(triggersWrittenBy(all, { segmenter: true, trigger: false })).toEqual({ 'segment:high_value_engaged': 1 });
    expect(triggersWrittenBy(all, { segmenter: true, trigger: true })).toEqual(all);
  });

  it('reads list knobs', () => {
    expect(positiveIntList('X', undefined, [2000, 10_000])).toEqual([2000, 10_000]);
    expect(positiveIntList('X', '2000, 10000', [])).toEqual([2000, 10_000]);
    expect(() => positiveIntList('X', '2000,abc', [])).toThrow(/X=2000,abc/);
    expect(() => positiveIntList('X', '0', [])).toThrow();
  });

  it('compares a latency row with the Kafka Streams row of the matching guarantee', () => {
    expect(streamsGuaranteeOf('exactly_once')).toBe('exactly_once_v2');
    expect(streamsGuaranteeOf('at_least_once')).toBe('at_least_once');
    expect(latencyRatio(115, 317)).toBe(0.36);
    expect(latencyRatio(120, 60)).toBe(2);
    // A row with no probe timed has a NaN p99, and a row not measured none: no ratio, not NaN.
    expect(latencyRatio(Number.NaN, 60)).toBeNull();
    expect(latencyRatio(60, Number.NaN)).toBeNull();
    expect(latencyRatio(60, undefined)).toBeNull();
    expect(latencyRatio(60, 0)).toBeNull();
  });
});
