import { ownLiveHeap } from '../../../bench/chaos/harness';

describe('ownLiveHeap: each process compared with itself', () => {
  const MB = 1024;
  /** Samples every 5 s of one process from `from` to `to` s, its live heap given per time. */
  const life = (pid: number, from: number, to: number, mb: (t: number) => number) =>
    Array.from({ length: Math.floor((to - from) / 5) + 1 }, (_, i) => {
      const t = (from + i * 5) * 1000;
      return { t, kb: mb(t / 1000) * MB, pid };
    });

  it('takes the longest-lived process and leaves its first minute out', () => {
    // pid 1 grows from 10 MB to 40 MB in its first minute (warm-up), then stays at 40; pid 2 is young.
    const samples = [...life(1, 0, 600, (t) => (t < 60 ? 10 + t / 2 : 40)), ...life(2, 400, 600, () => 20)];
    expect(ownLiveHeap(samples, 200_000)).toEqual({ pid: 1, lifeS: 600, first: 40, last: 40 });
  });
  it('shows a process whose live heap keeps growing', () => {
    const own = ownLiveHeap(life(7, 0, 600, (t) => 20 + t / 10), 200_000);
    expect(own?.pid).toBe(7);
    expect(own!.last).toBeGreaterThan(own!.first * 1.25 + 10);
  });
  it('is null when no process lived long enough', () => {
    expect(ownLiveHeap([...life(1, 0, 100, () => 20), ...life(2, 100, 250, () => 20)], 200_000)).toBeNull();
  });
});
