/**
 * What each service costs in memory and CPU, measured on a real run, for the Kubernetes
 * resource requests and the sizing guide (docs/sizing.md): every service of services/ started
 * from the build against the local stack (private topics, Redis prefix, consumer groups and
 * SES emulator), idle, then fed a synthetic shop (profiles, then events at a fixed rate) until
 * every group caught up. Samples each process's RSS and CPU time from /proc every second, and
 * at the end reads the batch-duration histograms and the Redis bytes per customer.
 *
 * Each service runs under the memory limit of its manifest (infra/k8s/base), in a memory cgroup
 * of its own, where this process may make one (bench/memory-cgroup.ts): Node then sizes its heap
 * as in a pod, and a service that does not fit its limit shows as OOM kills. Elsewhere, or with
 * FOOTPRINT_MEMORY_LIMITS=none, the services run without limits and the run says so.
 *
 *   node dist/bench/footprint.js          (make up first; FOOTPRINT_CUSTOMERS, FOOTPRINT_EVENTS,
 *                                          FOOTPRINT_RATE events/s, FOOTPRINT_IDLE_S,
 *                                          FOOTPRINT_MEMORY_LIMITS=manifests|none; logs/footprint.json)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Partitioners } from '../services/kit/kafkajs';
import { readSchema, valueSubject } from '../services/kit/codec';
import { projectRoot } from '../services/kit/files';
import { recordsBehind, topicEnds } from '../services/kit/kafka';
import { syntheticShop } from '../services/tools/synthetic';
import { intEnv } from './env';
import { BenchStack, kafka, types, waitUntil, withAdmin } from './stack';
import { onInterrupt, once, tracked } from './interrupt';
import { commandInCgroup, limitedCgroup, manifestsMemoryLimits, writableMemoryCgroup, type LimitedCgroup, type MemoryCgroupRoot } from './memory-cgroup';

const ROOT = projectRoot();
const CUSTOMERS = intEnv('FOOTPRINT_CUSTOMERS', 20_000);
const EVENTS = intEnv('FOOTPRINT_EVENTS', 200_000);
const RATE = intEnv('FOOTPRINT_RATE', 1000);
/** 0: load at once, without the idle measurement. */
const IDLE_S = intEnv('FOOTPRINT_IDLE_S', 20, 0);
const MEMORY_LIMITS = process.env.FOOTPRINT_MEMORY_LIMITS || 'manifests';
const PARTITIONS = 12;
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

const freePort = () => new Promise<number>((resolve, reject) => {
  const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});

interface Sample { t: number; rssMb: number; cpuS: number }
interface Running { name: string; port: number; child: ChildProcess; samples: Sample[]; cgroup: LimitedCgroup | null }

/** Where the services' limited cgroups go, or why the run has none (said once, and kept in the result). */
function cgroupRoot(): { root: MemoryCgroupRoot | null; note: string } {
  if (MEMORY_LIMITS === 'none') return { root: null, note: 'not applied (FOOTPRINT_MEMORY_LIMITS=none)' };
  if (MEMORY_LIMITS !== 'manifests') throw new Error(`FOOTPRINT_MEMORY_LIMITS=${MEMORY_LIMITS}: expected manifests (the default) or none`);
  const root = writableMemoryCgroup();
  if (typeof root === 'string') return { root: null, note: `not applied: ${root}` };
  return { root, note: `each service's manifest limit, in a cgroup v${root.version} of its own under ${root.dir}` };
}

/** Throws when a measured service has exited: its figures would be wrong, and an OOM kill is the finding. */
function assertRunning(running: Running[]): void {
  for (const r of running) {
    if (r.child.exitCode === null && r.child.signalCode === null) continue;
    const oom = r.cgroup?.oomKills() ?? 0;
    throw new Error(`${r.name} exited (${r.child.exitCode ?? r.child.signalCode})${r.cgroup ? `; OOM kills in its cgroup (limit ${Math.round(r.cgroup.limitBytes / 1048576)} MiB): ${oom}` : ''}`);
  }
}

