/**
 * `make bench`: every figure of the benchmark issue against the real local stack, in one run.
 * Prints progress and a table, and writes bench/results.json (value and conditions per figure).
 *
 *   node dist/bench/main.js            full run (the Makefile starts the stack first)
 *   BENCH_EVENTS=20000 BENCH_REPEATS=1 BENCH_GROWTH=10000,20000 BENCH_SCALE_EVENTS=100000 node dist/bench/main.js   a quick check
 * The table judges every target of the performance issue (bench/targets.ts), "met" or "NOT MET".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { projectRoot } from '../services/kit/files';
import type { SegmentChange, TriggerFired } from '../services/core/types';
import { STATEFUL_PARTITIONS_CONCURRENTLY } from '../services/kit/consumer-service';
import { onInterrupt, once } from './interrupt';
import { measureLatency, type LatencyFigure } from './latency';
import { describeMachine, type MachineDuringRow } from './machine-load';
import { measureMemory, type MemoryFigure } from './memory';
import { measureRender, SLICE_MS } from './render';
import { IN_FLIGHT, measureBareSes, measureRenderSend, type BareSesFigure } from './render-send';
import { PrivateRedis } from './redis-nodes';
import { measureScaleOut, type ScaleOutRun } from './scale-out';
import { deleteStreamsLeftovers, measureStreams, streamsJar, streamsSubject, type StreamsGuarantee, type StreamsRun } from './streams';
import { SEGMENT_RULE_PREFIX } from '../services/core/segments/engine';
import { countBy, countDifferences, triggersWrittenBy, formatCounts, judgeTargets, latencyRatio, latencyTargetName, streamsGuaranteeOf, positiveIntList, ratio, RATE_REACHED, verdict, type TargetResult } from './targets';
import { intEnv } from './env';
import { measureRelay } from './relay';
import { BenchStack, readTopic, type OutputTopics } from './stack';
import type { Input } from './input';
import { measureBaseline, measureCeiling, measureKairos, serviceSettings, type KairosPart, type Measured } from './throughput';
import { shopTraffic } from './traffic';

const HOUR = 3600_000;

const settings = {
  events: intEnv('BENCH_EVENTS', 200_000),
  repeats: intEnv('BENCH_REPEATS', 3),
  baselineRepeats: intEnv('BENCH_BASELINE_REPEATS', 1),
  warmupEvents: intEnv('BENCH_WARMUP_EVENTS', 20_000),
  partitions: intEnv('BENCH_PARTITIONS', 12),
  eventsPerCustomer: intEnv('BENCH_EVENTS_PER_CUSTOMER', 10),
  // BENCH_LATENCY_RATE (one rate) is still read when BENCH_LATENCY_RATES is not set.
  latencyRates: positiveIntList('BENCH_LATENCY_RATES', process.env.BENCH_LATENCY_RATES ?? process.env.BENCH_LATENCY_RATE, [2000, 10_000]),
  latencyGuarantees: guaranteeList(process.env.BENCH_LATENCY_GUARANTEES),
  latencySeconds: intEnv('BENCH_LATENCY_SECONDS', 20),
  /** Untimed seconds at the start of every latency row, Kairos's and the Kafka Streams app's alike. */
  latencyWarmupSeconds: 5,
  renderSeconds: intEnv('BENCH_RENDER_SECONDS', 3),
  relayRecords: intEnv('BENCH_RELAY_RECORDS', 60_000),
  relayRounds: intEnv('BENCH_RELAY_ROUNDS', 100),
  growth: (process.env.BENCH_GROWTH ?? '100000,1000000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0),
  seed: intEnv('BENCH_SEED', 42),
  scaleInstances: positiveIntList('BENCH_SCALE_INSTANCES', process.env.BENCH_SCALE_INSTANCES, [1, 2, 3]),
  /** 0: the scale-out figure reads the main input; otherwise an input of its own of this size. */
  scaleEvents: Number(process.env.BENCH_SCALE_EVENTS ?? 0) > 0 ? intEnv('BENCH_SCALE_EVENTS', 1) : 0,
  scaleRepeats: intEnv('BENCH_SCALE_REPEATS', intEnv('BENCH_REPEATS', 3)),
  scaleCluster: (process.env.BENCH_SCALE_CLUSTER ?? '1').trim() !== '0',
  clusterPorts: positiveIntList('BENCH_CLUSTER_PORTS', process.env.BENCH_CLUSTER_PORTS, [17101, 17102, 17103]),
  /** The Kafka Streams comparison app (bench/streams.ts); BENCH_STREAMS=0 skips it. */
  streams: (process.env.BENCH_STREAMS ?? '1').trim() !== '0',
  streamsRepeats: intEnv('BENCH_STREAMS_REPEATS', 1),
  streamsThreads: intEnv('BENCH_STREAMS_THREADS', 2),
  /** 1: the app first runs over the warm-up topic in the same JVM, untimed (0: a cold JVM). */
  streamsWarmup: (process.env.BENCH_STREAMS_WARMUP ?? '1').trim() !== '0',
  /** Unset: Kafka Streams' default commit.interval.ms (30 s at_least_once, 100 ms exactly_once_v2). */
  streamsCommitMs: process.env.BENCH_STREAMS_COMMIT_MS ? intEnv('BENCH_STREAMS_COMMIT_MS', 1) : undefined,
  streamsGuarantees: streamsGuaranteeList(process.env.BENCH_STREAMS_GUARANTEES),
  /** After each latency row, the Kafka Streams app's row with the same probes (BENCH_LATENCY_STREAMS=0 skips them; so does BENCH_STREAMS=0). */
  latencyStreams: (process.env.BENCH_LATENCY_STREAMS ?? '1').trim() !== '0',
  /** The Kafka Streams app's producer linger.ms in the latency rows (Streams' own default is 100). */
  latencyStreamsLingerMs: intEnv('BENCH_LATENCY_STREAMS_LINGER_MS', 5, 0),
};

