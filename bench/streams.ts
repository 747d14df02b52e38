/**
 * The Kafka Streams comparison figure (issue 16): the trigger service's two shipped rules as a
 * JVM Kafka Streams 4.1 app (bench/streams/: Processor API, RocksDB stores, 2 stream threads),
 * run with `java -jar` on the bench's input topic, once per processing.guarantee. Its triggers
 * are read back and compared with the trigger service's (same ids, same fields).
 *
 * The timed window opens when the app is RUNNING (every stream thread has its tasks, as the
 * Kairos figures open when every consumer has joined); the JVM's start-up, the warm-up run, the
 * topology's construction and the group's first rebalances are before it, and the records a
 * thread processed before it (the app prints their count with the line) are not counted. It
 * closes when the app's consumer
 * group (application.id) has committed the end of every input partition: by then every record
 * is processed, and every trigger is written (at_least_once: Streams flushes its producer before
 * committing offsets; exactly_once_v2: the outputs are in the offsets' transaction), including
 * the timers due by the frozen clock, which the app fires when a partition's last record is
 * processed. The app's "CAUGHT_UP" line (every partition processed up to its end, before that
 * commit) gives a second figure (`processed_eps`), closer to how the Kairos figures end.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../services/kit/files';
import { readSchema, valueSubject } from '../services/kit/codec';
import type { TriggerFired } from '../services/core/types';
import { BROKERS, readTopic, waitUntil, withAdmin, type BenchStack } from './stack';
import { tracked } from './interrupt';
import type { Input } from './input';
import { compareTriggers, type TriggerComparison } from './trigger-compare';
import type { LatencySubject } from './latency';

export type StreamsGuarantee = 'at_least_once' | 'exactly_once_v2';

export interface StreamsRun {
  guarantee: StreamsGuarantee;
  threads: number;
  eps: number;
  seconds: number;
  records: number;
  /** From the app's start to its RUNNING line (JVM, warm-up run if any, topology, first rebalance): not timed. */
  startup_seconds: number;
  /** Records processed before the window opened (a thread started before the other had its tasks). */
  processed_before_window: number;
  /** Records / (window open -> CAUGHT_UP): processed, before the last commit. */
  processed_eps: number | null;
  /** All records / (first record -> committed end): the window with the start-up rebalances in it. */
  eps_from_first_record: number;
  triggers_by_rule: Record<string, number>;
  comparison: TriggerComparison;
  /** The app's lines (WARMED, READY, RUNNING, FIRST_RECORD, CAUGHT_UP) and the window's end, in ms after the window opened. */
  timeline_ms: Record<string, number>;
}

