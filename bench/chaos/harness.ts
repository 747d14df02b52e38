/**
 * `make chaos`: the whole chain (segmenter -> trigger -> renderer -> SES emulator, with the
 * recommender) under faults, compared with the pure core's uninterrupted run.
 *
 * The run has private pieces, so its faults hurt nobody else: its own Kafka broker
 * (infra/stack.sh on KAFKA_PORT 19092), its own redis-server (or a 3-master Redis Cluster) on
 * other ports, its own topic names; it shares the schema registry and the SES emulator (its
 * recipients carry the run id). The services are spawned from dist/ with a supervisor that
 * kills them at seeded moments and restarts them, and counts (never hides) any exit it did not
 * cause. Traffic is produced at a steady rate; the faults land during it.
 *
 * Event times are one to three days ahead of the wall clock (MAX_CLOCK_SKEW=7d), as in
 * test/integration/trigger/crash-recovery.test.ts: the trigger service's timers are then due by
 * stream time only (decided by the log, never by the clock), and the segment engine clamps
 * event times to its clock, so every window holds all of a customer's events while the run
 * lasts (under 15 minutes of traffic, re_engagement's 15 minutes are never reached; a longer
 * CHAOS_SOAK_MINUTES is refused). Segment changes are therefore compared by their sequence per
 * (customer, segment), not by `at` (the service's clock); a record produced twice is the same
 * bytes, so repeats are counted by (customer, segment, change, at).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { parseDocument, visit, isMap, isScalar } from 'yaml';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from '../../services/kit/kafkajs';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../../services/kit/codec';
import { readToEnd, recordsBehind, withAdmin } from '../../services/kit/kafka';
import { ignoreKafkajsNegativeTimeouts } from '../../services/kit/node-warnings';
import { projectRoot } from '../../services/kit/files';
import { applyEvent, applyProfile, type SegmentState } from '../../services/core/segments';
import { customerProfile, type BehaviorEvent, type CustomerProfile, type EmailOutcome, type SegmentChange, type TriggerFired } from '../../services/core/types';
import { seededRandom, shopTraffic } from '../../services/tools/synthetic';
import { provision } from '../../services/tools/provision';
import { loadSegmentDefinitions } from '../../services/segmenter/main';
import { loadTriggerRules } from '../../services/trigger/main';
import { referenceTriggers } from '../../test/support/trigger-reference';
import { hostileRecords, interleave, type HostileCategory, type HostileRecord } from './hostile';
import { holdPrivatePorts } from './port-lock';
import { exitCause, LastLines } from './exit-cause';
import { PrivateRedis } from '../redis-nodes';
import { compareCounts, firstDifference, recommenderReference, scoresOf } from './recommender-check';
import { recommenderShape, tuningOf } from '../../services/recommender/main';
import { RecommenderKeys } from '../../services/recommender/store';
import { createRedis } from '../../services/kit/redis';
import { loadConfig } from '../../services/kit/config';
import { manifestMemoryLimits } from '../memory-cgroup';

const run = promisify(execFile);
const ROOT = projectRoot();
const DAY = 24 * 3600_000;
const MINUTE = 60_000;

export type ServiceName = 'segmenter' | 'trigger' | 'renderer' | 'recommender' | 'tracker';
export const SERVICES: ServiceName[] = ['segmenter', 'trigger', 'renderer', 'recommender', 'tracker'];
/** The services with a consumer group (the tracker only produces). */
type ConsumerName = Exclude<ServiceName, 'tracker'>;

export interface ChaosProfile {
  name: 'short' | 'full';
  seed: number;
  partitions: number;
  customers: number;
  /** Valid events per second, produced steadily for `trafficMs`. */
  rate: number;
  trafficMs: number;
  /** Instances of each service at the start. */
  instances: Record<ServiceName, number>;
  /** One instance of each consumer service joins mid-run and one leaves (SIGTERM) later. */
  joinLeave: boolean;
  killsPerService: number;
  brokerOutageMs: number;
  redisLoss: boolean;
  cluster: boolean;
  hostile: number;
  /** Memory check (RSS flat, Redis bounded, lag bounded): the soak. */
  soakChecks: boolean;
}

export function chaosProfile(name: string, seed: number, soakMinutes: number): ChaosProfile {
  if (name === 'short') {
    return {
      name, seed, partitions: 6, customers: 1500, rate: 60, trafficMs: 90_000,
      instances: { segmenter: 2, trigger: 2, renderer: 2, recommender: 1, tracker: 1 },
      joinLeave: false, killsPerService: 1, brokerOutageMs: 15_000, redisLoss: false, cluster: false, hostile: 1000, soakChecks: false,
    };
  }
  if (name !== 'full') throw new Error(`chaos: CHAOS_PROFILE=${name} is not a profile; expected full or short`);
  if (!(soakMinutes >= 10 && soakMinutes <= 14)) {
    throw new Error(`chaos: CHAOS_SOAK_MINUTES=${soakMinutes} is out of range; expected 10 to 14 (the issue asks for at least 10; from 15 on, re_engagement's 15 minutes would be judged by the services' clock, which the reference cannot follow)`);
  }
  return {
    name, seed, partitions: 6, customers: 5000, rate: 100, trafficMs: soakMinutes * MINUTE,
    instances: { segmenter: 2, trigger: 2, renderer: 2, recommender: 2, tracker: 1 },
    joinLeave: true, killsPerService: 3, brokerOutageMs: 30_000, redisLoss: process.env.CHAOS_REDIS_LOSS?.trim() !== '0', cluster: process.env.CHAOS_REDIS_CLUSTER?.trim() !== '0', hostile: 10_000, soakChecks: true,
  };
}

const MAX_DIFFERENCES = 25;

/** One line of the table (and logs/chaos/result.json). */
export interface ChaosResult {
  profile: string;
  seed: number;
  runId: string;
  events: number;
  profiles: number;
  kills: Record<ServiceName, number>;
  unexpectedExits: Record<ServiceName, number>;
  exitCodes: string[];
  joins: number;
  leaves: number;
  brokerRestarts: number;
  redisLosses: number;
  badRecords: number;
  hostileToDlq: { expected: number; found: number; missing: number; byCategory: Record<string, { produced: number; inDlq: number; expect: string }> };
  expected: { segmentChanges: number; triggers: number };
  lost: { segmentChanges: number; triggers: number; outcomes: number; emails: number };
  extra: { segmentChanges: number; triggers: number; outcomes: number; emails: number };
  /** Up to MAX_DIFFERENCES (customer|segment) keys whose changes differ from the reference: wanted and got, in order. */
  /** `events`: the customer's events as the reference read them (type, product, occurred_at; `h` marks an accepted hostile one), for the analysis. */
  changeDifferences: Array<{ key: string; want: string[]; got: string[]; events: string[] }>;
  /** Wall-clock ms of the FLUSHALL and of the rebuild's end, when there was a Redis loss. */
  redisLoss: { at: number; rebuilt: number } | null;
  /** Up to MAX_DIFFERENCES triggers found more than once on the topic, with how many times. */
  repeatedTriggers: Array<{ triggerId: string; rule: string; customer: string; cause: string | null; firedAt: number; times: number }>;
  /** Up to MAX_DIFFERENCES triggers with more than one final outcome, or an outcome record twice: every outcome of each, where it is on the topic. */
  repeatedOutcomes: Array<{ triggerId: string; records: string[] }>;
  /** Outcome records (deferred included) by status and reason (its part before the first colon). */
  outcomesByReason: Record<string, number>;
  duplicateRecords: { segmentChanges: number; triggers: number; outcomes: number };
  duplicateEmails: number;
  sent: number;
  outcomesByStatus: Record<string, number>;
  privacyHits: number;
  logLines: number;
  /** Opens and clicks of sent emails through the tracker, and the events it published for them. */
  /** events: distinct event_ids; repeatedRecords: records published again with an event_id already published. */
  tracker: { emails: number; hits: number; failedHits: number; events: number; repeatedRecords: number };
  /**
   * MB, mean per live instance over the first and the last third of the traffic, and the most
   * seen: RSS, V8 heap in use, and the live heap (in use after the last full collection,
   * kairos_heap_after_full_gc_bytes, with how many samples).
   */
  memory: {
    rssMb: Record<string, { first: number; last: number; max: number }>;
    heapMb: Record<string, { first: number; last: number; max: number }>;
    liveHeapMb: Record<string, { first: number; last: number; max: number; samples: number }>;
    redisMaxMb: number;
    maxLag: number;
    finalLag: number;
    /** Per consumer group: the most records behind over the run, and over the last third of the traffic (the Redis loss's catch-up excluded). */
    lagByGroup: Record<string, { max: number; lastThird: number }>;
    /**
     * Per service, its longest-lived process (at least a third of the traffic): its own mean live
     * heap (MB) over the first third of its life after a minute's warm-up and over the last third.
     */
    liveHeapPerProcess: Record<string, { pid: number; lifeS: number; first: number; last: number } | null>;
  };
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  durationMs: number;
}

type Log = (line: string) => void;

// ---------------------------------------------------------------------------------------------
// Private stack pieces