function streamsGuaranteeList(raw: string | undefined): StreamsGuarantee[] {
  const values = (raw ?? 'at_least_once,exactly_once_v2').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = values.filter((v) => v !== 'at_least_once' && v !== 'exactly_once_v2');
  if (values.length === 0 || bad.length > 0) throw new Error(`bench: BENCH_STREAMS_GUARANTEES=${raw} must list at_least_once and/or exactly_once_v2`);
  return values as StreamsGuarantee[];
}

function guaranteeList(raw: string | undefined): string[] {
  const values = (raw ?? 'exactly_once,at_least_once').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = values.filter((v) => v !== 'exactly_once' && v !== 'at_least_once');
  if (values.length === 0 || bad.length > 0) throw new Error(`bench: BENCH_LATENCY_GUARANTEES=${raw} must list exactly_once and/or at_least_once`);
  return values;
}

const started = Date.now();
function progress(text: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[bench ${s}s] ${text}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** Repeats a throughput measurement; reports the median and every run. */
async function repeated(label: string, times: number, run: (i: number) => Promise<Measured>): Promise<{ eps: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const result = await run(i);
    runs.push(result.eps);
    progress(`${label} run ${i + 1}/${times}: ${result.eps.toLocaleString('en-US')} events/s (${result.records} events in ${result.seconds} s)`);
  }
  return { eps: median(runs), runs };
}

/** `segmenter: read 0.6, compute 2.8, ... (14 batches); trigger: ...` */
function describePhases(phases: Record<string, Record<string, number>>): string {
  return Object.entries(phases)
    .map(([service, sums]) => `${service}: ${Object.entries(sums).filter(([name]) => name !== 'batches').map(([name, seconds]) => `${name} ${seconds}`).join(', ')} (${sums.batches ?? 0} batches)`)
    .join('; ');
}

async function prepareInput(stack: BenchStack, name: string, count: number, seed: number): Promise<Input & { customers: number; addsToCart: number }> {
  const clock = Date.parse('2026-03-02T18:00:00Z');
  const customers = Math.max(100, Math.round(count / settings.eventsPerCustomer));
  const events = shopTraffic({ total: count, customers, products: 2000, seed, from: clock - 6 * HOUR, to: clock, run: `${stack.run.slice(6, 12)}${name.slice(0, 1)}` });
  const topics = await stack.createInput(name, settings.partitions);
  let reported = 0;
  await stack.produceEvents(topics.events, events, (done) => {
    if (done - reported >= 200_000 || done === events.length) {
      reported = done;
      progress(`producing ${name}: ${done.toLocaleString('en-US')}/${events.length.toLocaleString('en-US')}`);
    }
  });
  const active = new Set(events.map((e) => e.customer_id)).size;
  const addsToCart = events.filter((e) => e.type === 'add_to_cart').length;
  return { ...topics, count: events.length, partitions: settings.partitions, clock, customers: active, addsToCart };
}

/** What a measured pipeline wrote: triggers per rule and segment changes per segment. */
interface Firings {
  triggers_by_rule?: Record<string, number>;
  segment_changes_by_segment?: Record<string, number>;
}

/** Reads a measured run's outputs back (untimed) and counts them; only the parts that ran. */
async function readFirings(stack: BenchStack, out: OutputTopics, parts: readonly KairosPart[]): Promise<Firings> {
  const firings: Firings = {};
  // Both services write to the triggers topic (the segmenter its segment-entry triggers).
  firings.triggers_by_rule = countBy(await readTopic<TriggerFired>(stack.codec, out.triggers, 'TriggerFired'), (t) => t.rule);
  if (parts.includes('segmenter')) {
    firings.segment_changes_by_segment = countBy(await readTopic<SegmentChange>(stack.codec, out.segmentChanges, 'SegmentChange'), (c) => c.segment);
  }
  return firings;
}

function describeFirings(f: Firings): string {
  return [
    f.triggers_by_rule === undefined ? null : `triggers ${formatCounts(f.triggers_by_rule)}`,
    f.segment_changes_by_segment === undefined ? null : `segment changes ${formatCounts(f.segment_changes_by_segment)}`,
  ].filter((x) => x !== null).join('; ');
}

/** Kairos and the baseline must agree on the same input: same trigger ids, same segment changes. */
async function compareOutputs(stack: BenchStack, a: { out: { triggers: string; segmentChanges: string } }, b: typeof a) {
  const kairosTriggers = await readTopic<TriggerFired>(stack.codec, a.out.triggers, 'TriggerFired');
  const triggerIds = async (topic: string) =>
    (topic === a.out.triggers ? kairosTriggers : await readTopic<TriggerFired>(stack.codec, topic, 'TriggerFired')).map((t) => t.trigger_id).sort();
  const changes = async (topic: string) =>
    (await readTopic<SegmentChange>(stack.codec, topic, 'SegmentChange')).map((c) => `${c.customer_id}|${c.segment}|${c.change}`).sort();
  const [ta, tb, ca, cb] = await Promise.all([triggerIds(a.out.triggers), triggerIds(b.out.triggers), changes(a.out.segmentChanges), changes(b.out.segmentChanges)]);
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const carts = kairosTriggers.filter((t) => t.rule === 'cart_abandoned').length;
  return {
    triggers: ta.length, segment_changes: ca.length, same_triggers: same(ta, tb), same_segment_changes: same(ca, cb),
    baseline_triggers: tb.length, baseline_segment_changes: cb.length, cart_abandoned: carts,
    triggers_by_rule: countBy(kairosTriggers, (t) => t.rule),
    segment_changes_by_segment: countBy(ca, (c) => c.split('|')[1]),
  };
}

/** The services' settings the bench passes on from its environment (serviceEnv). */
const SERVICE_SETTINGS = serviceSettings();

/** ", services with FETCH_MIN_BYTES=… RELAY_GATHER=…" when `settings` has any, else nothing. */
function serviceSettingsText(settings: Iterable<readonly [string, unknown]>): string {
  const set = [...settings].map(([name, value]) => `${name}=${String(value)}`);
  return set.length === 0 ? '' : `, services with ${set.join(' ')}`;
}

/**
 * The latency figure of one (rate, guarantee), with the target judged on that row, and the Kafka
 * Streams app's with the same probes just after it (null when not measured).
 */
