import { p99ByQuarter } from '../../../bench/latency';

describe('p99ByQuarter', () => {
  it('gives the p99 of the probes offered in each quarter of the window, in order', () => {
    // 100 probes a quarter over [0, 400): the first quarter's are slow, the others steady.
    const samples = Array.from({ length: 400 }, (_, i) => ({ sentAt: i, ms: i < 100 ? 1000 + i : 20 + (i % 100) / 10 }));
    expect(p99ByQuarter(samples, 0, 400)).toEqual([1098, 29.8, 29.8, 29.8]);
  });

  it('puts a probe at the very end in the last quarter and one before the window in the first, and gives NaN to an empty quarter', () => {
    expect(p99ByQuarter([{ sentAt: -5, ms: 7 }, { sentAt: 400, ms: 9 }], 0, 400)).toEqual([7, NaN, NaN, 9]);
  });

  it('holds a window of no length', () => {
    expect(p99ByQuarter([{ sentAt: 10, ms: 3 }], 10, 10)).toEqual([3, NaN, NaN, NaN]);
  });
});
