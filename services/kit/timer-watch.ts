/**
 * The age of each owned partition's oldest pending timer, as the gauge
 * `kairos_timers_overdue_seconds{partition}`: how long ago, by the service clock, its earliest
 * timer (a cart wait, a segment's time-based exit, a deferred send) fell due and has not fired
 * yet. Timers fire a tick after they fall due while the partition is caught up, so a value that
 * stays above a few seconds means one of two things: the partition is behind (timers wait for
 * the stream time, "Timers are judged by the log"; its lag says so), or its timer tick fails
 * (the log says `timer tick failed`). Alerted on in infra/observability/alerts.yaml.
 */
import type { Gauge } from 'prom-client';
import type { BackgroundWork } from './consumer-service';
import type { Logger } from './logger';
import type { RedisClient } from './redis';
import { runEvery, type PeriodicTask } from './scheduling';

/** Sampled at most this often (Redis: one ZRANGE per owned partition per sample). */
const MIN_SAMPLE_INTERVAL_MS = 5000;

export interface OverdueTimerWatch {
  redis: RedisClient;
  /** The partition's timers sorted set (score = due time, ms). */
  timersKey: (partition: number) => string;
  gauge: Gauge<'partition'>;
  clock: () => number;
  logger: Logger;
}

/** Sets the gauge for `owned` and drops the series of partitions no longer owned (`shown`: partitions with a series). */
export async function sampleOverdueTimers(watch: OverdueTimerWatch, owned: readonly number[], shown: Set<number>): Promise<void> {
  const now = watch.clock();
  for (const partition of owned) {
    const oldest = (await watch.redis.zrange(watch.timersKey(partition), 0, 0, 'WITHSCORES')) as string[];
    const dueAt = oldest.length >= 2 ? Number(oldest[1]) : Number.NaN;
    const overdueSeconds = Number.isFinite(dueAt) && dueAt < now ? (now - dueAt) / 1000 : 0;
    watch.gauge.set({ partition: String(partition) }, overdueSeconds);
    shown.add(partition);
  }
  for (const partition of [...shown]) {
    if (owned.includes(partition)) continue;
    watch.gauge.remove({ partition: String(partition) });
    shown.delete(partition);
  }
}

/** `work` (the service's timer loop) plus the overdue-timer gauge of the partitions it runs for. */
export function withOverdueTimerGauge(work: BackgroundWork, watch: OverdueTimerWatch): BackgroundWork {
  let task: PeriodicTask | undefined;
  const shown = new Set<number>();
  return {
    start(partitions, intervalMs) {
      work.start(partitions, intervalMs);
      let failing = false;
      task = runEvery(Math.max(intervalMs, MIN_SAMPLE_INTERVAL_MS), async () => {
        try {
          await sampleOverdueTimers(watch, partitions(), shown);
          failing = false;
        } catch (err) {
          // Once per outage, not every sample: Redis errors are logged by the client already.
          if (!failing) watch.logger.warn({ err }, 'could not sample the overdue timers; kairos_timers_overdue_seconds is stale until Redis answers');
          failing = true;
        }
      });
    },
    async stop() {
      await task?.stop();
      await work.stop();
    },
    close: work.close ? () => work.close!() : undefined,
  };
}
