/**
 * `make chaos`: the whole chain under faults, compared with the pure core's uninterrupted run
 * (bench/chaos/harness.ts; docs/chaos.md). Prints progress, then the table; writes it as JSON to
 * logs/chaos/result.json; exits 1 on any lost, extra or duplicate record or email, or a failed check.
 *
 *   node dist/bench/chaos/main.js                       full profile (10-minute soak)
 *   CHAOS_PROFILE=short CHAOS_SEED=7 node dist/bench/chaos/main.js
 *
 * CHAOS_PROFILE full|short (default full), CHAOS_SEED (default: time-based, printed),
 * CHAOS_SOAK_MINUTES (full only, default 10), CHAOS_REDIS_LOSS=0 (full only: leave out the Redis loss),
 * CHAOS_REDIS_CLUSTER=0 (full only: one redis-server instead of a 3-master cluster).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../services/kit/files';
import { chaosProfile, failures, formatTable, runChaos } from './harness';

async function main(): Promise<number> {
  const profileName = process.env.CHAOS_PROFILE?.trim() || 'full';
  const seed = Number(process.env.CHAOS_SEED?.trim() || Date.now() % 1_000_000);
  const soakMinutes = Number(process.env.CHAOS_SOAK_MINUTES?.trim() || 10);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`chaos: CHAOS_SEED=${process.env.CHAOS_SEED} is not a non-negative integer`);
  const profile = chaosProfile(profileName, seed, soakMinutes);
  const logs = join(projectRoot(), 'logs', 'chaos');
  mkdirSync(logs, { recursive: true });
  const result = await runChaos({ profile, dir: join(logs, `run-${profile.name}`) });
  const table = formatTable(result);
  console.log(`\n${table}\n`);
  writeFileSync(join(logs, 'result.json'), `${JSON.stringify({ ...result, table }, null, 2)}\n`);
  const bad = failures(result);
  if (bad.length > 0) {
    console.log(`chaos: FAILED (seed ${seed}; service logs in logs/chaos/run-${profile.name}/services):\n  ${bad.join('\n  ')}`);
    return 1;
  }
  console.log(`chaos: passed (seed ${seed}); table in logs/chaos/result.json`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  },
);
