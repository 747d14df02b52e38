import { phaseMeansMs, p99ByQuarter } from '../../../bench/latency';

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

describe('phaseMeansMs', () => {
  it('gives each phase\'s mean milliseconds per batch between two readings, to 0.1 ms', () => {
    const from = { read: { seconds: 1, count: 100 }, relay: { seconds: 3, count: 100 } };
    const to = { read: { seconds: 1.7, count: 200 }, relay: { seconds: 6.333, count: 200 } };
    expect(phaseMeansMs(to, from)).toEqual({ read: 7, relay: 33.3 });
  });

  it('counts a phase first seen after the first reading from zero, and leaves out one with no batch in between', () => {
    const from = { read: { seconds: 2, count: 10 }, timers: { seconds: 0.5, count: 4 } };
    const to = { read: { seconds: 2, count: 10 }, timers: { seconds: 0.5, count: 4 }, apply: { seconds: 0.03, count: 3 } };
    expect(phaseMeansMs(to, from)).toEqual({ apply: 10 });
  });
});
