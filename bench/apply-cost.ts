/**
 * Redis time per applyPartitionChange call with and without the exactly_once relay's cover mark
 * (PartitionStateStore's `coverOutbox`: the change's last outbox record carries the fence's
 * cover, applyPartitionChange-n.lua): the same build, the same change shape as a trigger
 * service's apply (one customer's 158-byte state, a timer, 3 outbox records of about 400
 * characters), alternating off and on (each pair in the other order). Redis's own time per EVALSHA from `INFO commandstats`,
 * reset before each side, so the client's round trips are not in it.
 *
 *   node dist/bench/apply-cost.js [calls per side (5000)] [pairs (3)]
 *
 * Needs only Redis (REDIS_URL, 127.0.0.1:6379 by default); its keys are deleted after each side.
 * It resets Redis's command statistics (CONFIG RESETSTAT): not for a Redis others measure.
 */
import { createRedis, type RedisClient } from '../services/kit/redis';
import { encodeOutboxRecord } from '../services/kit/outbox-relay';
import { PartitionKeys, PartitionStateStore, type PartitionChange } from '../services/kit/partition-state';
import { deleteKeysMatching } from '../services/kit/redis-scan';
import { commandMicros } from './redis-nodes';
import { positiveIntList } from './targets';

const WARMUP_CALLS = 200;

/** The trigger service's apply of one customer's batch: its state, its timer, three triggers. */
function change(i: number): PartitionChange {
  const customer = `c${i % 500}`;
  return {
    advance: { topic: 'events', offset: String(i) },
    incarnation: 'apply-cost',
    streamTime: 1_700_000_000_000 + i,
    states: new Map([[customer, Buffer.alloc(158, i % 256)]]),
    outbox: [0, 1, 2].map((k) => encodeOutboxRecord({ topic: 'triggers', key: customer, value: Buffer.alloc(300, k) })),
    timers: new Map([[customer, 1_700_000_900_000 + i]]),
    sets: [],
    counters: [],
  };
}

/** Microseconds of Redis time per EVALSHA since the last CONFIG RESETSTAT. */
async function evalshaMicros(redis: RedisClient): Promise<number> {
  const micros = (await commandMicros(redis)).evalsha;
  if (micros === undefined) throw new Error('apply-cost: INFO commandstats has no evalsha line; was the script run?');
  return micros;
}

async function side(redis: RedisClient, cover: boolean, calls: number, prefix: string): Promise<number> {
  const keys = new PartitionKeys(prefix, 'trigger');
  const store = new PartitionStateStore(redis, keys, 86_400_000, true, cover);
  let version = 0;
  try {
    for (let i = 0; i < WARMUP_CALLS + calls; i += 1) {
      if (i === WARMUP_CALLS) await redis.config('RESETSTAT');
      const applied = await store.applyChange(0, version, change(i));
      if (applied === null) throw new Error(`apply-cost: the fence of ${prefix} moved under the measurement; is another process using that prefix?`);
      version = applied.version;
      // The relay would trim what it produced; keep the list short as it does.
      if (i % 1000 === 999) await redis.ltrim(keys.outbox(0), -10, -1);
    }
    return await evalshaMicros(redis);
  } finally {
    await deleteKeysMatching(redis, keys.pattern());
  }
}

async function main(): Promise<void> {
  const [calls = 5000, pairs = 3] = positiveIntList('apply-cost arguments', process.argv.slice(2).join(',') || undefined, [5000, 3]);
  const redis = createRedis({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, { connectionName: 'kairos-bench-apply-cost' });
  try {
    const run = Date.now().toString(36);
    for (let pair = 1; pair <= pairs; pair += 1) {
      // Each pair in the other order from the last, so neither side is always the second.
      const measure = (cover: boolean) => side(redis, cover, calls, `applycost-${run}-${pair}-${cover ? 'on' : 'off'}`);
      const [off, on] = pair % 2 === 1 ? [await measure(false), await measure(true)] : [await measure(true), await measure(false)].reverse();
      console.log(`pair ${pair}/${pairs}: ${calls} calls a side, Redis time per applyPartitionChange ${off.toFixed(1)} us without the cover mark, ${on.toFixed(1)} us with it (${(on - off).toFixed(1)} us)`);
    }
  } finally {
    await redis.quit();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
