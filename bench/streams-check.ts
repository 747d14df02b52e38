/**
 * The Kafka Streams comparison alone, for working on it (`make bench` runs it with every other
 * figure): one input and a 20,000-event warm-up topic, the trigger service alone once (after an
 * untimed pass over the warm-up topic), then the Streams app per guarantee (its warm-up in its
 * JVM), with the triggers compared. Same knobs as bench/main.ts where they apply, and
 * BENCH_EVENTS_PER_CUSTOMER (10).
 *
 *   BENCH_EVENTS=50000 node dist/bench/streams-check.js
 */
import type { TriggerFired } from '../services/core/types';
import { shopTraffic } from './traffic';
import { BenchStack, readTopic } from './stack';
import { measureKairos } from './throughput';
import { deleteStreamsLeftovers, measureStreams, streamsJar, type StreamsGuarantee } from './streams';
import { formatCounts } from './targets';

const HOUR = 3600_000;

async function main(): Promise<void> {
  const events = Number(process.env.BENCH_EVENTS ?? 50_000);
  const partitions = Number(process.env.BENCH_PARTITIONS ?? 12);
  const guarantees = (process.env.BENCH_STREAMS_GUARANTEES ?? 'at_least_once,exactly_once_v2').split(',') as StreamsGuarantee[];
  const threads = Number(process.env.BENCH_STREAMS_THREADS ?? 2);
  const jar = streamsJar();
  const stack = new BenchStack();
  const log = (text: string) => console.log(`[streams-check ${new Date().toISOString().slice(11, 19)}] ${text}`);
  try {
    const clock = Date.parse('2026-03-02T18:00:00Z');
    const traffic = shopTraffic({ total: events, customers: Math.max(100, Math.round(events / Number(process.env.BENCH_EVENTS_PER_CUSTOMER ?? 10))), products: 2000, seed: Number(process.env.BENCH_SEED ?? 42), from: clock - 6 * HOUR, to: clock, run: stack.run.slice(6, 12) });
    const topics = await stack.createInput('main', partitions);
    await stack.produceEvents(topics.events, traffic);
    const input = { ...topics, count: traffic.length, partitions, clock };
    const warmTraffic = shopTraffic({ total: 20_000, customers: 2000, products: 2000, seed: 1042, from: clock - 6 * HOUR, to: clock, run: `${stack.run.slice(6, 12)}w` });
    const warm = await stack.createInput('warmup', partitions);
    await stack.produceEvents(warm.events, warmTraffic);
    log(`${input.count} events produced`);
    // The same warm-up as the Streams app's (and as make bench gives Kairos): one untimed pass over the warm-up topic.
    const warmKairos = await measureKairos(stack, { ...warm, count: warmTraffic.length, partitions, clock }, ['trigger'], 'warm-trigger');
    await stack.deleteKeys(warmKairos.prefix);
    const kairos = await measureKairos(stack, input, ['trigger'], 'trigger');
    const reference = await readTopic<TriggerFired>(stack.codec, kairos.out.triggers, 'TriggerFired');
    await stack.deleteKeys(kairos.prefix);
    log(`trigger alone: ${kairos.eps} events/s (${kairos.seconds} s); ${reference.length} triggers`);
    for (const guarantee of guarantees) {
      const run = await measureStreams(stack, input, { jar, guarantee, threads, commitIntervalMs: process.env.BENCH_STREAMS_COMMIT_MS ? Number(process.env.BENCH_STREAMS_COMMIT_MS) : undefined, warmup: process.env.BENCH_STREAMS_WARMUP === '0' ? undefined : warm, name: `streams-${guarantee === 'at_least_once' ? 'alo' : 'eos'}`, reference });
      const c = run.comparison;
      log(
        `Kafka Streams ${guarantee}: ${run.eps} events/s (${run.records} records in ${run.seconds} s, ${run.processed_before_window} before RUNNING; start-up ${run.startup_seconds} s untimed; processed ${run.processed_eps ?? 'n/a'} events/s; from the first record ${run.eps_from_first_record} events/s); ` +
          `fired ${formatCounts(run.triggers_by_rule)} vs ${formatCounts(c.expected_by_rule)}; same: ${c.same} (missing ${c.missing}, extra ${c.extra}, duplicates ${c.duplicates}, different ${c.different}) ${c.examples.join('; ')}; timeline ${JSON.stringify(run.timeline_ms)}`,
      );
    }
  } finally {
    await stack.cleanup();
    const stuck = await deleteStreamsLeftovers();
    if (stuck.length > 0) log(`could not delete the Kafka Streams groups ${stuck.join(', ')}`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('streams-check failed:', error);
    process.exit(1);
  },
);
