/**
 * Guarantee 1 for the trigger service: SIGKILL at random moments mid-stream, each time
 * restarted, ends with exactly the triggers (by trigger_id) of an uninterrupted run.
 *
 * The reference is the pure detection core over the same events in the same per-partition
 * order (test/support/trigger-reference.ts: what one uninterrupted live instance fires). It is
 * independent of the crash run (no Kafka, no Redis, no adapter, no batching), so a bug of the
 * adapter, of the fence or of the relay cannot hide in both runs alike, and it costs no second
 * 50,000-event run.
 *
 * Timers are due by stream time, or by the service clock once a partition is caught up; a
 * child process reads the wall clock, so whether a cart timer fired by the clock before or
 * after its purchase was produced would depend on timing. So every event is dated one to
 * three days ahead of the wall (the child accepts it with MAX_CLOCK_SKEW=7d): the clock never
 * reaches a due time, every timer fires by stream time alone, decided by the log, and timers
 * are stored, fired and cancelled across the kills. Rebalances are covered by
 * rebalance-timers.test.ts.
 *
 * Most of the run is waiting: a killed member stays in the group until its session times out
 * (kafkajs' default, 30 s), so each restarted instance gets its partitions about 30 s after
 * the kill. Guarantee 7: the relay produces in Kafka transactions with its checkpoint
 * (OUTPUT_GUARANTEE=exactly_once, the default), so a read_committed reader of the triggers
 * topic sees no record twice although kills land between producing and trimming.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Admin } from 'kafkajs';
import type { TriggerFired } from '../../../services/core/types';
import { loadTriggerRules } from '../../../services/trigger/main';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { referenceTriggers } from '../../support/trigger-reference';
import { collect, exited, kafka, readAll, ROOT, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';
import { seededRandom, shopTraffic } from '../../../services/tools/synthetic';

const TOTAL = 50_000;
const PARTITIONS = 6;
const KILLS = 3;
/** Records produced per send, and how far the stream may run ahead of the group's commits. */
const CHUNK = 500;
const LAG = 4000;
const DAY = 24 * 3600_000;
const RULES_FILE = 'config/triggers.yaml';

/** What dist/services/trigger/main.js is compiled from. */
const SERVICE_SOURCES = ['services/trigger', 'services/kit', 'services/core'];

/** The sources under SERVICE_SOURCES whose compiled file is missing or older. */
function staleSources(): string[] {
  const stale = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return stale(path);
      if (!entry.name.endsWith('.ts')) return [];
      const built = join(ROOT, 'dist', relative(ROOT, path)).replace(/\.ts$/, '.js');
      return !existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs ? [relative(ROOT, path)] : [];
    });
  return SERVICE_SOURCES.flatMap((dir) => stale(join(ROOT, dir)));
}

/**
 * Runs `npx tsc -p tsconfig.build.json` and copies the build's assets (infra/dist-assets.js) unless the service's build is current. tsc emits even
 * when some other part of the tree does not type-check; only the service's files must be fresh.
 */
function ensureBuilt(): void {
  // The Lua scripts and schemas the service reads sit beside the build (cheap to copy again).
  const copyAssets = () => execFileSync(process.execPath, ['infra/dist-assets.js'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  if (staleSources().length === 0) return void copyAssets();
  let output = '';
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    copyAssets();
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? err);
  }
  const stillStale = staleSources();
  if (stillStale.length > 0) throw new Error(`the build left ${stillStale.join(', ')} stale:\n${output}`);
}