type LatencyRowFigure = LatencyFigure & { target: TargetResult | null; streams: LatencyFigure | null };

/** A row's p99 by quarter of its timed window ("-" for a quarter without probes; "" when not measured). */
function byQuarter(quarters: number[] | undefined): string {
  return quarters === undefined || quarters.length === 0 ? '' : `p99 by quarter ${quarters.map((q) => (Number.isFinite(q) ? q.toLocaleString('en-US') : '-')).join(' / ')} ms; `;
}

/** `p50 20 ms, p99 60 ms, max 101 ms (1,000 triggers timed, 0 missing); p99 by quarter 71 / 55 / 58 / 52 ms; offered 2000/s, achieved 1998/s` */
function describeLatency(latency: LatencyFigure, rate: number): string {
  const reached = latency.achieved_eps >= RATE_REACHED * rate;
  return (
    `p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms, max ${latency.max_ms} ms (${latency.probes_timed} triggers timed, ${latency.probes_missing} missing); ${byQuarter(latency.p99_ms_by_quarter)}` +
    `offered ${rate}/s, achieved ${latency.achieved_eps}/s${reached ? '' : ` - THE PROBE PRODUCER DID NOT REACH ${rate} events/s on this machine`}` +
    (latency.rebalances ? `; its group rebalanced ${latency.rebalances} time(s) during the row` : '')
  );
}

/** `mean ms per batch: segmenter read 9.6, compute 0.4, apply 9.6, relay 31.2; trigger read 7.3, ...; ` ('' when the subject does not tell) */
function describeBatchMeans(phases: LatencyFigure['batch_phase_ms']): string {
  if (phases === null) return '';
  const one = (means: Record<string, number>) => Object.entries(means).map(([phase, ms]) => `${phase} ${ms}`).join(', ');
  return `mean ms per batch: segmenter ${one(phases.segmenter)}; trigger ${one(phases.trigger)}; `;
}