/** Builds (once per source change) and returns the app's jar (infra/streams-jar.sh). */
export function streamsJar(): string {
  return execFileSync(join(projectRoot(), 'infra', 'streams-jar.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Runs the app once over `input` and compares its triggers with `reference` (the trigger service's). */
export async function measureStreams(
  stack: BenchStack,
  input: Input,
  options: {
    jar: string;
    guarantee: StreamsGuarantee;
    name: string;
    reference: readonly TriggerFired[];
    threads?: number;
    commitIntervalMs?: number;
    /** An input the app runs over first in the same JVM, untimed (JIT warm-up, as Kairos gets). */
    warmup?: Pick<Input, 'events'>;
  },
): Promise<StreamsRun> {
  const threads = options.threads ?? 2;
  const out = await stack.createOutputs(options.name, input.partitions);
  const schemaId = await stack.codec.register(valueSubject(out.triggers), readSchema('TriggerFired'));
  const applicationId = `${stack.run}.${options.name}`;
  const warmOut = options.warmup === undefined ? undefined : await stack.createOutputs(`${options.name}-warm`, input.partitions);
  const stateDir = mkdtempSync(join(tmpdir(), 'kairos-bench-streams-'));
  const ends = await withAdmin((admin) => admin.fetchTopicOffsets(input.events));
  const app = launchStreamsApp([
    ...appArgs({ ...options, threads, events: input.events, triggers: out.triggers, applicationId, stateDir, schemaId, now: String(input.clock) }),
    ...(options.warmup === undefined || warmOut === undefined ? [] : ['--warmup-input', options.warmup.events, '--warmup-output', warmOut.triggers]),
  ]);
  try {
    const { lines } = app;
    await waitUntil('the Kafka Streams app to run and read its first record', () => app.failed() || ('RUNNING' in lines && 'FIRST_RECORD' in lines), 900_000, 5);
    if (app.failed()) throw app.failure('failed to start');
    const openedAt = lines.RUNNING!;
    const records = input.count - app.processedBeforeRunning();
    let endedAt = 0;
    await waitUntil(
      "the Kafka Streams app's group to commit the end of every partition",
      async () => {
        if (app.failed()) return true;
        const [committed] = await withAdmin((admin) => admin.fetchOffsets({ groupId: applicationId, topics: [input.events] }));
        const done = ends.every((end) => {
          const c = committed?.partitions.find((p) => p.partition === end.partition);
          return Number(end.high) === 0 || (c !== undefined && Number(c.offset) >= Number(end.high));
        });
        if (done) endedAt = Date.now();
        return done;
      },
      1_800_000,
      20,
    );
    if (app.failed()) throw app.failure('failed while processing');
    const seconds = (endedAt - openedAt) / 1000;
    const caughtUp = lines.CAUGHT_UP;
    const triggers = await readTopic<TriggerFired>(stack.codec, out.triggers, 'TriggerFired');
    const comparison = compareTriggers(options.reference, triggers);
    return {
      guarantee: options.guarantee,
      threads,
      eps: Math.round(records / seconds),
      seconds: Number(seconds.toFixed(3)),
      records,
      processed_before_window: app.processedBeforeRunning(),
      eps_from_first_record: Math.round(input.count / ((endedAt - Math.min(openedAt, lines.FIRST_RECORD!)) / 1000)),
      startup_seconds: Number(((lines.RUNNING! - app.spawnedAt) / 1000).toFixed(3)),
      processed_eps: caughtUp === undefined || caughtUp <= openedAt ? null : Math.round(records / ((caughtUp - openedAt) / 1000)),
      triggers_by_rule: comparison.actual_by_rule,
      comparison,
      timeline_ms: { ...Object.fromEntries(Object.entries(lines).map(([word, at]) => [word, at - openedAt])), COMMITTED_END: endedAt - openedAt },
    };
  } finally {
    await app.stop();
    await deleteStreamsApp(applicationId); // and its warm-up's, `${applicationId}-warmup`
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * The latency rows' baseline (bench/latency.ts): the app on the wall clock (`--now live`, its
 * timers due by the clock, as a live trigger service's), started on the row's input topic,
 * ready once RUNNING. Kafka Streams' defaults but for the producer's linger.ms: Streams sets 100
 * ms, which would hold every at_least_once trigger back that long; `lingerMs` (5 in the bench,
 * the plain producer's default since Kafka 4.0) is closer to what one tunes for latency.
 */
export function streamsSubject(stack: BenchStack, options: { jar: string; guarantee: StreamsGuarantee; threads?: number; commitIntervalMs?: number; lingerMs: number }): LatencySubject {
  let app: StreamsApp | undefined;
  let applicationId: string | undefined;
  let stateDir: string | undefined;
  return {
    stampsSendTime: false,
    async start(input, out, name) {
      const schemaId = await stack.codec.register(valueSubject(out.triggers), readSchema('TriggerFired'));
      applicationId = `${stack.run}.${name}`;
      stateDir = mkdtempSync(join(tmpdir(), 'kairos-bench-streams-'));
      const started = launchStreamsApp([
        ...appArgs({ ...options, threads: options.threads ?? 2, events: input.events, triggers: out.triggers, applicationId, stateDir, schemaId, now: 'live' }),
        '--linger-ms', String(options.lingerMs),
      ]);
      app = started;
      await waitUntil('the Kafka Streams app to run', () => started.failed() || 'RUNNING' in started.lines, 300_000, 5);
      if (started.failed()) throw started.failure('failed to start');
    },
    counts: () => null,
    rebalances: (from, to) => app?.rebalances.filter((at) => at >= from && at <= to).length ?? 0,
    async stop() {
      await app?.stop();
      if (applicationId !== undefined) await deleteStreamsApp(applicationId);
      if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The app's command line (Main.java) but for the options of one use. */
function appArgs(a: {
  jar: string;
  events: string;
  triggers: string;
  applicationId: string;
  stateDir: string;
  guarantee: StreamsGuarantee;
  threads: number;
  /** The frozen clock (epoch ms) or 'live'. */
  now: string;
  schemaId: number;
  commitIntervalMs?: number;
}): string[] {
  return [
    '-jar', a.jar,
    '--bootstrap', BROKERS.join(','),
    '--input', a.events,
    '--output', a.triggers,
    '--application-id', a.applicationId,
    '--state-dir', a.stateDir,
    '--guarantee', a.guarantee,
    '--threads', String(a.threads),
    '--now', a.now,
    '--schemas', join(projectRoot(), 'schemas'),
    '--trigger-schema-id', String(a.schemaId),
    ...(a.commitIntervalMs === undefined ? [] : ['--commit-interval-ms', String(a.commitIntervalMs)]),
  ];
}

/** The app as a child process: its stdout lines (Main.java) read as they come. */
interface StreamsApp {
  spawnedAt: number;
  /** The first time (epoch ms) the app printed each line word (READY, RUNNING, FIRST_RECORD, ...). */
  lines: Record<string, number>;
  /** When (epoch ms) it printed each REBALANCING line: the group rebalanced. */
  rebalances: number[];
  /** The records its RUNNING line says were processed before it. */
  processedBeforeRunning(): number;
  /** True once it printed an ERROR line or exited. */
  failed(): boolean;
  /** An error that says what went wrong, with its ERROR lines and the end of its stderr. */
  failure(what: string): Error;
  /** SIGTERM (the app closes its KafkaStreams), SIGKILL after 40 s. */
  stop(): Promise<void>;
}

function launchStreamsApp(args: string[]): StreamsApp {
  const lines: Record<string, number> = {};
  const rebalances: number[] = [];
  let processedBeforeRunning = 0;
  const errors: string[] = [];
  let stderr = '';
  let exited = false;
  const spawnedAt = Date.now();
  const child = tracked(spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  child.on('exit', () => (exited = true));
  child.on('error', (error) => {
    errors.push(`ERROR could not run java: ${error.message}`);
    exited = true;
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const [word, at] = line.split(' ');
    if (word === 'ERROR') errors.push(line);
    if (word === 'REBALANCING') rebalances.push(Number(at));
    if (word !== 'ERROR' && word !== undefined && /^[A-Z_]+$/.test(word) && !(word in lines)) {
      lines[word] = Number(at);
      if (word === 'RUNNING') processedBeforeRunning = Number(line.split(' ')[2] ?? 0);
    }
  });
  return {
    spawnedAt,
    lines,
    rebalances,
    processedBeforeRunning: () => processedBeforeRunning,
    failed: () => errors.length > 0 || exited,
    failure: (what) => new Error(`bench: the Kafka Streams app ${what}: ${errors.join('; ') || 'it exited'}\n${stderr.slice(-4000)}`),
    stop: () => stop(child, () => exited),
  };
}

/** SIGTERM (the app closes its KafkaStreams), SIGKILL after 40 s. */
async function stop(child: ChildProcess | undefined, exited: () => boolean): Promise<void> {
  if (child === undefined || exited()) return;
  child.kill('SIGTERM');
  try {
    await waitUntil('the Kafka Streams app to stop', exited, 40_000, 50);
  } catch {
    child.kill('SIGKILL');
    await waitUntil('the Kafka Streams app to be killed', exited, 10_000, 50).catch(() => undefined);
  }
}

/** Groups deleteStreamsApp could not delete yet (members not timed out): deleteStreamsLeftovers retries them. */
const leftoverGroups = new Set<string>();

/** Deletes what Kafka Streams created for an application id (and its warm-up's): internal topics and groups. */
export async function deleteStreamsApp(applicationId: string): Promise<void> {
  await withAdmin(async (admin) => {
    const internal = (await admin.listTopics()).filter((topic) => topic.startsWith(`${applicationId}-`));
    if (internal.length > 0) await admin.deleteTopics({ topics: internal });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g === applicationId || g.startsWith(`${applicationId}-`));
    for (const group of groups) {
      await admin.deleteGroups([group]).catch(() => leftoverGroups.add(group));
    }
  }).catch(() => undefined);
}

/**
 * Deletes the groups deleteStreamsApp left (a member that did not leave is removed by the broker
 * after its session timeout, 45 s by default), retrying for up to `timeoutMs`. For the bench's
 * final clean-up, also after a failure.
 */
export async function deleteStreamsLeftovers(timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  while (leftoverGroups.size > 0 && Date.now() < deadline) {
    await withAdmin(async (admin) => {
      for (const group of [...leftoverGroups]) {
        await admin.deleteGroups([group]).then(() => leftoverGroups.delete(group), () => undefined);
      }
    }).catch(() => undefined);
    if (leftoverGroups.size > 0) await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return [...leftoverGroups];
}
