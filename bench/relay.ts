/**
 * Outbox relay throughput, exactly_once against at_least_once, on the real stack: the same
 * outbox records (TriggerFired-sized, about 300 bytes) relayed from Redis to Kafka by the
 * kit's OutboxRelay, the partitions side by side as a service relays them.
 *
 *   backlog: every partition's outbox holds `records / partitions` records; one relay call per
 *            partition drains it in chunks of 2,000 (exactly_once: the partitions' chunks ready
 *            together share a transaction up to RELAY_TRANSACTION_BYTES, as in a service).
 *   live:    `rounds` times per partition, 10 records are appended and relayed: the per-batch
 *            cost a live service pays; reported as records/s and the median / p99 duration of
 *            one relay call. Calls wait for each other's records as a service's do (RELAY_GATHER,
 *            the services' rule and default), so the partitions' calls that meet share one
 *            transaction (exactly_once) or one send (at_least_once).
 *
 *   node dist/bench/relay.js   (BENCH_RELAY_RECORDS, BENCH_RELAY_ROUNDS, BENCH_PARTITIONS)
 * `make bench` runs it too (results.json: relay).
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { encodeOutboxRecord, OutboxRelay, RedisOutboxStore, type OutputGuarantee } from '../services/kit/outbox-relay';
import type { RedisClient } from '../services/kit/redis';
import { Kafka, logLevel } from '../services/kit/kafkajs';
import { BenchStack, BROKERS, kafka, shortId } from './stack';
import { measureKairos, serviceSetting } from './throughput';
import { shopTraffic } from './traffic';

export interface RelayFigure {
  guarantee: OutputGuarantee;
  backlog_records_per_s: number;
  live_records_per_s: number;
  live_call_p50_ms: number;
  live_call_p99_ms: number;
}

const silent = pino({ level: 'silent' });

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function fill(redis: RedisClient, key: string, topic: string, count: number): Promise<void> {
  const value = Buffer.alloc(300, 7);
  for (let i = 0; i < count; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, count - i) }, (_, j) => encodeOutboxRecord({ topic, key: `c-${i + j}`, value }));
    await redis.rpush(key, ...chunk);
  }
}

export async function measureRelay(
  stack: BenchStack,
  options: { records: number; rounds: number; partitions: number; progress: (text: string) => void },
): Promise<RelayFigure[]> {
  const { partitions, progress } = options;
  const admin = kafka.admin();
  await admin.connect();
  const producer = await stack.connectedProducer();
  const figures: RelayFigure[] = [];
  // A relay request waits for other partitions' records as long as the services' does.
  const gatherMs = serviceSetting('RELAY_GATHER');
  // As the services build it (createKafka: retries from 200 ms), unless BENCH_RELAY_RETRY_MS says otherwise.
  const relayKafka = new Kafka({ brokers: BROKERS, clientId: 'kairos-bench-relay', logLevel: logLevel.NOTHING, retry: { initialRetryTime: Number(process.env.BENCH_RELAY_RETRY_MS ?? 200), retries: 8 } });
  try {
    for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
      const name = `relay-${guarantee}`;
      const input = stack.topic(`${name}.in`);
      const output = stack.topic(`${name}.out`);
      await stack.createTopics([{ topic: input, schema: null }, { topic: output, schema: null }], partitions);
      const prefix = stack.prefix(name);
      const outboxKey = (partition: number) => `{${prefix}:relay:${partition}}:outbox`;
      const relay = new OutboxRelay({
        store: new RedisOutboxStore(stack.redis, outboxKey),
        guarantee,
        kafka: relayKafka,
        producer,
        admin,
        group: `${stack.run}-${name}-${randomUUID().slice(0, 6)}`,
        topic: input,
        transactionalIdPrefix: stack.run,
        transactionTimeoutMs: 30_000,
        gatherMs,
        logger: silent,
      });
      const all = Array.from({ length: partitions }, (_, p) => p);
      try {
        // Producers initialized (exactly_once: InitProducerId per partition) before timing.
        await Promise.all(all.map((p) => relay.relay(p)));
        const perPartition = Math.ceil(options.records / partitions);
        for (const p of all) await fill(stack.redis, outboxKey(p), output, perPartition);
        let started = process.hrtime.bigint();
        const sent = (await Promise.all(all.map((p) => relay.relay(p)))).reduce((a, b) => a + b, 0);
        const backlogSeconds = Number(process.hrtime.bigint() - started) / 1e9;

        const calls: number[] = [];
        let liveSent = 0;
        started = process.hrtime.bigint();
        await Promise.all(
          all.map(async (p) => {
            for (let round = 0; round < options.rounds; round += 1) {
              await fill(stack.redis, outboxKey(p), output, 10);
              const t0 = process.hrtime.bigint();
              liveSent += await relay.relay(p);
              calls.push(Number(process.hrtime.bigint() - t0) / 1e6);
            }
          }),
        );
        const liveSeconds = Number(process.hrtime.bigint() - started) / 1e9;
        calls.sort((a, b) => a - b);
        const figure: RelayFigure = {
          guarantee,
          backlog_records_per_s: Math.round(sent / backlogSeconds),
          live_records_per_s: Math.round(liveSent / liveSeconds),
          live_call_p50_ms: Math.round(percentile(calls, 50) * 10) / 10,
          live_call_p99_ms: Math.round(percentile(calls, 99) * 10) / 10,
        };
        progress(`relay ${guarantee}: backlog ${figure.backlog_records_per_s} records/s (${sent} records); live (10 records a call) ${figure.live_records_per_s} records/s, call p50 ${figure.live_call_p50_ms} ms, p99 ${figure.live_call_p99_ms} ms`);
        figures.push(figure);
      } finally {
        await relay.close();
        await stack.deleteKeys(prefix);
      }
    }
  } finally {
    await admin.disconnect();
  }
  return figures;
}

/**
 * Segmenter + trigger in one process over the same input, once per guarantee: what the
 * transactions cost a whole pipeline (BENCH_RELAY_KAIROS_EVENTS events; 0 skips it).
 */
