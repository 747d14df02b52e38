import { Gauge, Registry } from 'prom-client';
import { sampleOverdueTimers, type OverdueTimerWatch } from '../../../services/kit/timer-watch';
import { createLogger } from '../../../services/kit/logger';
import type { RedisClient } from '../../../services/kit/redis';

/** A Redis that knows only ZRANGE key 0 0 WITHSCORES over fixed sorted sets. */
function fakeRedis(sets: Record<string, Array<[string, number]>>): RedisClient {
  return {
    zrange: async (key: string) => {
      const first = [...(sets[key] ?? [])].sort((a, b) => a[1] - b[1])[0];
      return first ? [first[0], String(first[1])] : [];
    },
  } as unknown as RedisClient;
}

async function series(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('kairos_timers_overdue_seconds')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.partition), v.value]));
}

describe('the overdue-timer gauge', () => {
  const now = 1_000_000;
  const registry = new Registry();
  const gauge = new Gauge({ name: 'kairos_timers_overdue_seconds', help: 'h', labelNames: ['partition'] as const, registers: [registry] });
  const watch = (sets: Record<string, Array<[string, number]>>): OverdueTimerWatch => ({
    redis: fakeRedis(sets),
    timersKey: (p) => `t:${p}`,
    gauge,
    clock: () => now,
    logger: createLogger({ service: 'test', level: 'fatal' }),
  });

  it('shows how long ago the oldest timer of each owned partition fell due, 0 for none due or none at all', async () => {
    const shown = new Set<number>();
    await sampleOverdueTimers(watch({ 't:0': [['a', now - 90_000], ['b', now - 5_000]], 't:1': [['c', now + 60_000]] }), [0, 1, 2], shown);
    expect(await series(registry)).toEqual({ '0': 90, '1': 0, '2': 0 });
  });

  it('drops the series of a partition the instance no longer owns', async () => {
    const shown = new Set<number>();
    await sampleOverdueTimers(watch({ 't:3': [['a', now - 1_000]] }), [3, 4], shown);
    await sampleOverdueTimers(watch({ 't:3': [['a', now - 1_000]] }), [4], shown);
    const values = await series(registry);
    expect(values['3']).toBeUndefined();
    expect(values['4']).toBe(0);
    expect([...shown]).toEqual([4]);
  });
});
