/**
 * `make bench`: every figure of the benchmark issue against the real local stack, in one run.
 * Prints progress and a table, and writes bench/results.json (value and conditions per figure).
 *
 *   node dist/bench/main.js            full run (the Makefile starts the stack first)
 *   BENCH_EVENTS=20000 BENCH_REPEATS=1 BENCH_GROWTH=10000,20000 node dist/bench/main.js   a quick check
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { projectRoot } from '../services/kit/files';
import type { SegmentChange, TriggerFired } from '../services/core/types';
import { measureLatency } from './latency';
import { measureMemory, type MemoryFigure } from './memory';
import { measureRenderBare, measureRenderOnly } from './render';
import { measureRenderSend } from './render-send';
import { measureRelay } from './relay';
import { BenchStack, readTopic } from './stack';
import type { Input } from './input';
import { measureBaseline, measureCeiling, measureKairos, type KairosPart, type Measured } from './throughput';
import { shopTraffic } from './traffic';

const HOUR = 3600_000;

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`bench: ${name}=${raw} is not a positive integer`);
  return value;
}

const settings = {
  events: intEnv('BENCH_EVENTS', 200_000),
  repeats: intEnv('BENCH_REPEATS', 3),
  baselineRepeats: intEnv('BENCH_BASELINE_REPEATS', 1),
  warmupEvents: intEnv('BENCH_WARMUP_EVENTS', 20_000),
  partitions: intEnv('BENCH_PARTITIONS', 12),
  eventsPerCustomer: intEnv('BENCH_EVENTS_PER_CUSTOMER', 10),
  latencyRate: intEnv('BENCH_LATENCY_RATE', 2000),
  latencySeconds: intEnv('BENCH_LATENCY_SECONDS', 20),
  renderSeconds: intEnv('BENCH_RENDER_SECONDS', 3),
  relayRecords: intEnv('BENCH_RELAY_RECORDS', 60_000),
  relayRounds: intEnv('BENCH_RELAY_ROUNDS', 100),
  growth: (process.env.BENCH_GROWTH ?? '100000,1000000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0),
  seed: intEnv('BENCH_SEED', 42),
};

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
  };
}

async function main(): Promise<void> {
  const stack = new BenchStack();
  progress(`run ${stack.run} on Node.js ${process.version}: ${settings.events.toLocaleString('en-US')} events x ${settings.repeats} repeats, ${settings.partitions} partitions, growth at ${settings.growth.join(' and ')}`);
  // The Node.js the figures were measured on, first in results.json and in the table's heading.
  const results: Record<string, unknown> = { node: process.version };
  try {
    const warm = await prepareInput(stack, 'warmup', settings.warmupEvents, settings.seed + 1000);
    const input = await prepareInput(stack, 'main', settings.events, settings.seed);
    const conditions = {
      events: input.count,
      customers: input.customers,
      partitions: input.partitions,
      repeats: settings.repeats,
      partitions_consumed_concurrently: 3,
      clock: 'frozen at the end of the traffic window (6 h of synthetic shop traffic)',
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
    const kairosPart = async (label: string, parts: KairosPart[]) =>
      repeated(label, settings.repeats, async (i) => {
        const run = await measureKairos(stack, input, parts, `${label}-${i}`);
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

    progress(`latency: ${settings.latencyRate} events/s for ${settings.latencySeconds} s (after 5 s warm-up)`);
    const latencyInput = await stack.createInput('latency', settings.partitions);
    const latency = await measureLatency(stack, { ...latencyInput, partitions: settings.partitions }, {
      rate: settings.latencyRate,
      seconds: settings.latencySeconds,
      warmupSeconds: 5,
      progress,
    });
    progress(`latency: p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms, max ${latency.max_ms} ms (${latency.probes_timed} triggers timed)`);

    progress('render: Kairos render() vs bare Handlebars');
    const renderOnly = measureRenderOnly(settings.renderSeconds);
    const renderBare = measureRenderBare(settings.renderSeconds);
    progress(`render only ${renderOnly.eps}/s, bare Handlebars ${renderBare.eps}/s`);
    const renderSend = await measureRenderSend(stack, settings.renderSeconds, progress);

    progress('relay: outbox to Kafka, at_least_once vs exactly_once (OUTPUT_GUARANTEE)');
    const relay = await measureRelay(stack, { records: settings.relayRecords, rounds: settings.relayRounds, partitions: settings.partitions, progress });

    const growth: Array<Record<string, unknown>> = [];
    for (const size of settings.growth) {
      progress(`growth: ${size.toLocaleString('en-US')} events`);
      const growthInput = await prepareInput(stack, `growth-${size}`, size, settings.seed + size);
      const run = await measureKairos(stack, growthInput, ['segmenter', 'trigger'], `growth-${size}`);
      const growthMemory = await measureMemory(stack, run.prefix, growthInput.customers);
      await stack.deleteKeys(run.prefix);
      growth.push({ events: growthInput.count, customers: growthInput.customers, kairos_eps: run.eps, seconds: run.seconds, redis_bytes_per_customer: growthMemory.bytes_per_customer, memory: growthMemory });
      progress(`growth ${size}: ${run.eps} events/s, ${growthMemory.bytes_per_customer} bytes per customer`);
    }

    Object.assign(results, {
      ceiling_eps: ceiling.eps,
      baseline_eps: baseline.eps,
      kairos_eps: kairos.eps,
      segmenter_eps: segmenter.eps,
      trigger_eps: trigger.eps,
      latency_p50_ms: latency.p50_ms,
      latency_p99_ms: latency.p99_ms,
      latency_max_ms: latency.max_ms,
      render_send_eps: renderSend.eps,
      render_only_eps: renderOnly.eps,
      render_bare_eps: renderBare.eps,
      redis_bytes_per_customer: memory?.bytes_per_customer ?? null,
      relay,
      events: input.count,
      growth,
      ratios: {
        kairos_to_ceiling: round(kairos.eps / ceiling.eps),
        kairos_to_baseline: round(kairos.eps / baseline.eps),
        segmenter_to_ceiling: round(segmenter.eps / ceiling.eps),
        trigger_to_ceiling: round(trigger.eps / ceiling.eps),
        render_only_to_bare: round(renderOnly.eps / renderBare.eps),
        render_send_to_bare: renderSend.eps === null ? null : round(renderSend.eps / renderBare.eps),
      },
      conditions: {
        throughput: { ...conditions, runs: { ceiling: ceiling.runs, kairos: kairos.runs, segmenter: segmenter.runs, trigger: trigger.runs, baseline: baseline.runs }, baseline_repeats: settings.baselineRepeats },
        equivalence,
        latency,
        memory,
        render: { template: 'cart_reminder', seconds: settings.renderSeconds, only: renderOnly, bare: renderBare, send: renderSend },
      },
      run: stack.run,
      finished_at: new Date().toISOString(),
      duration_seconds: Math.round((Date.now() - started) / 1000),
    });
    writeFileSync(join(projectRoot(), 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
    printTable(results);
  } finally {
    progress('cleaning up topics and Redis keys');
    await stack.cleanup();
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function printTable(r: Record<string, unknown>): void {
  const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : 'n/a');
  const ratios = r.ratios as Record<string, number | null>;
  const rows: Array<[string, string, string]> = [
    ['ceiling (bare consumer + Avro decode)', `${n(r.ceiling_eps)} ev/s`, '1.00x ceiling'],
    ['baseline (eachMessage, RTT per command)', `${n(r.baseline_eps)} ev/s`, `${n(round((r.baseline_eps as number) / (r.ceiling_eps as number)))}x ceiling`],
    ['Kairos segmenter + trigger', `${n(r.kairos_eps)} ev/s`, `${ratios.kairos_to_ceiling}x ceiling, ${ratios.kairos_to_baseline}x baseline (target >= 0.5x, >= 10x)`],
    ['Kairos segmenter alone', `${n(r.segmenter_eps)} ev/s`, `${ratios.segmenter_to_ceiling}x ceiling`],
    ['Kairos trigger alone', `${n(r.trigger_eps)} ev/s`, `${ratios.trigger_to_ceiling}x ceiling`],
    ['latency p50 / p99 / max', `${n(r.latency_p50_ms)} / ${n(r.latency_p99_ms)} / ${n(r.latency_max_ms)} ms`, 'target p99 < 250 ms'],
    ['render only (Kairos render())', `${n(r.render_only_eps)} /s`, `${ratios.render_only_to_bare}x bare (target >= 0.5x)`],
    ['render bare Handlebars', `${n(r.render_bare_eps)} /s`, '1.00x bare'],
    ['render + send to SES emulator', r.render_send_eps === null ? 'not measured' : `${n(r.render_send_eps)} /s`, ratios.render_send_to_bare === null ? 'renderer send path not available' : `${ratios.render_send_to_bare}x bare`],
    ['Redis per active customer', `${n(r.redis_bytes_per_customer)} B`, 'target <= 1024 B'],
    ['cart_abandoned per add_to_cart', `${n(r.cart_abandoned_per_add_to_cart)}`, 'a third of carts are left; only a session\'s last add can fire'],
  ];
  for (const f of (r.relay ?? []) as Array<Record<string, unknown>>) {
    rows.push([`relay ${String(f.guarantee)}: backlog / live`, `${n(f.backlog_records_per_s)} / ${n(f.live_records_per_s)} rec/s`, `live call p50 ${n(f.live_call_p50_ms)} ms, p99 ${n(f.live_call_p99_ms)} ms`]);
  }
  for (const g of r.growth as Array<Record<string, unknown>>) {
    rows.push([`growth: ${n(g.events)} events`, `${n(g.kairos_eps)} ev/s`, `${n(g.redis_bytes_per_customer)} B/customer`]);
  }
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max(...rows.map((row) => row[1].length));
  console.log(`\nKairos benchmark on Node.js ${String(r.node)}, ${n(r.events)} events (median of the repeats)`);
  for (const [a, b, c] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  console.log(`\nresults: bench/results.json`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('bench failed:', error);
    process.exit(1);
  },
);