async function kairosBothWays(stack: BenchStack, events: number, partitions: number, progress: (text: string) => void): Promise<Record<string, number>> {
  const clock = Date.parse('2026-03-02T18:00:00Z');
  const traffic = shopTraffic({ total: events, customers: Math.max(100, Math.round(events / 10)), products: 2000, seed: 42, from: clock - 6 * 3600_000, to: clock, run: stack.run.slice(6, 12) });
  const topics = await stack.createInput('relay-kairos', partitions);
  await stack.produceEvents(topics.events, traffic);
  const input = { ...topics, count: traffic.length, partitions, clock };
  const result: Record<string, number> = {};
  const before = process.env.OUTPUT_GUARANTEE;
  try {
    for (const guarantee of ['at_least_once', 'exactly_once', 'at_least_once', 'exactly_once'] as const) {
      process.env.OUTPUT_GUARANTEE = guarantee;
      const run = await measureKairos(stack, input, ['segmenter', 'trigger'], `relay-kairos-${guarantee}-${shortId()}`);
      await stack.deleteKeys(run.prefix);
      progress(`Kairos segmenter + trigger, ${guarantee}: ${run.eps} events/s (${run.records} events in ${run.seconds} s)`);
      result[guarantee] = Math.max(result[guarantee] ?? 0, run.eps);
    }
  } finally {
    if (before === undefined) delete process.env.OUTPUT_GUARANTEE;
    else process.env.OUTPUT_GUARANTEE = before;
  }
  return result;
}

if (require.main === module) {
  const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const stack = new BenchStack();
  const progress = (text: string) => console.log(`[bench relay] ${text}`);
  const partitions = int('BENCH_PARTITIONS', 12);
  measureRelay(stack, { records: int('BENCH_RELAY_RECORDS', 60_000), rounds: int('BENCH_RELAY_ROUNDS', 100), partitions, progress })
    .then(async (figures) => {
      console.log(JSON.stringify(figures, null, 2));
      const events = int('BENCH_RELAY_KAIROS_EVENTS', 50_000);
      if (events > 0) console.log(JSON.stringify({ kairos_best_of_2_eps: await kairosBothWays(stack, events, partitions, progress) }, null, 2));
      await stack.cleanup();
      process.exit(0);
    })
    .catch(async (error: unknown) => {
      console.error('bench relay failed:', error);
      await stack.cleanup().catch(() => undefined);
      process.exit(1);
    });
}