class PrivateBroker {
  readonly port = 19092;
  readonly controllerPort = 19093;
  constructor(private readonly dir: string) {}
  private env(): NodeJS.ProcessEnv {
    return { ...process.env, KAFKA_PORT: String(this.port), KAFKA_CONTROLLER_PORT: String(this.controllerPort), KAIROS_STACK_DIR: join(this.dir, 'stack'), KAIROS_STACK_LOGS: join(this.dir, 'logs') };
  }
  async up(): Promise<void> {
    await run(join(ROOT, 'infra', 'stack.sh'), ['up', 'kafka'], { env: this.env() });
  }
  /** Stops the broker but keeps its data (the next up resumes the same log). */
  async stop(): Promise<void> {
    await run(join(ROOT, 'infra', 'stack.sh'), ['stop', 'kafka'], { env: this.env() });
  }
  async down(): Promise<void> {
    await run(join(ROOT, 'infra', 'stack.sh'), ['down'], { env: this.env() }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The supervisor

interface Instance {
  service: ServiceName;
  index: number;
  child: ChildProcess | null;
  /** Set while the supervisor itself stops or kills it. */
  expectedExit: boolean;
  /** False once it left for good. */
  wanted: boolean;
  httpPort: number;
}

class Supervisor {
  readonly instances: Instance[] = [];
  readonly kills: Record<ServiceName, number> = { segmenter: 0, trigger: 0, renderer: 0, recommender: 0, tracker: 0 };
  /** Set during a maintenance: a killed instance is not restarted by its kill (the maintenance starts it). */
  held = false;
  readonly unexpectedExits: Record<ServiceName, number> = { segmenter: 0, trigger: 0, renderer: 0, recommender: 0, tracker: 0 };
  readonly exitCodes: string[] = [];
  readonly rss = new Map<string, Array<{ t: number; kb: number }>>();
  /** V8 heap in use per service (nodejs_heap_size_used_bytes of /metrics), garbage included. */
  readonly heap = new Map<string, Array<{ t: number; kb: number }>>();
  /** V8 heap in use after the last full collection per service (kairos_heap_after_full_gc_bytes): what a leak grows. */
  readonly liveHeap = new Map<string, Array<{ t: number; kb: number; pid: number }>>();
  private readonly logs = new Map<string, WriteStream>();
  private readonly memoryTrace: WriteStream;
  private closing = false;
  joins = 0;
  leaves = 0;

  constructor(private readonly logDir: string, private readonly envOf: (service: ServiceName, instance: Instance) => Record<string, string>, private readonly log: Log) {
    this.memoryTrace = createWriteStream(join(logDir, 'memory.jsonl'), { flags: 'a' });
  }

  add(service: ServiceName): Instance {
    const index = this.instances.filter((i) => i.service === service).length;
    const instance: Instance = { service, index, child: null, expectedExit: false, wanted: true, httpPort: 19400 + SERVICES.indexOf(service) * 10 + index };
    this.instances.push(instance);
    this.start(instance);
    return instance;
  }

  private logOf(instance: Instance): WriteStream {
    const name = `${instance.service}-${instance.index}`;
    let stream = this.logs.get(name);
    if (stream === undefined) {
      stream = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' });
      this.logs.set(name, stream);
    }
    return stream;
  }

  start(instance: Instance): void {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'services', instance.service, 'main.js')], {
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...this.envOf(instance.service, instance) },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    });
    instance.child = child;
    instance.expectedExit = false;
    const out = this.logOf(instance);
    const last = new LastLines();
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(out, { end: false });
      stream?.on('data', (chunk: Buffer) => last.push(chunk));
    }
    child.once('exit', (code, signal) => {
      if (instance.child === child) instance.child = null;
      if (instance.expectedExit || this.closing) return;
      // Not ours: counted (with the cause it printed), and restarted like a production supervisor would.
      this.unexpectedExits[instance.service] += 1;
      const cause = exitCause(last.all()) ?? 'no fatal line or error in its last output';
      this.exitCodes.push(`${instance.service}-${instance.index}: ${code ?? signal} (${cause})`);
      this.log(`[chaos] ${instance.service}-${instance.index} exited on its own (${code ?? signal}: ${cause}); restarting it (counted as an unexpected exit)`);
      setTimeout(() => {
        if (!this.closing && instance.wanted && instance.child === null) this.start(instance);
      }, 1000);
    });
  }

  live(service?: ServiceName): Instance[] {
    return this.instances.filter((i) => i.wanted && i.child !== null && (service === undefined || i.service === service));
  }

  async kill(instance: Instance, restartAfterMs: number): Promise<void> {
    const child = instance.child;
    if (child === null) return;
    instance.expectedExit = true;
    child.kill('SIGKILL');
    await exitOf(child);
    this.kills[instance.service] += 1;
    await sleep(restartAfterMs);
    // During a maintenance (the Redis-loss rebuild) the maintenance starts it, and may have already.
    if (!this.closing && !this.held && instance.wanted && instance.child === null) this.start(instance);
  }

  /** SIGTERM (a graceful stop); `leave` makes it for good. */
  async stop(instance: Instance, leave: boolean): Promise<void> {
    if (leave) {
      instance.wanted = false;
      this.leaves += 1;
    }
    const child = instance.child;
    if (child === null) return;
    instance.expectedExit = true;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([exitOf(child).then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 30_000)))]);
    clearTimeout(timer); // no 30 s timer left behind to hold the process (jest) open
    if (!exited) {
      this.log(`[chaos] ${instance.service}-${instance.index} did not stop within 30 s of SIGTERM; killing it`);
      child.kill('SIGKILL');
      await exitOf(child);
    }
  }

  /**
   * Reads every live instance's heap in use from its /metrics (best effort: a busy or restarting one
   * is skipped), and appends its memory figures to memory.jsonl in the log directory (the trace to
   * read when a memory check fails: RSS, V8 heap used and total, large objects, external memory).
   */
  async sampleHeap(now: number): Promise<void> {
    await Promise.all(this.live().map(async (instance) => {
      try {
        const response = await fetch(`http://127.0.0.1:${instance.httpPort}/metrics`, { signal: AbortSignal.timeout(2000) });
        const text = await response.text();
        const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
        const bytes = metric('nodejs_heap_size_used_bytes');
        if (!Number.isFinite(bytes)) return;
        const list = this.heap.get(instance.service) ?? [];
        list.push({ t: now, kb: bytes / 1024 });
        this.heap.set(instance.service, list);
        const live = metric('kairos_heap_after_full_gc_bytes');
        const pid = instance.child?.pid;
        if (Number.isFinite(live) && pid !== undefined) {
          const lives = this.liveHeap.get(instance.service) ?? [];
          lives.push({ t: now, kb: live / 1024, pid });
          this.liveHeap.set(instance.service, lives);
        }
        const mb = (value: number) => (Number.isFinite(value) ? Math.round(value / 1024 / 102.4) / 10 : null);
        this.memoryTrace.write(`${JSON.stringify({
          t: now, instance: `${instance.service}-${instance.index}`, pid,
          rss: mb(metric('process_resident_memory_bytes')), heapUsed: mb(bytes), heapTotal: mb(metric('nodejs_heap_size_total_bytes')), liveHeap: mb(metric('kairos_heap_after_full_gc_bytes')),
          external: mb(metric('nodejs_external_memory_bytes')), largeObjects: mb(metric('nodejs_heap_space_size_used_bytes\\{space="large_object"\\}')),
        })}\n`);
      } catch {
        // busy, restarting or killed: the next sample
      }
    }));
  }

  sampleRss(now: number): void {
    for (const instance of this.live()) {
      const pid = instance.child?.pid;
      if (pid === undefined) continue;
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        const key = instance.service;
        const list = this.rss.get(key) ?? [];
        list.push({ t: now, kb });
        this.rss.set(key, list);
      } catch {
        // gone between live() and the read
      }
    }
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.all(this.instances.map(async (instance) => {
      const child = instance.child;
      if (child === null) return;
      instance.expectedExit = true;
      child.kill('SIGTERM');
      const exited = await Promise.race([exitOf(child).then(() => true), sleep(15_000).then(() => false)]);
      if (!exited) {
        child.kill('SIGKILL');
        await exitOf(child);
      }
    }));
    await Promise.all([...this.logs.values(), this.memoryTrace].map((s) => new Promise((resolve) => s.end(resolve))));
  }
}

// ---------------------------------------------------------------------------------------------
// The run

export interface ChaosOptions {
  profile: ChaosProfile;
  /** Where the run's logs and private broker live (a fresh directory). */
  dir: string;
  log?: Log;
  registryUrl?: string;
  sesEndpoint?: string;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log: Log = options.log ?? ((line) => console.log(line));
  // One run at a time may use the private broker's, Redis's and services' ports (port-lock.ts).
  const release = await holdPrivatePorts(`chaos (${options.profile.name})`, { log });
  try {
    return await runChaosHolding(options, log);
  } finally {
    await release();
  }
}