async function main(): Promise<void> {
  const stack = new BenchStack();
  progress(`run ${stack.run} on Node.js ${process.version}${serviceSettingsText(SERVICE_SETTINGS)}: ${settings.events.toLocaleString('en-US')} events x ${settings.repeats} repeats, ${settings.partitions} partitions, growth at ${settings.growth.join(' and ')}`);
  // The Node.js the figures were measured on (and the services' settings when the bench set
  // any), first in results.json and in the table's heading.
  const results: Record<string, unknown> = { node: process.version, ...(SERVICE_SETTINGS.length === 0 ? {} : { services_settings: Object.fromEntries(SERVICE_SETTINGS) }) };
  let cluster: PrivateRedis | undefined;
  let clusterDir: string | undefined;
  // Run at the end, after a failure, or on Ctrl-C / SIGTERM (bench/interrupt.ts), once.
  const cleanUp = once(async () => {
    if (cluster) await cluster.down().catch(() => undefined);
    if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
    progress('cleaning up topics and Redis keys');
    await stack.cleanup();
    const stuck = await deleteStreamsLeftovers();
    if (stuck.length > 0) progress(`could not delete the Kafka Streams groups ${stuck.join(', ')}`);
  });
  const removeInterrupt = onInterrupt({ cleanUp, progress });
  try {
    // Built before anything is measured (once per source change; Maven), so a build failure stops the run early.
    const jar = settings.streams ? streamsJar() : null;
    if (jar !== null) progress(`Kafka Streams comparison app: ${jar}`);
    const warm = await prepareInput(stack, 'warmup', settings.warmupEvents, settings.seed + 1000);
    const input = await prepareInput(stack, 'main', settings.events, settings.seed);
    const conditions = {
      events: input.count,
      customers: input.customers,
      partitions: input.partitions,
      repeats: settings.repeats,
      // The services' PARTITIONS_CONCURRENTLY (BENCH_KAIROS_CONCURRENCY, else their default).
      partitions_consumed_concurrently: Number(process.env.BENCH_KAIROS_CONCURRENCY || STATEFUL_PARTITIONS_CONCURRENTLY),
      clock: 'frozen at the end of the traffic window (6 h of synthetic shop traffic)',
      // Since 2026-12-04 two services in one process start reading together (docs/benchmarks.md, Timing).
      window: 'from every consumer having joined its group (services in one process each hold their input until then: bench/consumer-gate.ts) to the last record processed',
      host: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
    };

    progress('warm-up: one pass of ceiling, Kairos and baseline over the warm-up topic');
    await measureCeiling(stack, warm);
    const warmKairos = await measureKairos(stack, warm, ['segmenter', 'trigger'], 'warm-kairos');
    const warmBaseline = await measureBaseline(stack, warm, 'warm-baseline');
    const warmCheck = await compareOutputs(stack, warmKairos, warmBaseline);
    progress(`warm-up equivalence: ${JSON.stringify(warmCheck)}`);
    await stack.deleteKeys(warmKairos.prefix);
    await stack.deleteKeys(warmBaseline.prefix);

    const ceiling = await repeated('ceiling', settings.repeats, () => measureCeiling(stack, input));
    let memory: MemoryFigure | undefined;
    let firstTogether: Awaited<ReturnType<typeof measureKairos>> | undefined;
    // What every measured run wrote, read back after its timing: a faster run must not fire less.
    const runFirings: Record<string, Firings[]> = { kairos: [], segmenter: [], trigger: [] };
    // Where each run's batch time went, per service (kairos_batch_phase_seconds sums).
    const runPhases: Record<string, Array<Record<string, Record<string, number>>>> = { kairos: [], segmenter: [], trigger: [] };
    let triggerOut: OutputTopics | undefined; // the first trigger-alone run's outputs: the Streams app's reference
    const kairosPart = async (label: 'kairos' | 'segmenter' | 'trigger', parts: KairosPart[]) =>
      repeated(label, settings.repeats, async (i) => {
        const run = await measureKairos(stack, input, parts, `${label}-${i}`);
        const firings = await readFirings(stack, run.out, parts);
        runFirings[label].push(firings);
        if (label === 'trigger' && i === 0) triggerOut = run.out;
        progress(`${label} run ${i + 1} fired: ${describeFirings(firings)}`);
        if (run.phases !== undefined) {
          runPhases[label].push(run.phases);
          progress(`${label} run ${i + 1} batch phases (seconds, summed over the partitions processed at once): ${describePhases(run.phases)}`);
        }
        if (label === 'kairos' && i === 0) {
          firstTogether = run;
          memory = await measureMemory(stack, run.prefix, input.customers);
          progress(`memory: ${memory.bytes_per_customer} bytes per active customer (${memory.keys} keys, ${memory.customers} customers)`);
        } else await stack.deleteKeys(run.prefix);
        return run;
      });
    const kairos = await kairosPart('kairos', ['segmenter', 'trigger']);
    const segmenter = await kairosPart('segmenter', ['segmenter']);
    const trigger = await kairosPart('trigger', ['trigger']);

    // Kafka Streams: the same two rules as a JVM app, same input, compared with the trigger service's triggers.
    const streamsRuns: StreamsRun[] = [];
    const streamsFigures: Partial<Record<StreamsGuarantee, { eps: number; runs: number[] }>> = {};
    const streamsDifferences: string[] = [];
    if (jar !== null && triggerOut !== undefined) {
      const reference = await readTopic<TriggerFired>(stack.codec, triggerOut.triggers, 'TriggerFired');
      for (const guarantee of settings.streamsGuarantees) {
        const label = `Kafka Streams ${guarantee}`;
        streamsFigures[guarantee] = await repeated(label, settings.streamsRepeats, async (i) => {
          const run = await measureStreams(stack, input, { jar, guarantee, threads: settings.streamsThreads, commitIntervalMs: settings.streamsCommitMs, warmup: settings.streamsWarmup ? warm : undefined, name: `streams-${guarantee === 'at_least_once' ? 'alo' : 'eos'}-${i}`, reference });
          streamsRuns.push(run);
          const c = run.comparison;
          progress(
            `${label} run ${i + 1}: RUNNING ${run.startup_seconds} s after its start (untimed), ${run.processed_before_window.toLocaleString('en-US')} records processed before; ` +
              `processed everything at ${run.processed_eps?.toLocaleString('en-US') ?? 'n/a'} events/s; from its first record ${run.eps_from_first_record.toLocaleString('en-US')} events/s; fired ${formatCounts(run.triggers_by_rule)}; ` +
              (c.same ? `the same ${c.actual.toLocaleString('en-US')} triggers as the trigger service` : `DIFFERENT from the trigger service: ${c.missing} missing, ${c.extra} extra, ${c.duplicates} duplicates, ${c.different} with other fields; ${c.examples.join('; ')}`),
          );
          if (!c.same) streamsDifferences.push(`streams ${guarantee} run ${i + 1}: ${c.missing} missing, ${c.extra} extra, ${c.duplicates} duplicates, ${c.different} different`);
          return run;
        });
      }
    }
    const streamsEps = streamsFigures.at_least_once?.eps ?? null;
    const streamsEosEps = streamsFigures.exactly_once_v2?.eps ?? null;
    const streamsSame = streamsRuns.length === 0 ? null : streamsDifferences.length === 0;
    const baselineRun: Array<Awaited<ReturnType<typeof measureBaseline>>> = [];
    const baseline = await repeated('baseline', settings.baselineRepeats, async (i) => {
      const run = await measureBaseline(stack, input, `baseline-${i}`);
      baselineRun.push(run);
      return run;
    });
    const equivalence = await compareOutputs(stack, firstTogether!, baselineRun[0]);
    progress(`equivalence (Kairos vs baseline on the measured input): ${JSON.stringify(equivalence)}`);
    // About a third of the traffic's carts are abandoned: a ratio near 1 would mean timers fired
    // before the purchases further down the log were read.
    const cartsPerAdd = round(equivalence.cart_abandoned / Math.max(1, input.addsToCart));
    progress(`cart_abandoned per add_to_cart: ${equivalence.cart_abandoned} / ${input.addsToCart} = ${cartsPerAdd}`);
    results.cart_abandoned_per_add_to_cart = cartsPerAdd;
    if (firstTogether) await stack.deleteKeys(firstTogether.prefix);
    for (const run of baselineRun) await stack.deleteKeys(run.prefix);

    // Every measured run of the main input must have fired what the first Kairos run fired.
    const reference: Firings = { triggers_by_rule: equivalence.triggers_by_rule, segment_changes_by_segment: equivalence.segment_changes_by_segment };
    const firingDifferences: string[] = [];
    const runParts = { kairos: { segmenter: true, trigger: true }, segmenter: { segmenter: true, trigger: false }, trigger: { segmenter: false, trigger: true } };
    for (const [label, list] of Object.entries(runFirings) as Array<[keyof typeof runParts, Firings[]]>) {
      const expected = triggersWrittenBy(reference.triggers_by_rule!, runParts[label], SEGMENT_RULE_PREFIX);
      list.forEach((f, i) => {
        if (f.triggers_by_rule) firingDifferences.push(...countDifferences(f.triggers_by_rule, expected).map((d) => `${label} run ${i + 1} triggers ${d}`));
        if (f.segment_changes_by_segment) {
          firingDifferences.push(...countDifferences(f.segment_changes_by_segment, reference.segment_changes_by_segment!).map((d) => `${label} run ${i + 1} segment changes ${d}`));
        }
      });
    }
    progress(`firings of the measured Kairos run: ${describeFirings(reference)}`);
    firingDifferences.push(...streamsDifferences);
    progress(firingDifferences.length === 0 ? 'every measured run fired the same per rule and per segment' : `runs that fired differently: ${firingDifferences.join('; ')}`);

    const latencyRows: LatencyRowFigure[] = [];
    for (const rate of settings.latencyRates) {
      for (const guarantee of settings.latencyGuarantees) {
        progress(`latency: ${rate} events/s offered, OUTPUT_GUARANTEE=${guarantee}, for ${settings.latencySeconds} s (after 5 s warm-up)`);
        const name = `latency-${rate}-${guarantee === 'exactly_once' ? 'eo' : 'alo'}`;
        const latencyInput = await stack.createInput(name, settings.partitions);
        const latency = await measureLatency(stack, { ...latencyInput, partitions: settings.partitions }, {
          rate,
          seconds: settings.latencySeconds,
          warmupSeconds: settings.latencyWarmupSeconds,
          guarantee,
          name,
          progress,
        });
        const counts = latency.batches_per_s === null ? '' :
          `batches per s: segmenter ${latency.batches_per_s.segmenter}, trigger ${latency.batches_per_s.trigger}` +
          (guarantee === 'exactly_once' && latency.transactions_per_s !== null ? `, transactions per s: segmenter ${latency.transactions_per_s.segmenter}, trigger ${latency.transactions_per_s.trigger}; ` : '; ');
        progress(`latency ${rate}/s ${guarantee}: ${describeLatency(latency, rate)}; ${counts}${describeBatchMeans(latency.batch_phase_ms)}the machine meanwhile: ${describeMachine(latency.machine)}`);
        let streamsLatency: LatencyFigure | null = null;
        if (jar !== null && settings.latencyStreams) {
          const streamsGuarantee = streamsGuaranteeOf(guarantee);
          const streamsName = `${name}-streams`;
          progress(`latency: the same probes, ${rate} events/s, to the Kafka Streams app (${streamsGuarantee}, wall clock, linger.ms ${settings.latencyStreamsLingerMs})`);
          const streamsInput = await stack.createInput(streamsName, settings.partitions);
          streamsLatency = await measureLatency(stack, { ...streamsInput, partitions: settings.partitions }, {
            rate,
            seconds: settings.latencySeconds,
            warmupSeconds: settings.latencyWarmupSeconds,
            guarantee: streamsGuarantee,
            name: streamsName,
            label: `Kafka Streams ${streamsGuarantee}`,
            progress,
            subject: streamsSubject(stack, { jar, guarantee: streamsGuarantee, threads: settings.streamsThreads, commitIntervalMs: settings.streamsCommitMs, lingerMs: settings.latencyStreamsLingerMs }),
          });
          progress(`latency ${rate}/s Kafka Streams ${streamsGuarantee}: ${describeLatency(streamsLatency, rate)}; Kairos's p99 ${latencyRatio(latency.p99_ms, streamsLatency.p99_ms) ?? 'n/a'}x its; the machine meanwhile: ${describeMachine(streamsLatency.machine)}`);
        }
        latencyRows.push({ ...latency, target: null, streams: streamsLatency });
      }
    }

    progress(`render: Kairos render() vs bare Handlebars, ${settings.renderSeconds} s each in alternating ${SLICE_MS}-ms slices`);
    const { only: renderOnly, bare: renderBare } = measureRender(settings.renderSeconds);
    progress(`render only ${renderOnly.eps}/s, bare Handlebars ${renderBare.eps}/s`);
    // Bare client before and after render + send (the emulator keeps every message, so it may
    // slow down over the run); the reference is the mean of the two.
    progress(`render + send vs a bare SESv2 client: ${IN_FLIGHT} in flight, ${settings.renderSeconds} s each, bare / render + send / bare`);
    const bareBefore = await measureBareSes(stack, settings.renderSeconds, progress, 'bare SESv2 client (before)');
    const renderSend = await measureRenderSend(stack, settings.renderSeconds, progress);
    const bareAfter = await measureBareSes(stack, settings.renderSeconds, progress, 'bare SESv2 client (after)');
    const bareRuns = [bareBefore, bareAfter].map((b: BareSesFigure) => b.eps).filter((e): e is number => e !== null);
    const bareSesEps = bareRuns.length === 0 ? null : Math.round(bareRuns.reduce((a, b) => a + b, 0) / bareRuns.length);

    progress('relay: outbox to Kafka, at_least_once vs exactly_once (OUTPUT_GUARANTEE)');
    const relay = await measureRelay(stack, { records: settings.relayRecords, rounds: settings.relayRounds, partitions: settings.partitions, progress });

    // Scale-out: trigger alone, 1..N instances as separate processes, then N on a Redis Cluster.
    const scaleInput = settings.scaleEvents === 0 ? input : await prepareInput(stack, 'scale', settings.scaleEvents, settings.seed + 7);
    const scaleReference = settings.scaleEvents === 0 ? triggersWrittenBy(reference.triggers_by_rule!, runParts.trigger, SEGMENT_RULE_PREFIX) : undefined;
    const scaleRuns: ScaleOutRun[] = [];
    const scaleFigures: Array<{ instances: number; redis: string; eps: number; runs: number[] }> = [];
    const scaleOut = async (instances: number, redisEnv?: Record<string, string>) => {
      const label = `scale-out ${instances} instance${instances === 1 ? '' : 's'}${redisEnv ? ' on a 3-master Redis Cluster' : ''}`;
      const measured = await repeated(label, settings.scaleRepeats, async (i) => {
        const run = await measureScaleOut(stack, scaleInput, { instances, name: `scale-${instances}${redisEnv ? 'c' : ''}-${i}`, redisEnv });
        scaleRuns.push(run);
        progress(`${label} run ${i + 1}: ${run.records.toLocaleString('en-US')} events timed; final assignment after ${run.join_seconds} s, ${run.committed_before_window.toLocaleString('en-US')} committed before the release; fired ${formatCounts(run.triggers_by_rule)}`);
        return { eps: run.eps, seconds: run.seconds, records: run.records };
      });
      scaleFigures.push({ instances, redis: redisEnv ? 'cluster' : 'single', ...measured });
    };
    for (const instances of settings.scaleInstances) await scaleOut(instances);
    if (settings.scaleCluster) {
      clusterDir = mkdtempSync(join(tmpdir(), 'kairos-bench-cluster-'));
      cluster = new PrivateRedis(clusterDir, settings.clusterPorts, true);
      progress(`starting a 3-master Redis Cluster on ${settings.clusterPorts.join(',')}`);
      await cluster.up();
      await scaleOut(Math.max(...settings.scaleInstances), cluster.env());
      await cluster.down();
      cluster = undefined;
    }
    const firstScale = scaleRuns[0]?.triggers_by_rule;
    const scaleDifferences = scaleRuns.flatMap((run, i) =>
      countDifferences(run.triggers_by_rule, scaleReference ?? firstScale ?? {}).map((d) => `scale-out measurement ${i + 1} (${run.instances}, ${run.redis}) ${d}`),
    );
    firingDifferences.push(...scaleDifferences);
    progress(scaleDifferences.length === 0 ? 'every scale-out measurement fired the same per rule' : `scale-out measurements that fired differently: ${scaleDifferences.join('; ')}`);

    // Growth: every size runs `repeats` times, the sizes taking turns (100k, 1M, 100k, 1M, ...),
    // and each size's median counts. The sizes last from 2 to 40 s, and this machine's speed can
    // change by half within minutes (run R: 100,000 events at 30,912 to 37,383 ev/s against one
    // 1,000,000-event run at 25,769): runs in turn see the same moments of the machine, and a
    // median of the longest size no longer rests on one run.
    const growthSizes: Array<{ size: number; input: Awaited<ReturnType<typeof prepareInput>>; runs: number[]; first?: { seconds: number; memory: MemoryFigure; firings: Firings } }> = [];
    for (const size of settings.growth) {
      progress(`growth: ${size.toLocaleString('en-US')} events`);
      growthSizes.push({ size, input: await prepareInput(stack, `growth-${size}`, size, settings.seed + size), runs: [] });
    }
    for (let i = 0; i < settings.repeats; i += 1) {
      for (const entry of growthSizes) {
        const { size, input: growthInput } = entry;
        const run = await measureKairos(stack, growthInput, ['segmenter', 'trigger'], `growth-${size}-${i + 1}`);
        entry.runs.push(run.eps);
        progress(`growth ${size} run ${i + 1}/${settings.repeats}: ${run.eps.toLocaleString('en-US')} events/s (${run.records} events in ${run.seconds} s)`);
        const firings = await readFirings(stack, run.out, ['segmenter', 'trigger']);
        progress(`growth ${size} run ${i + 1} fired: ${describeFirings(firings)}`);
        // The first run's memory and firings; every later run must fire the same.
        if (entry.first === undefined) {
          entry.first = { seconds: run.seconds, memory: await measureMemory(stack, run.prefix, growthInput.customers), firings };
        } else {
          firingDifferences.push(...countDifferences(firings.triggers_by_rule ?? {}, entry.first.firings.triggers_by_rule ?? {}).map((d) => `growth ${size} run ${i + 1} triggers ${d}`));
          firingDifferences.push(...countDifferences(firings.segment_changes_by_segment ?? {}, entry.first.firings.segment_changes_by_segment ?? {}).map((d) => `growth ${size} run ${i + 1} segment changes ${d}`));
        }
        await stack.deleteKeys(run.prefix);
      }
    }
    const growth: Array<Record<string, unknown>> = growthSizes.map(({ size, input: growthInput, runs, first }) => {
      if (first === undefined) throw new Error(`growth ${size}: no run`);
      const eps = median(runs);
      progress(`growth ${size}: ${eps} events/s (median of ${runs.length}), ${first.memory.bytes_per_customer} bytes per customer`);
      return { events: growthInput.count, customers: growthInput.customers, kairos_eps: eps, runs, seconds: first.seconds, redis_bytes_per_customer: first.memory.bytes_per_customer, memory: first.memory, ...first.firings };
    });

    const targets = judgeTargets({
      ceiling_eps: ceiling.eps,
      kairos_eps: kairos.eps,
      segmenter_eps: segmenter.eps,
      trigger_eps: trigger.eps,
      latency: latencyRows.map((l) => ({ offered_eps: l.offered_eps, achieved_eps: l.achieved_eps, guarantee: l.guarantee, p99_ms: Number.isFinite(l.p99_ms) ? l.p99_ms : null, probes_missing: l.probes_missing })),
      growth: growth.map((g) => ({ events: g.events as number, kairos_eps: g.kairos_eps as number })),
      redis_bytes_per_customer: memory?.bytes_per_customer ?? null,
      render_only_eps: renderOnly.eps,
      render_bare_eps: renderBare.eps,
      render_send_eps: renderSend.eps,
      bare_ses_eps: bareSesEps,
      streams_eps: streamsEps,
      streams_same_triggers: streamsSame,
    });
    for (const row of latencyRows) row.target = targets[latencyTargetName(row)] ?? null;
    const firstLatency = latencyRows[0];

    Object.assign(results, {
      ceiling_eps: ceiling.eps,
      baseline_eps: baseline.eps,
      kairos_eps: kairos.eps,
      segmenter_eps: segmenter.eps,
      trigger_eps: trigger.eps,
      streams_eps: streamsEps,
      streams_eos_eps: streamsEosEps,
      // The first (rate, guarantee) row, as before; every row is in `latency`.
      latency_p50_ms: firstLatency?.p50_ms ?? null,
      latency_p99_ms: firstLatency?.p99_ms ?? null,
      latency_max_ms: firstLatency?.max_ms ?? null,
      latency: latencyRows.map((l) => ({
        offered_eps: l.offered_eps,
        achieved_eps: l.achieved_eps,
        guarantee: l.guarantee,
        p50_ms: l.p50_ms,
        p99_ms: l.p99_ms,
        max_ms: l.max_ms,
        p99_ms_by_quarter: l.p99_ms_by_quarter,
        batch_phase_ms: l.batch_phase_ms,
        probes_timed: l.probes_timed,
        probes_missing: l.probes_missing,
        met: l.target?.met ?? false,
        machine: l.machine,
        // The Kafka Streams app with the same probes just after (the baseline of the row; no target).
        streams: l.streams === null ? null : { guarantee: l.streams.guarantee, p50_ms: l.streams.p50_ms, p99_ms: l.streams.p99_ms, max_ms: l.streams.max_ms, p99_ms_by_quarter: l.streams.p99_ms_by_quarter, achieved_eps: l.streams.achieved_eps, probes_timed: l.streams.probes_timed, probes_missing: l.streams.probes_missing, rebalances: l.streams.rebalances, machine: l.streams.machine },
        p99_to_streams: latencyRatio(l.p99_ms, l.streams?.p99_ms),
      })),
      render_send_eps: renderSend.eps,
      bare_ses_eps: bareSesEps,
      render_only_eps: renderOnly.eps,
      render_bare_eps: renderBare.eps,
      redis_bytes_per_customer: memory?.bytes_per_customer ?? null,
      firings: {
        triggers_by_rule: reference.triggers_by_rule,
        segment_changes_by_segment: reference.segment_changes_by_segment,
        runs: runFirings,
        same_in_every_run: firingDifferences.length === 0,
        differences: firingDifferences,
      },
      scale_out: scaleFigures,
      relay,
      events: input.count,
      growth,
      ratios: {
        kairos_to_ceiling: round(kairos.eps / ceiling.eps),
        kairos_to_baseline: round(kairos.eps / baseline.eps),
        segmenter_to_ceiling: round(segmenter.eps / ceiling.eps),
        trigger_to_ceiling: round(trigger.eps / ceiling.eps),
        trigger_to_streams: ratio(trigger.eps, streamsEps),
        trigger_to_streams_eos: ratio(trigger.eps, streamsEosEps),
        render_only_to_bare: round(renderOnly.eps / renderBare.eps),
        render_send_to_bare_ses: ratio(renderSend.eps, bareSesEps),
        growth_eps: targets.growth_eps_ratio.value,
        latency_p99_to_streams: Object.fromEntries(latencyRows.map((l) => [`${l.offered_eps}_${l.guarantee}`, latencyRatio(l.p99_ms, l.streams?.p99_ms)])),
        scale_out_to_one: Object.fromEntries(scaleFigures.map((f) => [`${f.instances}_${f.redis}`, ratio(f.eps, scaleFigures[0]?.eps)])),
      },
      targets,
      conditions: {
        throughput: { ...conditions, runs: { ceiling: ceiling.runs, kairos: kairos.runs, segmenter: segmenter.runs, trigger: trigger.runs, baseline: baseline.runs }, phases: runPhases, baseline_repeats: settings.baselineRepeats },
        equivalence,
        latency: {
          rows: latencyRows,
          seconds: settings.latencySeconds,
          warmup_seconds: settings.latencyWarmupSeconds,
          rate_reached_when: `achieved >= ${RATE_REACHED} x offered`,
          streams: latencyRows.some((l) => l.streams !== null)
            ? {
                app: 'bench/streams on the wall clock (--now live), fresh input and outputs per row, the same probes, producer and tail, just after the Kairos row',
                producer_linger_ms: settings.latencyStreamsLingerMs,
                commit_interval_ms: settings.streamsCommitMs ?? "Kafka Streams' default (100 exactly_once_v2; at_least_once sends without waiting for a commit)",
                threads: settings.streamsThreads,
              }
            : 'skipped (BENCH_LATENCY_STREAMS=0 or BENCH_STREAMS=0)',
        },
        memory,
        streams: settings.streams
          ? {
              app: 'bench/streams (Kafka Streams 4.1.1, Processor API, RocksDB stores with caching, changelogs on)',
              commit_interval_ms: settings.streamsCommitMs ?? "Kafka Streams' default (30000 at_least_once, 100 exactly_once_v2); each task requests a commit when it has read its partition to the end",
              threads: settings.streamsThreads,
              warmup: settings.streamsWarmup ? 'the warm-up topic first, in the same JVM, untimed' : 'none: a cold JVM',
              repeats: settings.streamsRepeats,
              window: "from the app's RUNNING state (records processed before it not counted) to its group committing the end of every input partition",
              same_triggers_as_trigger_alone: streamsSame,
              runs: streamsRuns,
            }
          : 'skipped (BENCH_STREAMS=0)',
        render: { template: 'cart_reminder', seconds: settings.renderSeconds, slice_ms: SLICE_MS, only: renderOnly, bare: renderBare, send: renderSend, bare_ses: { before: bareBefore, after: bareAfter, in_flight: IN_FLIGHT } },
        scale_out: {
          runs: scaleRuns,
          events: scaleInput.count,
          repeats: settings.scaleRepeats,
          processes: 'one Node process per trigger instance (bench/service-instance.ts); window from the final assignment to the group committing the end of every partition',
          cluster_ports: settings.scaleCluster ? settings.clusterPorts : null,
        },
      },
      run: stack.run,
      finished_at: new Date().toISOString(),
      duration_seconds: Math.round((Date.now() - started) / 1000),
    });
    writeFileSync(join(projectRoot(), 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
    printTable(results);
  } finally {
    await cleanUp();
    removeInterrupt();
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function printTable(r: Record<string, unknown>): void {
  const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : 'n/a');
  const ratios = r.ratios as Record<string, number | null>;
  const targets = r.targets as Record<string, TargetResult>;
  const t = (name: string) => (targets[name] ? verdict(targets[name]) : 'n/a');
  const firings = r.firings as { triggers_by_rule: Record<string, number>; segment_changes_by_segment: Record<string, number>; same_in_every_run: boolean; differences: string[] };
  const rows: Array<[string, string, string]> = [
    ['ceiling (bare consumer + Avro decode)', `${n(r.ceiling_eps)} ev/s`, '1.00x ceiling'],
    ['baseline (eachMessage, RTT per command)', `${n(r.baseline_eps)} ev/s`, `${n(round((r.baseline_eps as number) / (r.ceiling_eps as number)))}x ceiling`],
    ['Kairos segmenter + trigger (one process)', `${n(r.kairos_eps)} ev/s`, `${ratios.kairos_to_ceiling}x ceiling: ${t('kairos_to_ceiling')}; ${ratios.kairos_to_baseline}x baseline`],
    ['Kairos segmenter alone', `${n(r.segmenter_eps)} ev/s`, `${ratios.segmenter_to_ceiling}x ceiling: ${t('segmenter_to_ceiling')}`],
    ['Kairos trigger alone', `${n(r.trigger_eps)} ev/s`, `${ratios.trigger_to_ceiling}x ceiling: ${t('trigger_to_ceiling')}`],
    [
      'Kafka Streams app, at_least_once (2 threads)',
      r.streams_eps === null ? 'not measured' : `${n(r.streams_eps)} ev/s`,
      `trigger alone ${n(ratios.trigger_to_streams)}x it: ${t('trigger_to_streams')}`,
    ],
    ['Kafka Streams app, exactly_once_v2 (2 threads)', r.streams_eos_eps === null ? 'not measured' : `${n(r.streams_eos_eps)} ev/s`, `trigger alone ${n(ratios.trigger_to_streams_eos)}x it (no target)`],
  ];
  const streamsSame = (r.conditions as { streams?: { same_triggers_as_trigger_alone?: boolean | null } }).streams?.same_triggers_as_trigger_alone;
  if (streamsSame !== undefined && streamsSame !== null) {
    rows.push(['  Kafka Streams triggers = trigger alone\'s', streamsSame ? 'yes' : 'NO', streamsSame ? 'every run: same ids, each once, same fields' : 'see firings.differences']);
  }
  for (const [rule, count] of Object.entries(firings.triggers_by_rule)) rows.push([`  triggers fired: ${rule}`, n(count), 'measured Kairos run']);
  for (const [segment, count] of Object.entries(firings.segment_changes_by_segment)) rows.push([`  segment changes: ${segment}`, n(count), 'measured Kairos run']);
  rows.push(['  same firings in every measured run', firings.same_in_every_run ? 'yes' : 'NO', firings.same_in_every_run ? 'per rule and per segment' : firings.differences.slice(0, 3).join('; ')]);
  for (const l of r.latency as Array<Record<string, unknown>>) {
    const name = latencyTargetName({ offered_eps: l.offered_eps as number, guarantee: l.guarantee as string });
    rows.push([
      `latency p50 / p99 / max at ${n(l.offered_eps)} ev/s ${String(l.guarantee)}`,
      `${n(l.p50_ms)} / ${n(l.p99_ms)} / ${n(l.max_ms)} ms`,
      `achieved ${n(l.achieved_eps)} ev/s: ${t(name)}; ${byQuarter(l.p99_ms_by_quarter as number[] | undefined)}${describeMachine(l.machine as MachineDuringRow)}`,
    ]);
    const streams = l.streams as { guarantee: string; p50_ms: number; p99_ms: number; max_ms: number; p99_ms_by_quarter?: number[]; achieved_eps: number; rebalances: number | null; machine: MachineDuringRow } | null;
    if (streams !== null) {
      rows.push([
        `  Kafka Streams app, same probes, ${streams.guarantee}`,
        `${n(streams.p50_ms)} / ${n(streams.p99_ms)} / ${n(streams.max_ms)} ms`,
        `achieved ${n(streams.achieved_eps)} ev/s; Kairos's p99 ${n(l.p99_to_streams)}x it (no target); ${byQuarter(streams.p99_ms_by_quarter)}${streams.rebalances ? `its group rebalanced ${streams.rebalances} time(s) in the row; ` : ''}${describeMachine(streams.machine)}`,
      ]);
    }
  }
  rows.push(
    ['render only (Kairos render())', `${n(r.render_only_eps)} /s`, `${ratios.render_only_to_bare}x bare: ${t('render_only_to_bare')}`],
    ['render bare Handlebars', `${n(r.render_bare_eps)} /s`, t('render_bare_eps')],
    ['bare SESv2 client (mean of before/after)', r.bare_ses_eps === null ? 'not measured' : `${n(r.bare_ses_eps)} /s`, '1.00x bare SES'],
    ['render + send (SesEmailSender)', r.render_send_eps === null ? 'not measured' : `${n(r.render_send_eps)} /s`, `${n(ratios.render_send_to_bare_ses)}x bare SES: ${t('render_send_to_bare_ses')}`],
    ['Redis per active customer', `${n(r.redis_bytes_per_customer)} B`, t('redis_bytes_per_customer')],
    ['cart_abandoned per add_to_cart', `${n(r.cart_abandoned_per_add_to_cart)}`, 'a third of carts are left; only a session\'s last add can fire'],
  );
  for (const f of (r.relay ?? []) as Array<Record<string, unknown>>) {
    rows.push([`relay ${String(f.guarantee)}: backlog / live`, `${n(f.backlog_records_per_s)} / ${n(f.live_records_per_s)} rec/s`, `live call p50 ${n(f.live_call_p50_ms)} ms, p99 ${n(f.live_call_p99_ms)} ms`]);
  }
  const scaleToOne = (ratios.scale_out_to_one ?? {}) as unknown as Record<string, number | null>;
  for (const f of (r.scale_out ?? []) as Array<{ instances: number; redis: string; eps: number }>) {
    rows.push([`trigger alone, ${f.instances} process${f.instances === 1 ? '' : 'es'}${f.redis === 'cluster' ? ', Redis Cluster (3)' : ''}`, `${n(f.eps)} ev/s`, `${scaleToOne[`${f.instances}_${f.redis}`]?.toFixed(2) ?? 'n/a'}x one process (no target)`]);
  }
  for (const g of r.growth as Array<Record<string, unknown>>) {
    rows.push([`growth: ${n(g.events)} events`, `${n(g.kairos_eps)} ev/s`, `${n(g.redis_bytes_per_customer)} B/customer`]);
  }
  rows.push(['growth: throughput last / first size', `${n(ratios.growth_eps)}x`, t('growth_eps_ratio')]);
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max(...rows.map((row) => row[1].length));
  console.log(`\nKairos benchmark on Node.js ${String(r.node)}${serviceSettingsText(Object.entries((r.services_settings ?? {}) as Record<string, unknown>))}, ${n(r.events)} events (median of the repeats)`);
  for (const [a, b, c] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  const all = Object.values(targets);
  console.log(`\ntargets met: ${all.filter((x) => x.met).length} of ${all.length}${all.some((x) => !x.met) ? ` (not met: ${Object.entries(targets).filter(([, x]) => !x.met).map(([k]) => k).join(', ')})` : ''}`);
  console.log(`results: bench/results.json`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('bench failed:', error);
    process.exit(1);
  },
);