function sample(pid: number): { rssMb: number; cpuS: number } | null {
  try {
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { rssMb: rssKb / 1024, cpuS: (Number(fields[11]) + Number(fields[12])) / TICKS }; // utime, stime
  } catch {
    return null;
  }
}

/** The smallest bucket bound under which `q` of the observations fall, per histogram, from a /metrics page. */
function quantileBound(page: string, metric: string, q: number): number | null {
  const buckets = [...page.matchAll(new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))].map(([, labels, value]) => ({ le: /le="([^"]+)"/.exec(labels)?.[1] ?? '', value: Number(value) }));
  const byLe = new Map<string, number>();
  for (const b of buckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.value); // summed over topics
  const total = byLe.get('+Inf') ?? 0;
  if (total === 0) return null;
  const bound = [...byLe].map(([le, v]) => ({ le: le === '+Inf' ? Infinity : Number(le), v })).sort((a, b) => a.le - b.le).find((b) => b.v >= q * total);
  return bound?.le ?? null;
}

const sumOf = (page: string, metric: string) => [...page.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((s, [, v]) => s + Number(v), 0);

async function main(): Promise<void> {
  const stack = new BenchStack();
  const services = readdirSync(join(ROOT, 'services')).filter((name) => existsSync(join(ROOT, 'dist', 'services', name, 'main.js'))).sort();
  const running: Running[] = [];
  let ses: ChildProcess | undefined;
  // At the end, after a failure, or on Ctrl-C / SIGTERM (bench/interrupt.ts: the children first), once.
  const cleanUp = once(async () => {
    for (const r of running) r.cgroup?.remove(); // empty once the children exited (an interrupt stops them first)
    await stack.cleanup();
  });
  const memoryLimits = cgroupRoot();
  process.stdout.write(`footprint: memory limits ${memoryLimits.note}\n`);
  const limits = memoryLimits.root === null ? new Map<string, number>() : manifestsMemoryLimits(join(ROOT, 'infra', 'k8s', 'base'));
  const removeInterrupt = onInterrupt({ cleanUp, progress: (text) => process.stdout.write(`footprint: ${text}\n`) });
  try {
    const input = await stack.createInput('fp', PARTITIONS);
    const out = await stack.createOutputs('fp', PARTITIONS);
    await stack.createTopics([{ topic: `${out.outcomes}.dlq`, schema: null }], PARTITIONS);
    const prefix = stack.prefix('fp');
    // A private SES emulator: the shared one's /store is what `make demo`'s recipients click.
    const sesPort = await freePort();
    ses = tracked(spawn(process.execPath, [join(ROOT, 'node_modules/aws-ses-v2-local/dist/cli.js'), '--host', '127.0.0.1', '--port', String(sesPort)], { stdio: 'ignore' }));
    await waitUntil('the private SES emulator', async () => (await fetch(`http://127.0.0.1:${sesPort}/store`).catch(() => null))?.ok === true, 30_000, 200);

    const ports = Object.fromEntries(await Promise.all(services.map(async (s) => [s, await freePort()] as const)));
    const urls = Object.fromEntries(services.map((s) => [`${s.toUpperCase()}_URL`, `http://127.0.0.1:${ports[s]}`]));
    for (const name of services) {
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        TOPIC_BEHAVIOR_EVENTS: input.events, TOPIC_CUSTOMER_PROFILES: input.profiles, TOPIC_TRIGGERS: out.triggers,
        TOPIC_SEGMENT_CHANGES: out.segmentChanges, TOPIC_EMAIL_OUTCOMES: out.outcomes, REDIS_KEY_PREFIX: prefix,
        HTTP_PORT: String(ports[name]), LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1',
        SES_ENDPOINT: `http://127.0.0.1:${sesPort}`, KAIROS_ENV: 'local', LINK_SIGNING_SECRET: 'local-development-only-link-signing-secret',
        ...(name === 'console' ? { ...urls, CONSOLE_CONSUMER_GROUPS: services.filter((s) => !['console', 'tracker'].includes(s)).map((s) => `${s}=${stack.run}-${s}`).join(',') } : { GROUP_ID: `${stack.run}-${name}` }),
        ...(name === 'renderer' ? { RECOMMENDER_URL: urls.RECOMMENDER_URL, SES_MAX_SEND_RATE: '100' } : {}),
      };
      const argv = [process.execPath, join(ROOT, 'dist', 'services', name, 'main.js')];
      const limit = limits.get(name);
      const cgroup = memoryLimits.root === null || limit === undefined ? null : limitedCgroup(memoryLimits.root, `kairos-footprint-${stack.run}-${name}`, limit);
      const { command, args } = cgroup === null ? { command: argv[0], args: argv.slice(1) } : commandInCgroup(cgroup.procsFile, argv);
      const child = tracked(spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }));
      running.push({ name, port: ports[name], child, samples: [], cgroup });
    }
    for (const r of running) {
      await waitUntil(`${r.name} ready`, async () => {
        assertRunning(running);
        return (await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => null))?.ok === true;
      }, 180_000, 500);
    }
    const started = Date.now();
    const timer = setInterval(() => {
      for (const r of running) {
        const s = r.child.pid === undefined ? null : sample(r.child.pid);
        if (s) r.samples.push({ t: Date.now() - started, ...s });
      }
    }, 1000);
    process.stdout.write(`footprint: ${services.join(', ')} ready; idle ${IDLE_S} s\n`);
    await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000));
    const loadFrom = Date.now() - started;

    const shop = syntheticShop({ customers: CUSTOMERS, events: EVENTS, now: Date.now(), seed: 11 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const profileId = await stack.codec.idOf(valueSubject(input.profiles), readSchema('CustomerProfile'));
    for (let i = 0; i < shop.profiles.length; i += 2000) {
      await producer.send({ topic: input.profiles, acks: -1, messages: shop.profiles.slice(i, i + 2000).map((p) => ({ key: p.customer_id, value: stack.codec.encode(profileId, types.CustomerProfile, p) })) });
    }
    process.stdout.write(`footprint: ${shop.profiles.length} profiles; ${shop.events.length} events at ${RATE}/s\n`);
    for (let i = 0; i < shop.events.length; i += RATE) {
      const second = Date.now();
      await producer.send({ topic: input.events, acks: -1, messages: shop.events.slice(i, i + RATE).map((e) => ({ key: e.customer_id, value: stack.encodeEvent(input.events, e) })) });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - second))));
    }
    await producer.disconnect();
    const producedAt = Date.now() - started;
    const groups = services.filter((s) => !['console', 'tracker'].includes(s)).map((s) => ({ group: `${stack.run}-${s}`, topics: s === 'renderer' ? [out.triggers] : s === 'results' ? [input.events, out.outcomes] : [input.events] }));
    await waitUntil('every group caught up', async () => {
      assertRunning(running);
      for (const { group, topics } of groups) {
        for (const topic of topics) {
          const behind = await withAdmin(async (admin) => {
            const [ends, committed] = await Promise.all([topicEnds(kafka, topic, admin), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
            return recordsBehind(ends, committed[0].partitions);
          });
          if (behind > 0) return false;
        }
      }
      return true;
    }, 15 * 60_000, 2000);
    const loadTo = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    clearInterval(timer);

    const pages = Object.fromEntries(await Promise.all(running.map(async (r) => [r.name, await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text()] as const)));
    const memory = await redisBytes(stack, prefix);
    const figures = running.map((r) => {
      const idle = r.samples.filter((s) => s.t < loadFrom);
      const load = r.samples.filter((s) => s.t >= loadFrom && s.t <= loadTo);
      const cpu = (list: Sample[]) => (list.length < 2 ? 0 : (list[list.length - 1].cpuS - list[0].cpuS) / ((list[list.length - 1].t - list[0].t) / 1000));
      // CPU over 5-second windows: the busiest is what a request must leave room for.
      const windows: number[] = [];
      for (let i = 5; i < load.length; i += 5) windows.push(cpu(load.slice(i - 5, i + 1)));
      const page = pages[r.name];
      const processed = sumOf(page, 'kairos_records_processed_total');
      const cpuUsed = load.length > 1 ? load[load.length - 1].cpuS - load[0].cpuS : 0;
      return {
        service: r.name,
        // FOOTPRINT_IDLE_S=0 may leave no idle sample: no idle figures then.
        rss_idle_mb: idle.length === 0 ? null : Math.round(Math.max(...idle.map((s) => s.rssMb))),
        rss_load_mean_mb: Math.round(load.reduce((s, x) => s + x.rssMb, 0) / Math.max(1, load.length)),
        rss_load_max_mb: Math.round(Math.max(...load.map((s) => s.rssMb))),
        cpu_idle_cores: idle.length < 2 ? null : Number(cpu(idle).toFixed(3)),
        cpu_load_mean_cores: Number(cpu(load).toFixed(3)),
        cpu_load_max5s_cores: Number(Math.max(0, ...windows).toFixed(3)),
        records_processed: processed,
        records_per_cpu_second: cpuUsed > 0 ? Math.round(processed / cpuUsed) : null,
        batch_p99_s_bound: quantileBound(page, 'kairos_consumer_batch_duration_seconds', 0.99),
        batch_max_s_bound: quantileBound(page, 'kairos_consumer_batch_duration_seconds', 1),
        emails_sent: r.name === 'renderer' ? sumOf(page, 'kairos_renderer_ses_sends_total') : undefined,
        memory_limit_mb: r.cgroup === null ? null : Math.round(r.cgroup.limitBytes / 1048576),
        oom_kills: r.cgroup === null ? null : r.cgroup.oomKills(),
      };
    });
    const result = {
      when: new Date().toISOString(),
      conditions: { customers: CUSTOMERS, events: shop.events.length, rate_per_s: RATE, partitions: PARTITIONS, idle_s: IDLE_S, load_s: Math.round((loadTo - loadFrom) / 1000), produce_s: Math.round((producedAt - loadFrom) / 1000), cores: 2, load_average: readFileSync('/proc/loadavg', 'utf8').trim(), memory_limits: memoryLimits.note },
      services: figures,
      redis: memory,
    };
    mkdirSync(join(ROOT, 'logs'), { recursive: true });
    writeFileSync(join(ROOT, 'logs', 'footprint.json'), JSON.stringify(result, null, 2) + '\n');
    console.table(figures);
    console.log(JSON.stringify({ conditions: result.conditions, redis: memory }, null, 2));
  } finally {
    for (const r of running) r.child.kill('SIGTERM');
    await Promise.all(running.map((r) => new Promise((resolve) => (r.child.exitCode !== null || r.child.signalCode !== null ? resolve(null) : r.child.once('exit', resolve)))));
    ses?.kill('SIGTERM');
    await cleanUp();
    removeInterrupt();
  }
}

/** Redis bytes (MEMORY USAGE) by service and kind of key: per-customer state (`:c:`) and the rest. */
async function redisBytes(stack: BenchStack, prefix: string): Promise<Record<string, { keys: number; customer_state_bytes: number; other_bytes: number; customers: number }>> {
  const keys = await stack.keysOf(prefix);
  const by: Record<string, { keys: number; customer_state_bytes: number; other_bytes: number; customers: number }> = {};
  for (let i = 0; i < keys.length; i += 2000) {
    const chunk = keys.slice(i, i + 2000);
    const sizes = await Promise.all(chunk.map((key) => stack.redis.memory('USAGE', key, 'SAMPLES', '0') as Promise<number | null>));
    chunk.forEach((key, j) => {
      const service = new RegExp(`^\\{${prefix}:([a-z]+)`).exec(key)?.[1] ?? 'other';
      const entry = (by[service] ??= { keys: 0, customer_state_bytes: 0, other_bytes: 0, customers: 0 });
      entry.keys += 1;
      if (key.includes('}:c:')) {
        entry.customer_state_bytes += sizes[j] ?? 0;
        entry.customers += 1;
      } else entry.other_bytes += sizes[j] ?? 0;
    });
  }
  return by;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