async function runChaosHolding(options: ChaosOptions, log: Log): Promise<ChaosResult> {
  const started = Date.now();
  const { profile } = options;
  const registryUrl = options.registryUrl ?? process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
  const sesEndpoint = options.sesEndpoint ?? process.env.SES_ENDPOINT ?? 'http://127.0.0.1:8005';
  const runId = `k${randomUUID().slice(0, 6)}`;
  const random = seededRandom(profile.seed);
  const serviceLogs = join(options.dir, 'services');
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(serviceLogs, { recursive: true });
  mkdirSync(join(options.dir, 'redis'), { recursive: true });
  const checks: ChaosResult['checks'] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`[chaos] check ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };

  const broker = new PrivateBroker(options.dir);
  const redis = new PrivateRedis(join(options.dir, 'redis'), profile.cluster ? [19301, 19302, 19303] : [19300], profile.cluster);
  const topics = {
    events: `${runId}.behavior.events`,
    profiles: `${runId}.customer.profiles`,
    triggers: `${runId}.triggers`,
    segmentChanges: `${runId}.segment.changes`,
    outcomes: `${runId}.email.outcomes`,
  };
  const topicEnv = {
    TOPIC_BEHAVIOR_EVENTS: topics.events,
    TOPIC_CUSTOMER_PROFILES: topics.profiles,
    TOPIC_TRIGGERS: topics.triggers,
    TOPIC_SEGMENT_CHANGES: topics.segmentChanges,
    TOPIC_EMAIL_OUTCOMES: topics.outcomes,
  };
  const brokers = `127.0.0.1:${broker.port}`;
  ignoreKafkajsNegativeTimeouts();
  const kafka = new Kafka({ brokers: [brokers], clientId: 'kairos-chaos', logLevel: logLevel.NOTHING });
  const groups: Record<ConsumerName, { group: string; inputs: string[] }> = {
    segmenter: { group: 'kairos-segmenter', inputs: [topics.events, topics.profiles] },
    trigger: { group: 'kairos-trigger', inputs: [topics.events, topics.profiles] },
    renderer: { group: 'kairos-renderer', inputs: [topics.triggers, topics.profiles, topics.events] },
    recommender: { group: 'kairos-recommender', inputs: [topics.events] },
  };
  // The segments of config/ with every absence condition's `for` long enough that no run
  // reaches it: the segmenter judges it by its own clock, which the reference cannot replay.
  const segmentsFile = join(options.dir, 'segments.yaml');
  writeFileSync(segmentsFile, segmentsWithoutClockWaits(readFileSync(join(ROOT, 'config', 'segments.yaml'), 'utf8')));
  const baseEnv = (): Record<string, string> => ({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    ...redis.env(),
    REDIS_KEY_PREFIX: 'chaos',
    ...topicEnv,
    LOG_LEVEL: 'info',
    KAFKA_SESSION_TIMEOUT: '10s',
    MAX_CLOCK_SKEW: '7d',
    KAFKA_TRANSACTIONAL_ID_PREFIX: `chaos-${runId}`,
  });
  // Every product's neighbors kept (the shop has a few hundred products, the default keeps 50), so
  // the check of the recommender's counts compares them all: which neighbors a trim keeps depends
  // on the order batches arrive in, which the reference cannot know.
  const recommenderEnv = { NEIGHBORS_MAX: '1000' };
  const recommenderUrl = `http://127.0.0.1:${19400 + SERVICES.indexOf('recommender') * 10}`;
  const trackerUrl = `http://127.0.0.1:${19400 + SERVICES.indexOf('tracker') * 10}`;
  const envOf = (service: ServiceName, instance: Instance): Record<string, string> => {
    const env: Record<string, string> = { ...baseEnv(), HTTP_PORT: String(instance.httpPort), TIMER_INTERVAL_MS: service === 'segmenter' ? '1000' : '500' };
    if (service === 'segmenter') env.SEGMENTS_FILE = segmentsFile;
    if (service === 'recommender') Object.assign(env, recommenderEnv);
    if (service === 'renderer') {
      Object.assign(env, {
        SES_ENDPOINT: sesEndpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', KAIROS_ENV: 'local',
        LINK_SIGNING_SECRET: 'local-development-only-link-signing-secret', SES_MAX_SEND_RATE: '1000', RECOMMENDER_URL: recommenderUrl, TRACKING_BASE_URL: trackerUrl,
      });
    }
    if (service === 'tracker') Object.assign(env, { KAIROS_ENV: 'local', LINK_SIGNING_SECRET: 'local-development-only-link-signing-secret' });
    return env;
  };
  const supervisor = new Supervisor(serviceLogs, envOf, log);
  /** This run's emails in the shared emulator (its recipients carry the run id). */
  const runEmails = async () =>
    ((await (await fetch(`${sesEndpoint}/store`)).json()) as { emails: Array<Record<string, unknown> & { messageId: string; destination: { to: string[] } }> }).emails
      .filter((e) => e.destination.to.some((to) => to.includes(`${runId}-c`)));
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  const codec = AvroCodec.connect(registryUrl);
  const types = recordTypes();

  // Ctrl-C or a SIGTERM: stop what this run started (services, the private broker and Redis), then exit.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`[chaos] ${signal}: stopping the services, the private broker and Redis`);
    void supervisor.closeAll().catch(() => undefined)
      .then(() => broker.down()).catch(() => undefined)
      .then(() => redis.down()).catch(() => undefined)
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // --- stack
    log(`[chaos] run ${runId}, profile ${profile.name}, seed ${profile.seed}: starting a private broker on 127.0.0.1:${broker.port} and ${profile.cluster ? 'a 3-master Redis Cluster' : 'a redis-server'} on ${redis.ports.join(',')}`);
    await broker.up();
    await redis.up();
    await provision({ ...process.env, KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: registryUrl, KAFKA_PARTITIONS: String(profile.partitions), LOG_LEVEL: 'warn', ...topicEnv });
    const eventsId = await codec.idOf(valueSubject(topics.events), readSchema('BehaviorEvent'));
    const profilesId = await codec.idOf(valueSubject(topics.profiles), readSchema('CustomerProfile'));
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 30, maxRetryTime: 5000 } });
    await producer.connect();

    // --- inputs: profiles, the valid events, the hostile records
    const now = Date.now();
    const totalEvents = Math.round((profile.rate * profile.trafficMs) / 1000);
    const events = shopTraffic({ total: totalEvents, customers: profile.customers, products: 300, seed: profile.seed, from: now + DAY, to: now + 3 * DAY, run: runId });
    const customerIds = [...new Set(events.map((e) => e.customer_id))].sort();
    const names = new Map<string, string>();
    const profiles: CustomerProfile[] = customerIds.map((id, i) => {
      const first = `Zq${runId.slice(1)}${i}`;
      names.set(id, first);
      return customerProfile({
        customer_id: id, email: `${id}@chaos.example.com`, first_name: first, last_name: `Vx${runId.slice(1)}${i}`,
        locale: 'en-US', timezone: noonZone(now), country: 'US', consent_email: true, updated_at: now - DAY,
      });
    });
    const hostile = hostileRecords(profile.seed, profile.hostile, { eventsSchemaId: eventsId, profilesSchemaId: profilesId, now, customerIds });
    const stream = interleave(events, hostile, profile.seed + 1);
    log(`[chaos] ${events.length} valid events of ${customerIds.length} customers, ${hostile.length} hostile records, over ${Math.round(profile.trafficMs / 1000)} s`);

    // The reference: the pure core over the valid events and the accepted hostile ones, in produced order.
    const referenceEvents: BehaviorEvent[] = [];
    for (const item of stream) {
      if ('valid' in item) referenceEvents.push(item.valid);
      else if (item.hostile.expect === 'accepted' && item.hostile.topic === 'events' && item.hostile.value !== null) {
        referenceEvents.push(await codec.decode<BehaviorEvent>(item.hostile.value, types.BehaviorEvent));
      }
    }
    const definitions = loadSegmentDefinitions(segmentsFile);
    const rules = loadTriggerRules('config/triggers.yaml');
    /** The pure core folded over `input` (per partition in log order): segment changes per (customer, segment), triggers by id. */
    const referenceOf = (input: readonly BehaviorEvent[]) => {
      const segmentStates = new Map<string, SegmentState | null>();
      const changes = new Map<string, string[]>();
      const triggers = referenceTriggers(input, rules, { partitions: profile.partitions, now, endDueBy: 'stream-time' });
      for (const p of profiles) segmentStates.set(p.customer_id, applyProfile(null, p, definitions, now).state);
      for (const event of input) {
        const result = applyEvent(segmentStates.get(event.customer_id) ?? null, event, definitions, now);
        if (result.ignored !== null) continue;
        segmentStates.set(event.customer_id, result.state);
        for (const change of result.changes) push(changes, `${change.customer_id}|${change.segment}`, change.change);
        for (const t of result.triggers) triggers.set(t.trigger_id, t);
      }
      return { changes, triggers, changeCount: [...changes.values()].reduce((sum, l) => sum + l.length, 0) };
    };
    const planned = referenceOf(referenceEvents);
    log(`[chaos] reference of the planned stream: ${planned.changeCount} segment changes, ${planned.triggers.size} triggers (recomputed from the log at the end, with the tracker's opens and clicks)`);

    await producer.send({ topic: topics.profiles, acks: -1, messages: profiles.map((p) => ({ key: p.customer_id, value: codec.encode(profilesId, types.CustomerProfile, p) })) });

    // --- services
    for (const service of SERVICES) for (let i = 0; i < profile.instances[service]; i += 1) supervisor.add(service);

    // --- the tracker: opens (pixel) and clicks (first /c/ link) of a few sent emails every 10 s, through the tracker
    const hits = { ok: 0, failed: 0, emails: 0, lastFailure: '' };
    const opened = new Set<string>();
    let clicking = true;
    const clicker = (async () => {
      while (clicking) {
        await sleep(10_000);
        try {
          const fresh = (await runEmails()).filter((e) => !opened.has(e.messageId)).slice(0, 5);
          for (const email of fresh) {
            opened.add(email.messageId);
            hits.emails += 1;
            const html = String((email.body as { html?: string } | undefined)?.html ?? '');
            const pixel = /<img src="([^"]+\/o\/[^"]+)"/.exec(html)?.[1];
            const click = [...html.matchAll(/href="([^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&')).find((href) => href.includes('/c/'));
            for (const url of [pixel, click]) {
              if (url === undefined) continue;
              const status = await httpStatus(url).catch((error: Error) => error.message);
              if (status === 200 || status === 302 || status === 303) hits.ok += 1;
              else {
                hits.failed += 1;
                hits.lastFailure = `${String(status)} for ${url.slice(0, 40)}...`;
              }
            }
          }
        } catch {
          // the emulator busy: next round
        }
      }
    })();

    // --- the fault schedule (seeded), in ms from the traffic's start
    const D = profile.trafficMs;
    type Fault = { at: number; what: string; run: () => Promise<void> };
    const faults: Fault[] = [];
    let maintenance = false;
    for (const service of SERVICES) {
      for (let k = 0; k < profile.killsPerService; k += 1) {
        const at = D * (0.08 + 0.5 * random());
        const pick = random();
        const delay = 500 + Math.floor(2500 * random());
        faults.push({ at, what: `SIGKILL ${service}`, run: async () => {
          // Two kills close together: the second waits for the restart of the first's victim.
          await waitUntil(`a running ${service}`, () => supervisor.live(service).length > 0, 60_000).catch(() => undefined);
          const live = supervisor.live(service);
          if (live.length === 0) return;
          const victim = live[Math.floor(pick * live.length)] as Instance;
          log(`[chaos] SIGKILL ${service}-${victim.index} (restart in ${delay} ms)`);
          await supervisor.kill(victim, delay);
        } });
      }
    }
    let brokerRestarts = 0;
    // While the broker is down the producer holds its records (as a collector would) and sends
    // them when it is back: a send cut by the stop could be written twice by a retry.
    let brokerDown = false;
    let sending: Promise<void> = Promise.resolve();
    faults.push({ at: D * (profile.name === 'short' ? 0.45 : 0.3), what: 'broker outage', run: async () => {
      brokerDown = true;
      await sending;
      log(`[chaos] stopping the broker for ${profile.brokerOutageMs / 1000} s`);
      await broker.stop();
      await sleep(profile.brokerOutageMs);
      await broker.up();
      brokerRestarts += 1;
      brokerDown = false;
      log('[chaos] the broker is back');
    } });
    if (profile.joinLeave) {
      for (const service of ['segmenter', 'trigger', 'renderer'] as ServiceName[]) {
        faults.push({ at: D * (0.12 + 0.1 * random()), what: `join ${service}`, run: async () => {
          const instance = supervisor.add(service);
          supervisor.joins += 1;
          log(`[chaos] ${service}-${instance.index} joins`);
        } });
        faults.push({ at: D * (0.4 + 0.1 * random()), what: `leave ${service}`, run: async () => {
          const live = supervisor.live(service);
          if (live.length < 2) return;
          const leaving = live[0] as Instance;
          log(`[chaos] ${service}-${leaving.index} leaves (SIGTERM)`);
          await supervisor.stop(leaving, true);
        } });
      }
    }
    let redisLosses = 0;
    /** From the FLUSHALL to the end of the rebuild (ms since the traffic started): the replay's lag is the rebuild's, not the steady traffic's. */
    let rebuildWindow: { from: number; to: number } | null = null;
    let redisLoss: ChaosResult['redisLoss'] = null;
    if (profile.redisLoss) {
      faults.push({ at: D * 0.2, what: 'Redis loss', run: async () => {
        if (brokerDown) await waitUntil('the broker to be back', () => !brokerDown, 600_000);
        maintenance = true;
        const from = Date.now() - trafficStart;
        try {
          await rebuildAfterRedisLoss();
          redisLosses += 1;
        } finally {
          maintenance = false;
          rebuildWindow = { from, to: Date.now() - trafficStart };
          redisLoss = { at: trafficStart + from, rebuilt: Date.now() };
        }
      } });
    }

    /**
     * docs/operations.md, "Redis lost": stop every consuming service, `state rebuild` each
     * (segmenter and trigger replay with restore bounds and produce nothing again; the
     * recommender replays; the renderer reads its profiles, opt-outs and send ledger back), start
     * the others, and the renderer once they are past where they were.
     */
    async function rebuildAfterRedisLoss(): Promise<void> {
      log('[chaos] Redis loss: FLUSHALL on every node');
      supervisor.held = true;
      try {
        await rebuildSteps();
      } finally {
        supervisor.held = false;
      }
    }
    async function rebuildSteps(): Promise<void> {
      const flushing = Date.now();
      await redis.flush();
      log(`[chaos] Redis loss: every node flushed ${Date.now() - flushing} ms after the first FLUSHALL was sent`);
      const order: ConsumerName[] = ['segmenter', 'trigger', 'recommender', 'renderer'];
      const stopped = new Map<ConsumerName, Instance[]>();
      for (const service of order) {
        const instances = supervisor.instances.filter((i) => i.service === service && i.wanted);
        stopped.set(service, instances);
        await Promise.all(instances.map((instance) => supervisor.stop(instance, false)));
        await waitUntil(`the ${service} group to be empty`, async () => {
          const { groups: described } = await withAdmin(kafka, (a) => a.describeGroups([groups[service].group]));
          return (described[0]?.members.length ?? 0) === 0;
        }, 60_000);
      }
      const reached = new Map<ConsumerName, Map<string, Map<number, number>>>();
      for (const service of order) {
        reached.set(service, await committedOf(kafka, groups[service].group, groups[service].inputs));
        const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'dist', 'services', 'tools', 'state.js'), 'rebuild', '--service', service, '--group', groups[service].group], {
          env: { ...process.env, ...baseEnv(), LOG_LEVEL: 'info' }, cwd: ROOT,
        });
        appendFileSync(join(serviceLogs, `state-rebuild-${service}.log`), stdout + stderr);
        log(`[chaos] state rebuild --service ${service}: done`);
      }
      supervisor.held = false;
      for (const service of order.filter((s) => s !== 'renderer')) for (const instance of stopped.get(service) ?? []) if (instance.child === null) supervisor.start(instance);
      // A service the rebuild does not stop (the tracker) whose restart after a kill fell due while
      // the supervisor was held: nobody else starts it.
      for (const instance of supervisor.instances) if (!(order as ServiceName[]).includes(instance.service) && instance.wanted && instance.child === null) supervisor.start(instance);
      // The renderer reads the segment memberships the segmenter rebuilds: it starts once they are past where they were.
      for (const service of ['segmenter', 'trigger'] as ConsumerName[]) {
        const before = reached.get(service) as Map<string, Map<number, number>>;
        await waitUntil(`the ${service} to replay up to where it was`, async () => {
          const now = await committedOf(kafka, groups[service].group, groups[service].inputs);
          return [...before].every(([topic, partitions]) => [...partitions].every(([p, offset]) => (now.get(topic)?.get(p) ?? -1) >= offset));
        }, 300_000, 2000);
      }
      for (const instance of stopped.get('renderer') ?? []) if (instance.child === null) supervisor.start(instance);
      log('[chaos] Redis loss: every service rebuilt and running again');
    }

    /**
     * Popularity per day and each product's neighbors in Redis, against the pure core's counts
     * (recommender-check.ts). The core drops events outside the retained days by the clock, so
     * the reference is taken at the traffic's start and now: a day on which the two differ (the
     * run crossed a UTC midnight) is not compared.
     */
    async function checkRecommenderCounts(logged: readonly BehaviorEvent[], trafficStart: number): Promise<void> {
      const config = loadConfig(recommenderShape, { ...process.env, ...baseEnv(), ...recommenderEnv });
      const tuning = tuningOf(config);
      const keys = new RecommenderKeys('chaos');
      const atStart = recommenderReference(logged, tuning, trafficStart);
      const reference = recommenderReference(logged, tuning, Date.now());
      const days = new Map<string, Map<string, number>>();
      let crossedMidnight = 0;
      for (const [day, products] of reference.popularity) {
        if (firstDifference(products, atStart.popularity.get(day) ?? new Map()) === null) days.set(keys.popularityDay(day), products);
        else crossedMidnight += 1;
      }
      const nodes = redis.env();
      const client = createRedis({ REDIS_URL: nodes.REDIS_URL as string, REDIS_CLUSTER_NODES: nodes.REDIS_CLUSTER_NODES?.split(',') }, { connectionName: 'chaos-check' });
      try {
        const read = async (key: string) => scoresOf(await client.zrange(key, 0, -1, 'WITHSCORES'));
        const popularity = await compareCounts(days, config.POPULARITY_MAX_PRODUCTS, read);
        // Key names from the store's own layout (RecommenderKeys), the scan pattern included.
        const referenceDays = new Set([...reference.popularity.keys()].map((day) => keys.popularityDay(day)));
        const stored = await redis.keys(keys.popularityDay(0).replace(/0$/, '*'));
        const extraDays = stored.filter((key) => !referenceDays.has(key));
        check('recommender popularity exact', popularity.differing.length === 0 && extraDays.length === 0 && popularity.compared > 0,
          `${popularity.compared} day buckets compared with the pure core over the log, ${popularity.differing.length} differ${popularity.differing.length > 0 ? ` (${popularity.differing.slice(0, 3).join('; ')})` : ''}; ${stored.length} in Redis, ${extraDays.length} of them not in the reference; not compared: ${popularity.trimmed} over POPULARITY_MAX_PRODUCTS, ${crossedMidnight} of a UTC midnight the run crossed`);
        const neighborSets = new Map([...reference.neighbors].map(([product, neighbors]) => [keys.neighbors(product), neighbors]));
        const neighbors = await compareCounts(neighborSets, config.NEIGHBORS_MAX, read);
        const storedNeighbors = await redis.keys(keys.neighbors('*'));
        const extraProducts = storedNeighbors.filter((key) => !neighborSets.has(key));
        check('recommender co-views exact', neighbors.differing.length === 0 && extraProducts.length === 0 && neighbors.compared > 0,
          `${neighbors.compared} products' neighbors compared with the pure core over the log, ${neighbors.differing.length} differ${neighbors.differing.length > 0 ? ` (${neighbors.differing.slice(0, 3).join('; ')})` : ''}; ${storedNeighbors.length} in Redis, ${extraProducts.length} of them not in the reference; ${neighbors.trimmed} over NEIGHBORS_MAX not compared`);
      } finally {
        client.disconnect();
      }
    }

    // --- traffic at a steady rate, faults at their moments, samples every 5 s
    faults.sort((a, b) => a.at - b.at);
    const trafficStart = Date.now();
    const redisSamples: Array<{ t: number; bytes: number }> = [];
    const lagSamples: Array<{ t: number; lag: number; byGroup: Record<ConsumerName, number> }> = [];
    const running: Array<Promise<void>> = [];
    let produced = 0;
    let producedValid = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = Date.now() - trafficStart;
        supervisor.sampleRss(t);
        await supervisor.sampleHeap(t);
        try {
          redisSamples.push({ t, bytes: await redis.usedMemory() });
          const byGroup = await groupLags(admin as Admin, groups);
          lagSamples.push({ t, lag: sum(byGroup), byGroup });
        } catch {
          // the broker is down for the outage
        }
        if (lagSamples.length % 3 === 0) {
          log(`[chaos] ${Math.round(t / 1000)} s: produced ${producedValid}/${events.length} valid + ${produced - producedValid} hostile; lag ${lagText(lagSamples.at(-1)?.byGroup)}; live ${SERVICES.map((s) => `${s}=${supervisor.live(s).length}`).join(' ')}; kills ${SERVICES.map((s) => supervisor.kills[s]).join('/')}`);
        }
        await sleep(5000);
      }
    })();
    /**
     * Runs a fault; all but the Redis loss wait for its rebuild: no instance may join or start
     * meanwhile, and the rebuild needs the broker.
     */
    const launch = async (fault: Fault): Promise<void> => {
      try {
        if (fault.what !== 'Redis loss' && maintenance) await waitUntil('the rebuild to finish', () => !maintenance, 600_000);
        await fault.run();
      } catch (error) {
        check(`fault ${fault.what}`, false, String(error));
      }
    };
    const hostileIndex = new Map(hostile.map((h, i) => [h, i]));
    const perTick = (stream.length * 250) / D; // records every 250 ms
    let next = 0;
    // The schedule stops while the Redis-loss rebuild runs and then goes on where it was: the
    // faults planned for those minutes come after it, as far apart as planned, not all at once.
    let pausedMs = 0;
    let lastTick = Date.now();
    for (let tick = 0; next < stream.length; tick += 1) {
      const target = Math.min(stream.length, Math.round(perTick * (tick + 1)));
      const tickAt = Date.now();
      if (maintenance) pausedMs += tickAt - lastTick;
      lastTick = tickAt;
      while (faults.length > 0 && (faults[0] as Fault).at + pausedMs <= tickAt - trafficStart) {
        if (maintenance && (faults[0] as Fault).what !== 'Redis loss') break;
        const fault = faults.shift() as Fault;
        running.push(launch(fault));
      }
      const batch = brokerDown ? [] : stream.slice(next, target);
      if (!brokerDown) next = target;
      if (batch.length > 0) {
        const messages = batch.map((item) => 'valid' in item
          ? { topic: topics.events, key: item.valid.customer_id, value: codec.encode(eventsId, types.BehaviorEvent, item.valid), headers: undefined as Record<string, string> | undefined }
          : { topic: item.hostile.topic === 'events' ? topics.events : topics.profiles, key: item.hostile.key, value: item.hostile.value, headers: { 'chaos-hostile': String(hostileIndex.get(item.hostile)) } });
        sending = sendRetrying(producer, messages, log);
        await sending;
        produced += batch.length;
        producedValid += batch.filter((item) => 'valid' in item).length;
      }
      const wait = trafficStart + 250 * (tick + 1) - Date.now();
      if (wait > 0) await sleep(wait);
    }
    log(`[chaos] traffic done after ${Math.round((Date.now() - trafficStart) / 1000)} s; waiting for the remaining faults`);
    for (const fault of faults) running.push(launch(fault));
    await Promise.all(running);
    clicking = false;
    await clicker;
    // Opens and clicks a tracker answered while Kafka was away wait in its spool until a drainer
    // publishes them (TRACKER_SPOOL_AGE, 30 s): they belong in the log the reference is made of.
    await waitUntil('the tracker spool to drain', async () => (await redis.keyCount('{chaos:tracker:spool}')) === 0, 180_000, 1000).catch((error: unknown) => check('tracker spool drained', false, String(error)));

    // --- the reference from the log as written: the produced records plus the tracker's events, per partition in log order
    const validIds = new Set(events.map((e) => e.event_id));
    const logged: BehaviorEvent[] = [];
    // The tracker's events by event_id: a spooled event can be published twice with the same id
    // (services/tracker/spool.ts): by another instance's drainer while its request's last try is on
    // its way, or after a tracker published it and was killed before taking it out of the spool.
    // Readers count it once.
    const trackerIds = new Set<string>();
    let trackerRecords = 0;
    const eventRecords: Array<{ value: Buffer; hostile: number | null }> = [];
    await readToEnd(kafka, topics.events, {
      groupId: `chaos-reader-${randomUUID()}`, timeoutMs: 120_000,
      onMessage: (m) => {
        const raw = m.headers?.['chaos-hostile'];
        eventRecords.push({ value: m.value as Buffer, hostile: raw === undefined ? null : Number(raw.toString()) });
      },
    });
    const hostileEvents = new Set<BehaviorEvent>();
    for (const record of eventRecords) {
      if (record.hostile !== null && hostile[record.hostile]?.expect !== 'accepted') continue;
      const event = await codec.decode<BehaviorEvent>(record.value, types.BehaviorEvent);
      if (record.hostile === null && !validIds.has(event.event_id)) {
        trackerRecords += 1;
        trackerIds.add(event.event_id);
      }
      if (record.hostile !== null) hostileEvents.add(event);
      logged.push(event);
    }
    const { changes: expectedChanges, triggers: expectedTriggers, changeCount: expectedChangeCount } = referenceOf(logged);
    const trackerEvents = trackerIds.size;
    const trackerRepeats = trackerRecords - trackerEvents;
    log(`[chaos] reference of the log: ${expectedChangeCount} segment changes, ${expectedTriggers.size} triggers; the tracker published ${trackerEvents} events (${trackerRepeats} again with the same event_id) for ${hits.ok} hits (${hits.failed} failed) on ${hits.emails} emails`);

    // --- wait until everything is processed: groups caught up, outboxes empty, every trigger decided
    log('[chaos] waiting for every group to catch up and every trigger to be decided');
    let outcomes: EmailOutcome[] = [];
    const decided = async () => {
      if (sum(await groupLags(admin as Admin, groups)) > 0) return false;
      if ((await redis.keyCount('{chaos:*:outbox')) > 0) return false;
      outcomes = await readDecoded<EmailOutcome>(kafka, codec, topics.outcomes, types.EmailOutcome);
      const final = new Set(outcomes.filter((o) => o.status !== 'deferred').map((o) => o.trigger_id));
      return [...expectedTriggers.keys()].every((id) => final.has(id));
    };
    // After a Redis loss the rebuild's replay comes on top: 10 minutes instead of 5.
    const settled = await waitUntil('the chain to settle', decided, redisLosses > 0 ? 600_000 : 300_000, 3000).then(() => true, (error) => {
      check('settled', false, String(error));
      return false;
    });
    if (settled) check('settled', true, `caught up ${Math.round((Date.now() - trafficStart - D) / 1000)} s after the traffic ended`);
    sampling = false;
    await sampler;
    const finalLag = sum(await groupLags(admin, groups));

    // --- compare
    const changes = await readDecoded<SegmentChange>(kafka, codec, topics.segmentChanges, types.SegmentChange);
    const triggers = await readDecoded<TriggerFired>(kafka, codec, topics.triggers, types.TriggerFired);
    const outcomePositions: RecordPosition[] = [];
    outcomes = await readDecoded<EmailOutcome>(kafka, codec, topics.outcomes, types.EmailOutcome, outcomePositions);

    const distinctChanges = new Map(changes.map((c) => [`${c.customer_id}|${c.segment}|${c.change}|${c.at}`, c]));
    const actualChanges = new Map<string, string[]>();
    for (const c of [...distinctChanges.values()].sort((a, b) => a.at - b.at)) push(actualChanges, `${c.customer_id}|${c.segment}`, c.change);
    let lostChanges = 0;
    let extraChanges = 0;
    /** The first few (customer|segment) whose changes differ from the reference, for the report. */
    const changeDifferences: ChaosResult['changeDifferences'] = [];
    for (const key of new Set([...expectedChanges.keys(), ...actualChanges.keys()])) {
      const want = expectedChanges.get(key) ?? [];
      const got = actualChanges.get(key) ?? [];
      const common = commonPrefix(want, got);
      lostChanges += want.length - common;
      extraChanges += got.length - common;
      if (common < Math.max(want.length, got.length) && changeDifferences.length < MAX_DIFFERENCES) changeDifferences.push({
        key, want, got: [...distinctChanges.values()].filter((c) => `${c.customer_id}|${c.segment}` === key).sort((a, b) => a.at - b.at).map((c) => `${c.change} at ${c.at} (${c.reason})`),
        events: logged.filter((e) => e.customer_id === key.split('|')[0]).slice(0, 40).map((e) => `${hostileEvents.has(e) ? 'h ' : ''}${e.type} ${e.product_id ?? '-'} ${e.occurred_at}`),
      });
    }
    const triggerCounts = countBy(triggers.map((t) => t.trigger_id));
    const lostTriggers = [...expectedTriggers.keys()].filter((id) => !triggerCounts.has(id)).length;
    const extraTriggers = [...triggerCounts.keys()].filter((id) => !expectedTriggers.has(id)).length;
    const duplicateTriggers = [...triggerCounts.values()].reduce((s, n) => s + n - 1, 0);
    const repeatedTriggers: ChaosResult['repeatedTriggers'] = [...new Map(triggers.map((t) => [t.trigger_id, t])).values()]
      .filter((t) => (triggerCounts.get(t.trigger_id) ?? 0) > 1)
      .slice(0, MAX_DIFFERENCES)
      .map((t) => ({ triggerId: t.trigger_id, rule: t.rule, customer: t.customer_id, cause: t.cause_event_id, firedAt: t.fired_at, times: triggerCounts.get(t.trigger_id) as number }));

    const finalOutcomes = outcomes.filter((o) => o.status !== 'deferred');
    const outcomeCounts = countBy(finalOutcomes.map((o) => o.trigger_id));
    const lostOutcomes = [...expectedTriggers.keys()].filter((id) => !outcomeCounts.has(id)).length;
    const extraOutcomes = [...outcomeCounts.keys()].filter((id) => !expectedTriggers.has(id)).length;
    const duplicateOutcomes = [...outcomeCounts.values()].reduce((s, n) => s + n - 1, 0) + (outcomes.length - new Set(outcomes.map((o) => JSON.stringify(o))).size);
    const outcomeTexts = countBy(outcomes.map((o) => JSON.stringify(o)));
    const repeatedOutcomes: ChaosResult['repeatedOutcomes'] = [...new Set(outcomes
      .filter((o) => (o.status !== 'deferred' && (outcomeCounts.get(o.trigger_id) ?? 0) > 1) || (outcomeTexts.get(JSON.stringify(o)) ?? 0) > 1)
      .map((o) => o.trigger_id))]
      .slice(0, MAX_DIFFERENCES)
      .map((triggerId) => ({
        triggerId,
        records: outcomes.flatMap((o, i) => {
          if (o.trigger_id !== triggerId) return [];
          const at = outcomePositions[i] as RecordPosition;
          return [`${o.status}${o.reason === null ? '' : ` (${o.reason})`} at ${o.at}; partition ${at.partition} offset ${at.offset}, created ${at.createTime}`];
        }),
      }));
    const sentOutcomes = finalOutcomes.filter((o) => o.status === 'sent');

    const emails = await runEmails();
    const emailTriggers = emails.map((e) => /X-Kairos-Trigger-Id:\s*([^\s\\"]+)/i.exec(JSON.stringify(e))?.[1] ?? `message:${e.messageId}`);
    const emailKeys = countBy(emails.map((e, i) => `${e.destination.to.join(',')}|${emailTriggers[i]}`));
    const duplicateEmails = [...emailKeys.values()].reduce((s, n) => s + n - 1, 0);
    const emailIds = new Set(emails.map((e) => e.messageId));
    const sentIds = new Set(sentOutcomes.map((o) => o.ses_message_id));
    const lostEmails = sentOutcomes.filter((o) => !emailIds.has(o.ses_message_id as string)).length;
    const extraEmails = emails.filter((e) => !sentIds.has(e.messageId)).length;

    // --- hostile records: every `dlq` one in a DLQ topic
    const dlqSeen = new Set<number>();
    for (const topic of [`${topics.events}.dlq`, `${topics.profiles}.dlq`, `${topics.triggers}.dlq`, `${topics.outcomes}.dlq`]) {
      await readRaw(kafka, topic, (headers) => {
        const raw = headers?.['chaos-hostile'];
        if (raw !== undefined) dlqSeen.add(Number(raw.toString()));
      });
    }
    const byCategory: Record<string, { produced: number; inDlq: number; expect: string }> = {};
    hostile.forEach((h, i) => {
      const entry = (byCategory[h.category] ??= { produced: 0, inDlq: 0, expect: h.expect });
      entry.produced += 1;
      if (dlqSeen.has(i)) entry.inDlq += 1;
    });
    const expectedDlq = hostile.map((h, i) => [h, i] as [HostileRecord, number]).filter(([h]) => h.expect === 'dlq');
    const missingDlq = expectedDlq.filter(([, i]) => !dlqSeen.has(i)).length;
    const acceptedInDlq = hostile.filter((h, i) => h.expect === 'accepted' && dlqSeen.has(i)).length;
    check('hostile records dead-lettered', missingDlq === 0, `${expectedDlq.length - missingDlq} of ${expectedDlq.length} expected in a DLQ; ${acceptedInDlq} accepted ones dead-lettered`);
    check('hostile records accepted as documented', acceptedInDlq === 0, `${acceptedInDlq} records expected to be accepted reached a DLQ`);

    // --- the recommender's shared counts against the pure core over the log as written
    await checkRecommenderCounts(logged, trafficStart);

    // --- privacy: none of the run's addresses or names in any log line
    const logFiles = readdirSync(serviceLogs).map((f) => join(serviceLogs, f));
    let privacyHits = 0;
    let logLines = 0;
    const needles = [...profiles.map((p) => p.email as string), ...profiles.map((p) => p.first_name as string), ...profiles.map((p) => p.last_name as string)];
    const needle = new RegExp(`Zq${runId.slice(1)}|Vx${runId.slice(1)}|@chaos\\.example\\.com`, 'g');
    for (const file of logFiles) {
      const text = readFileSync(file, 'utf8');
      logLines += text.split('\n').length - 1;
      privacyHits += (text.match(needle) ?? []).length;
    }
    check('privacy', privacyHits === 0, `${privacyHits} occurrences of the run's ${needles.length} addresses and names in ${logLines} log lines (${logFiles.length} files)`);

    // --- memory, Redis, lag
    /** Mean MB per live instance over the first and the last third of the traffic, and the most seen. */
    const thirds = (samples: Array<{ t: number; kb: number }>) => {
      const third = (from: number, to: number) => mean(samples.filter((s) => s.t >= from && s.t < to).map((s) => s.kb / 1024));
      return { first: round(third(0, D / 3)), last: round(third((2 * D) / 3, Infinity)), max: round(Math.max(0, ...samples.map((s) => s.kb / 1024))) };
    };
    const heapMb: ChaosResult['memory']['heapMb'] = {};
    const liveHeapMb: ChaosResult['memory']['liveHeapMb'] = {};
    const rssMb: ChaosResult['memory']['rssMb'] = {};
    for (const service of SERVICES) {
      heapMb[service] = thirds(supervisor.heap.get(service) ?? []);
      const live = supervisor.liveHeap.get(service) ?? [];
      liveHeapMb[service] = { ...thirds(live), samples: live.length };
      rssMb[service] = thirds(supervisor.rss.get(service) ?? []);
    }
    const redisMaxMb = round(Math.max(0, ...redisSamples.map((s) => s.bytes)) / 1024 / 1024);
    const maxLag = Math.max(0, ...lagSamples.map((s) => s.lag));
    const liveHeapPerProcess: ChaosResult['memory']['liveHeapPerProcess'] = {};
    for (const service of SERVICES) liveHeapPerProcess[service] = ownLiveHeap(supervisor.liveHeap.get(service) ?? [], D / 3);
    const lagByGroup: ChaosResult['memory']['lagByGroup'] = {};
    for (const name of Object.keys(groups) as ConsumerName[]) lagByGroup[name] = { max: Math.max(0, ...lagSamples.map((s) => s.byGroup[name])), lastThird: 0 };
    if (profile.soakChecks) {
      for (const service of SERVICES) {
        // Flat: the live heap (after a full collection) of each process compared with itself, the
        // last third of its life within 25% + 10 MB of the first third after a minute's warm-up.
        // Not the service's mean over the run's thirds: a kill replaces a warm process by a young
        // one, so that mean mixes ages. RSS is no measure of a leak here: V8 keeps the heap it grew
        // for a burst (a catch-up after the broker outage or the Redis loss) and glibc keeps freed
        // buffers, so RSS climbs to a plateau while the live heap stays where it was
        // (docs/chaos.md, "Memory"). RSS is bounded instead: under the deployment's limit.
        const own = liveHeapPerProcess[service];
        check(`live heap of ${service} flat`, own !== null && own !== undefined && own.last <= own.first * 1.25 + 10, own === null || own === undefined
          ? `no process of ${service} lived a third of the traffic with full collections seen (kairos_heap_after_full_gc_bytes)`
          : `its longest-lived process (pid ${own.pid}, ${own.lifeS} s sampled): mean after a full collection ${own.first} MB in the first third of its life after warm-up, ${own.last} MB in the last (allowed ${round(own.first * 1.25 + 10)})`);
        const limit = memoryLimitMb(service);
        const { max } = rssMb[service] as { max: number };
        check(`RSS of ${service} within its limit`, max <= limit, `at most ${max} MB for one instance (mean per instance ${rssMb[service]?.first} MB in the first third, ${rssMb[service]?.last} MB in the last); limit ${limit} MB (infra/k8s/base/${service}.yaml)`);
      }
      // Each group's lag (over all its inputs) is bounded by a minute of traffic.
      const bound = profile.rate * 60;
      // A Redis loss replays the log: from the FLUSHALL until every group's lag is back within the
      // bound, the lag is the rebuild's catch-up, checked on its own (within 5 minutes of the rebuild's end).
      const window = rebuildWindow as { from: number; to: number } | null;
      const within = (sample: (typeof lagSamples)[number]) => Object.values(sample.byGroup).every((n) => n <= bound);
      let catchUpEnd = -1;
      if (window !== null) {
        const back = lagSamples.find((s) => s.t >= window.to && within(s));
        catchUpEnd = back?.t ?? Infinity;
        const inTime = back !== undefined && back.t - window.to <= 300_000;
        check('caught up after the Redis loss', inTime, back === undefined
          ? `the lag of some group never came back within ${bound} after the rebuild ended at ${Math.round(window.to / 1000)} s`
          : `rebuild from ${Math.round(window.from / 1000)} s to ${Math.round(window.to / 1000)} s, every group's lag back within ${bound} at ${Math.round(back.t / 1000)} s (${Math.round((back.t - window.to) / 1000)} s after; bound 300 s)`);
      }
      const steady = lagSamples.filter((s) => s.t >= (2 * D) / 3 && s.t <= D && (window === null || s.t < window.from || s.t >= catchUpEnd));
      for (const [name, figures] of Object.entries(lagByGroup)) figures.lastThird = Math.max(0, ...steady.map((s) => s.byGroup[name as ConsumerName]));
      const worst = Math.max(0, ...Object.values(lagByGroup).map((g) => g.lastThird));
      check('lag bounded', steady.length > 0 && worst <= bound, `most records behind in the last third of the traffic, per group: ${Object.entries(lagByGroup).map(([name, g]) => `${name} ${g.lastThird}`).join(', ')} (${steady.length} samples${window === null ? '' : ', the Redis loss\'s replay and catch-up excluded'}; bound: a minute of traffic, ${bound}); over the run (faults included): ${Object.entries(lagByGroup).map(([name, g]) => `${name} ${g.max}`).join(', ')}`);
    }
    check('Redis memory bounded', redisMaxMb < 512, `used_memory at most ${redisMaxMb} MB (bound 512 MB)`);
    // Each answered hit publishes one event (one event_id, never two); a hit cut by a kill may or may not have.
    check('tracker', hits.ok > 0 && trackerEvents >= hits.ok && trackerEvents <= hits.ok + hits.failed, `${hits.ok} hits answered (${hits.failed} failed${hits.lastFailure ? `, the last: ${hits.lastFailure}` : ''}) on ${hits.emails} emails; ${trackerEvents} events published (distinct event_id; ${trackerRepeats} records repeated one, same id)`);
    check('no unexpected exits', SERVICES.every((s) => supervisor.unexpectedExits[s] === 0), supervisor.exitCodes.join('; ') || 'none');
    for (const service of SERVICES) check(`kills of ${service}`, supervisor.kills[service] >= profile.killsPerService, `${supervisor.kills[service]} (wanted ${profile.killsPerService})`);

    const outcomesByStatus = Object.fromEntries(countBy(finalOutcomes.map((o) => o.status)));
    const result: ChaosResult = {
      profile: profile.name,
      seed: profile.seed,
      runId,
      events: events.length,
      profiles: profiles.length,
      kills: { ...supervisor.kills },
      unexpectedExits: { ...supervisor.unexpectedExits },
      exitCodes: supervisor.exitCodes,
      joins: supervisor.joins,
      leaves: supervisor.leaves,
      brokerRestarts,
      redisLosses,
      badRecords: hostile.length,
      hostileToDlq: { expected: expectedDlq.length, found: expectedDlq.length - missingDlq, missing: missingDlq, byCategory },
      expected: { segmentChanges: expectedChangeCount, triggers: expectedTriggers.size },
      lost: { segmentChanges: lostChanges, triggers: lostTriggers, outcomes: lostOutcomes, emails: lostEmails },
      extra: { segmentChanges: extraChanges, triggers: extraTriggers, outcomes: extraOutcomes, emails: extraEmails },
      changeDifferences,
      redisLoss,
      repeatedTriggers,
      repeatedOutcomes,
      outcomesByReason: Object.fromEntries(countBy(outcomes.map((o) => `${o.status}${o.reason === null ? '' : ` (${o.reason.split(':')[0]})`}`))),
      duplicateRecords: { segmentChanges: changes.length - distinctChanges.size, triggers: duplicateTriggers, outcomes: duplicateOutcomes },
      duplicateEmails,
      sent: sentOutcomes.length,
      outcomesByStatus,
      privacyHits,
      logLines,
      tracker: { emails: hits.emails, hits: hits.ok, failedHits: hits.failed, events: trackerEvents, repeatedRecords: trackerRepeats },
      memory: { rssMb, heapMb, liveHeapMb, redisMaxMb, maxLag, finalLag, lagByGroup, liveHeapPerProcess },
      checks,
      durationMs: Date.now() - started,
    };
    return result;
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await supervisor.closeAll().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await broker.down();
    await redis.down().catch(() => undefined);
    for (const topic of Object.values(topics)) {
      await fetch(`${registryUrl}/subjects/${encodeURIComponent(valueSubject(topic))}`, { method: 'DELETE' }).catch(() => undefined);
    }
  }
}

/** Whether the result passes: zeros where the issue wants them, every check ok. */
export function failures(result: ChaosResult): string[] {
  const bad: string[] = [];
  for (const [what, values] of Object.entries({ lost: result.lost, extra: result.extra, 'duplicate records': result.duplicateRecords })) {
    for (const [topic, n] of Object.entries(values)) if (n !== 0) bad.push(`${what} ${topic}: ${n}`);
  }
  if (result.duplicateEmails !== 0) bad.push(`duplicate emails: ${result.duplicateEmails}`);
  for (const c of result.checks) if (!c.ok) bad.push(`${c.name}: ${c.detail}`);
  return bad;
}

/** The table the issue asks for. */
export function formatTable(result: ChaosResult): string {
  const rows: Array<[string, string]> = [
    ['profile / seed / run', `${result.profile} / ${result.seed} / ${result.runId}`],
    ['events (valid) / customers', `${result.events} / ${result.profiles}`],
    ['kills per service', SERVICES.map((s) => `${s} ${result.kills[s]}`).join(', ')],
    ['unexpected exits (restarted)', SERVICES.map((s) => `${s} ${result.unexpectedExits[s]}`).join(', ')],
    ['instances joined / left', `${result.joins} / ${result.leaves}`],
    ['broker restarts', String(result.brokerRestarts)],
    ['Redis losses', String(result.redisLosses)],
    ['bad records (hostile)', `${result.badRecords} (${result.hostileToDlq.found} of ${result.hostileToDlq.expected} expected in a DLQ)`],
    ['expected changes / triggers', `${result.expected.segmentChanges} / ${result.expected.triggers}`],
    ['lost', `${sum(result.lost)} (changes ${result.lost.segmentChanges}, triggers ${result.lost.triggers}, outcomes ${result.lost.outcomes}, emails ${result.lost.emails})`],
    ['extra', `${sum(result.extra)} (changes ${result.extra.segmentChanges}, triggers ${result.extra.triggers}, outcomes ${result.extra.outcomes}, emails ${result.extra.emails})`],
    ['duplicate records', `${sum(result.duplicateRecords)} (changes ${result.duplicateRecords.segmentChanges}, triggers ${result.duplicateRecords.triggers}, outcomes ${result.duplicateRecords.outcomes})`],
    ['duplicate emails', String(result.duplicateEmails)],
    ['emails sent / outcomes', `${result.sent} / ${Object.entries(result.outcomesByStatus).map(([k, v]) => `${k} ${v}`).join(', ')}`],
    ['tracker: emails / hits / events', `${result.tracker.emails} / ${result.tracker.hits} (+${result.tracker.failedHits} failed) / ${result.tracker.events}${result.tracker.repeatedRecords > 0 ? ` (+${result.tracker.repeatedRecords} again, same event_id)` : ''}`],
    ['privacy hits in logs', `${result.privacyHits} (${result.logLines} lines)`],
    ['RSS MB first→last third (max)', SERVICES.map((s) => `${s} ${result.memory.rssMb[s]?.first}→${result.memory.rssMb[s]?.last} (${result.memory.rssMb[s]?.max})`).join(', ')],
    ['live heap MB, longest-lived process: first→last third of its life', SERVICES.map((s) => {
      const own = result.memory.liveHeapPerProcess[s];
      return own ? `${s} ${own.first}→${own.last} (${own.lifeS} s)` : `${s} none`;
    }).join(', ')],
    ['live heap MB first→last (max)', SERVICES.map((s) => `${s} ${result.memory.liveHeapMb[s]?.first}→${result.memory.liveHeapMb[s]?.last} (${result.memory.liveHeapMb[s]?.max})`).join(', ')],
    ['V8 heap used MB first→last (max)', SERVICES.map((s) => `${s} ${result.memory.heapMb[s]?.first}→${result.memory.heapMb[s]?.last} (${result.memory.heapMb[s]?.max})`).join(', ')],
    ['Redis used_memory max', `${result.memory.redisMaxMb} MB`],
    ['lag max / final', `${result.memory.maxLag} / ${result.memory.finalLag}`],
    ['lag per group max (last third)', Object.entries(result.memory.lagByGroup).map(([name, g]) => `${name} ${g.max} (${g.lastThird})`).join(', ')],
    ['duration', `${Math.round(result.durationMs / 1000)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// helpers

type ChaosMessage = { topic: string; key: string | Buffer | null; value: Buffer | null; headers?: Record<string, string> };

/** Records of 100 KB or more go alone, in order: the broker's limit (message.max.bytes) is per batch. */
const ALONE_BYTES = 100_000;

async function sendRetrying(producer: Producer, messages: ChaosMessage[], log: Log): Promise<void> {
  let chunk: ChaosMessage[] = [];
  for (const message of messages) {
    if ((message.value?.length ?? 0) < ALONE_BYTES) {
      chunk.push(message);
      continue;
    }
    if (chunk.length > 0) await sendChunk(producer, chunk, log);
    await sendChunk(producer, [message], log);
    chunk = [];
  }
  if (chunk.length > 0) await sendChunk(producer, chunk, log);
}

async function sendChunk(producer: Producer, messages: ChaosMessage[], log: Log): Promise<void> {
  const byTopic = new Map<string, typeof messages>();
  for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
  const topicMessages = [...byTopic].map(([topic, list]) => ({ topic, messages: list.map(({ key, value, headers }) => ({ key, value, headers })) }));
  for (let attempt = 1; ; attempt += 1) {
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
      return;
    } catch (error) {
      // The broker outage: the stream waits for it (the idempotent producer keeps the order).
      if (attempt === 1 || attempt % 10 === 0) log(`[chaos] producing failed (${(error as Error).message}); retrying`);
      if (attempt > 200) throw error;
      await sleep(500);
    }
  }
}

/** The status of a GET (no redirect followed), on a fresh connection; the body is read and dropped. */
function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', reject);
  });
}

/** The group's committed offsets (next to read) per topic and partition; -1 where none. */
async function committedOf(kafka: Kafka, group: string, topics: string[]): Promise<Map<string, Map<number, number>>> {
  const answer = await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: group, topics }));
  return new Map(answer.map(({ topic, partitions }) => [topic, new Map(partitions.map((p) => [p.partition, Number(p.offset)]))]));
}

/** Records each group still has to read of its inputs (log end minus its committed offset, from the log start where it committed none). */
async function groupLags(admin: Admin, groups: Record<ConsumerName, { group: string; inputs: string[] }>): Promise<Record<ConsumerName, number>> {
  const ends = new Map<string, Array<{ partition: number; high: string; low: string }>>();
  const lag: Partial<Record<ConsumerName, number>> = {};
  for (const [name, { group, inputs }] of Object.entries(groups) as Array<[ConsumerName, { group: string; inputs: string[] }]>) {
    lag[name] = 0;
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group, topics: inputs })) {
      let topicEnds = ends.get(topic);
      if (topicEnds === undefined) {
        topicEnds = await admin.fetchTopicOffsets(topic);
        ends.set(topic, topicEnds);
      }
      lag[name] += recordsBehind(topicEnds, partitions);
    }
  }
  return lag as Record<ConsumerName, number>;
}

/** "total (group n, ...)" for the progress lines. */
function lagText(byGroup: Record<string, number> | undefined): string {
  if (byGroup === undefined) return '?';
  return `${sum(byGroup)} (${Object.entries(byGroup).map(([group, n]) => `${group} ${n}`).join(', ')})`;
}

/** Every record of the topic, decoded; `positions` (when given) gets each one's partition, offset and CreateTime, in the same order. */
async function readDecoded<T>(kafka: Kafka, codec: AvroCodec, topic: string, type: ReturnType<typeof recordTypes>['BehaviorEvent'], positions?: RecordPosition[]): Promise<T[]> {
  const values: Buffer[] = [];
  positions?.splice(0);
  await readToEnd(kafka, topic, {
    groupId: `chaos-reader-${randomUUID()}`,
    timeoutMs: 120_000,
    onMessage: (m, partition) => {
      values.push(m.value as Buffer);
      positions?.push({ partition, offset: m.offset, createTime: Number(m.timestamp) });
    },
  });
  return Promise.all(values.map((v) => codec.decode<T>(v, type)));
}

interface RecordPosition { partition: number; offset: string; createTime: number }

async function readRaw(kafka: Kafka, topic: string, onHeaders: (headers: Record<string, Buffer | string | undefined> | undefined) => void): Promise<void> {
  await readToEnd(kafka, topic, { groupId: `chaos-reader-${randomUUID()}`, timeoutMs: 120_000, onMessage: (m) => onHeaders(m.headers as Record<string, Buffer | string | undefined> | undefined) });
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

/** The memory limit of the service's container in the Kubernetes base (infra/k8s/base/<service>.yaml), in MiB (as the RSS figures). */
export function memoryLimitMb(service: string): number {
  const file = join(ROOT, 'infra', 'k8s', 'base', `${service}.yaml`);
  const bytes = manifestMemoryLimits(readFileSync(file, 'utf8')).get(service);
  if (bytes === undefined) throw new Error(`${file}: no resources.limits.memory in the Deployment that runs ${service}`);
  return bytes / (1024 * 1024);
}

/**
 * A service's longest-lived process among those sampled for at least `minLifeMs`: the mean of its
 * live heap over the first third of its sampled life after a minute's warm-up and over the last
 * third; null when none lived that long.
 */
export function ownLiveHeap(samples: ReadonlyArray<{ t: number; kb: number; pid: number }>, minLifeMs: number): { pid: number; lifeS: number; first: number; last: number } | null {
  const byPid = new Map<number, Array<{ t: number; kb: number }>>();
  for (const sample of samples) {
    const life = byPid.get(sample.pid) ?? [];
    life.push(sample);
    byPid.set(sample.pid, life);
  }
  let longest: { pid: number; life: Array<{ t: number; kb: number }> } | null = null;
  for (const [pid, life] of byPid) {
    const span = (life.at(-1)?.t ?? 0) - (life[0]?.t ?? 0);
    if (span >= minLifeMs && (longest === null || span > (longest.life.at(-1)?.t ?? 0) - (longest.life[0]?.t ?? 0))) longest = { pid, life };
  }
  if (longest === null) return null;
  const start = (longest.life[0]?.t ?? 0) + 60_000;
  const end = longest.life.at(-1)?.t ?? 0;
  const third = (end - start) / 3;
  const meanMb = (from: number, to: number) => round(mean(longest.life.filter((s) => s.t >= from && s.t <= to).map((s) => s.kb / 1024)));
  return { pid: longest.pid, lifeS: Math.round((end - (longest.life[0]?.t ?? 0)) / 1000), first: meanMb(start, start + third), last: meanMb(end - third, end) };
}

/** The sum of a record's figures. */
function sum(figures: Record<string, number>): number {
  return Object.values(figures).reduce((total, n) => total + n, 0);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** An IANA zone in which it is about noon now, so quiet hours never defer a send (as test/support/stack.ts). */
function noonZone(now: number): string {
  let offset = 12 - new Date(now).getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

export type { HostileCategory };

/**
 * config/segments.yaml with each absence condition's `for` set to CLOCK_WAIT: re_engagement
 * enters 15 minutes after a cart by the segmenter's clock (event times are clamped to it), and a
 * slow or long run outlasts that at moments the reference cannot know. The rest is unchanged.
 */
export function segmentsWithoutClockWaits(text: string): string {
  const document = parseDocument(text);
  let changed = 0;
  visit(document, {
    Pair(_key, pair) {
      if (!isScalar(pair.key) || pair.key.value !== 'absence' || !isMap(pair.value)) return;
      pair.value.set('for', CLOCK_WAIT);
      changed += 1;
    },
  });
  if (changed === 0) throw new Error('config/segments.yaml has no absence condition: segmentsWithoutClockWaits has nothing to change; drop it');
  return document.toString();
}
const CLOCK_WAIT = '6h';