describe('the trigger service killed with SIGKILL mid-stream', () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed + 1);
  let pipeline: TestPipeline;
  let admin: Admin;
  const children = new Set<ChildProcess>();
  const logs: Array<() => string> = [];
  let testOver = false; // stops the stream when the test fails early

  beforeAll(async () => {
    ensureBuilt();
    pipeline = await createTestPipeline('crash', PARTITIONS);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    testOver = true;
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await admin?.disconnect();
    await pipeline?.close();
  });

  function start(): ChildProcess {
    const child = spawnNode('services/trigger/main.js', [], {
      ...pipeline.env, TRIGGER_RULES_FILE: RULES_FILE, HTTP_PORT: '0', LOG_LEVEL: 'warn', KAFKA_SESSION_TIMEOUT: '8s', MAX_CLOCK_SKEW: '7d', TIMER_INTERVAL_MS: '200',
    });
    children.add(child);
    const err = collect(child.stderr);
    collect(child.stdout);
    logs.push(err.text);
    void exited(child).then(() => children.delete(child));
    return child;
  }

  /** Records of the input the group has committed, over all partitions. */
  async function committed(): Promise<number> {
    const [topic] = await admin.fetchOffsets({ groupId: pipeline.env.GROUP_ID, topics: [pipeline.topics.events] });
    return topic.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  }

  it(`ends with the triggers of an uninterrupted run after ${KILLS} kills during ${TOTAL} events`, async () => {
    const now = Date.now();
    const events = shopTraffic({ total: TOTAL, customers: 3000, products: 300, seed, from: now + DAY, to: now + 3 * DAY });

    // The reference: the pure core over the same events, in the same order per partition; the
    // clock never reaches a due time (see the header), so only the stream time fires timers.
    const rules = loadTriggerRules(RULES_FILE);
    const expected = referenceTriggers(events, rules, { partitions: PARTITIONS, now, endDueBy: 'stream-time' });
    const expectedByRule = countBy([...expected.values()], (t) => t.rule);
    expect(expectedByRule.high_interest).toBeGreaterThan(1000);
    expect(expectedByRule.cart_abandoned).toBeGreaterThan(1000);

    // Kill k lands when the group has committed targets[k]: a random point in the k-th of
    // KILLS + 1 equal parts of the stream (between 20% and 90% into it).
    const part = events.length / (KILLS + 1);
    const targets = Array.from({ length: KILLS }, (_, k) => Math.floor(part * (k + 0.2 + 0.7 * random())));

    // The stream: produced in chunks while the service runs, never more than LAG records ahead
    // of the group's commits nor beyond the next kill's target + LAG, so batches stay
    // stream-sized and each kill finds records still arriving and being processed.
    let kill = 0;
    let produced = 0;
    let done = 0; // the latest committed count seen
    let streamError: unknown;
    const progress = async () => {
      if (streamError) throw streamError;
      done = await committed();
      return done;
    };
    // A kill produces a chunk of its own and kills as soon as the broker acknowledged it (the
    // stream waits meanwhile): the service cannot have relayed and committed records it has at
    // most just fetched, so every kill lands with records produced and not committed.
    let killing = false;
    let producing: Promise<void> = Promise.resolve();
    const produceUpTo = (next: number): Promise<void> => {
      const from = produced;
      producing = pipeline.produceEvents(events.slice(from, next)).then(() => void (produced = next));
      return producing;
    };
    const stream = (async () => {
      while (produced < events.length && !testOver) {
        const limit = Math.min(events.length, done + LAG, kill < KILLS ? targets[kill] + LAG : Infinity);
        if (produced >= limit || killing) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          done = await committed();
          continue;
        }
        await produceUpTo(Math.min(limit, produced + CHUNK));
      }
    })().catch((err: unknown) => (streamError = err));

    let child = start();
    const kills: Array<{ target: number; produced: number; committed: number; ms: number }> = [];
    const started = Date.now();
    for (; kill < KILLS; kill += 1) {
      const target = targets[kill];
      await waitFor(
        `the group to commit ${target} records (kill ${kill + 1})`,
        async () => {
          if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}): ${logs.at(-1)?.()}`);
          return (await progress()) >= target;
        },
        90_000,
      );
      await new Promise((resolve) => setTimeout(resolve, random() * 100));
      killing = true;
      await producing;
      await produceUpTo(Math.min(events.length - 1, produced + CHUNK));
      const producedAtKill = produced;
      child.kill('SIGKILL');
      killing = false;
      expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });
      kills.push({ target, produced: producedAtKill, committed: await progress(), ms: Date.now() - started });
      process.stdout.write(`crash-recovery: kill ${kills.length} ${JSON.stringify(kills.at(-1))}\n`);
      child = start();
    }
    await stream;
    if (streamError) throw streamError;
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events, 120_000);
    // The timers due by each partition's final stream time fire at the next tick.
    await waitFor('the last due timers to fire', async () => new Set((await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).map((t) => t.trigger_id)).size >= expected.size, 60_000);
    const elapsed = Date.now() - started;

    // Every kill landed mid-stream: records produced and not yet committed, more still to come.
    for (const kill of kills) {
      expect(kill.committed).toBeGreaterThan(0);
      expect(kill.produced).toBeGreaterThan(kill.committed);
      expect(kill.produced).toBeLessThan(events.length);
    }
    // The relay runs before each commit and after each tick: the outboxes are empty.
    const outboxes = (await pipeline.redisKeys()).filter((key) => key.endsWith(':outbox'));
    expect(outboxes).toEqual([]);

    const records = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    const ids = new Set(records.map((t) => t.trigger_id));
    const missing = [...expected.keys()].filter((id) => !ids.has(id));
    const extra = [...ids].filter((id) => !expected.has(id));
    // A firing repeated by a crash window carries the same id: one id per (rule, customer, cause).
    const idsPerFiring = new Map<string, Set<string>>();
    for (const t of records) {
      const firing = `${t.rule}|${t.customer_id}|${t.cause_event_id}`;
      idsPerFiring.set(firing, (idsPerFiring.get(firing) ?? new Set()).add(t.trigger_id));
    }
    const firingsWithSeveralIds = [...idsPerFiring].filter(([, set]) => set.size > 1).map(([firing]) => firing);
    const repeated = records.length - ids.size;
    console.log(
      `crash-recovery (seed ${seed}): ${events.length} events, ${kills.length} kills (committed/produced ${kills.map((k) => `${k.committed}/${k.produced} at t+${k.ms} ms`).join(', ')}), caught up after ${elapsed} ms; ${expected.size} trigger ids expected ` +
        `(${JSON.stringify(expectedByRule)}), ${ids.size} distinct on the topic, ${records.length} records, ${repeated} repeated`,
    );
    expect({ missing: missing.slice(0, 10), extra: extra.slice(0, 10), firingsWithSeveralIds: firingsWithSeveralIds.slice(0, 10) }).toEqual({
      missing: [],
      extra: [],
      firingsWithSeveralIds: [],
    });
    expect(ids.size).toBe(expected.size);
    expect(repeated).toBe(0);
    // Each record says what the reference says, apart from fired_at (the service clock).
    const differing = records.filter((t) => !isDeepStrictEqual({ ...t, fired_at: 0 }, { ...expected.get(t.trigger_id), fired_at: 0 }));
    expect(differing.slice(0, 3).map((t) => ({ got: t, expected: expected.get(t.trigger_id) }))).toEqual([]);
    // Nothing was dead-lettered.
    expect(await readAll(`${pipeline.topics.events}.dlq`)).toEqual([]);

    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  }, 175_000);
});

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
