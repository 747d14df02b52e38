/**
 * CPU per event of a service's logic alone (no Kafka, no Redis): the segmenter's or the trigger
 * service's PartitionLogic over the bench's shop traffic, in batches per partition as the
 * processor gives them, each state stored as bytes between batches as Redis would keep it,
 * outputs checked and Avro-encoded as the service encodes them. What the profile of a service under
 * `make bench` calls "the service's own work", measured without the I/O around it; repeatable
 * enough on a shared machine to compare two versions (each prints a digest of its outputs and
 * final states: equal digests, the same work), and under
 * `valgrind --tool=callgrind` (instructions, not seconds) exactly so.
 *
 * The events wait as Avro bytes, one buffer per batch, and a batch's are decoded (untimed) just
 * before it is handed over, as a service decodes each fetch: held as objects, a million events
 * made every collection of the timed logic work through half a gigabyte of the tool's own, and
 * the per-event figure at 1,000,002 events nearly twice what it is (docs/benchmarks-history.md,
 * "The logic alone without the tool's heap"). Each pass's line also gives the time of the
 * garbage collections that started inside its timed calls.
 *
 *   node dist/bench/logic-cpu.js segmenter|trigger [events] [repeats]
 * BENCH_LOGIC_BATCH sets the events per batch and partition (500 by default; a service's fetch of
 * 1 MiB a partition gives about 7,000 in a backlog).
 */
import { createHash } from 'node:crypto';
import { performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Type } from 'avsc';
import { encodeWireFormat, readSchema, type SchemaName } from '../services/kit/codec';
import type { ConsumedRecord } from '../services/kit/consumer-runner';
import { createMetrics } from '../services/kit/metrics';
import type { PartitionLogic } from '../services/kit/partition-processor';
import type { PartitionSnapshot, StateValue } from '../services/kit/partition-state';
import { partitionOf } from '../services/kit/partitioner';
import { SegmenterLogic } from '../services/segmenter/adapter';
import { loadSegmentDefinitions, segmenterShape } from '../services/segmenter/main';
import { TriggerLogic } from '../services/trigger/adapter';
import { loadTriggerRules, triggerShape } from '../services/trigger/main';
import { loadConfig } from '../services/kit/config';
import { intEnv } from './env';
import { shopTraffic } from './traffic';
import type { BehaviorEvent } from '../services/core/types';

const PARTITIONS = 12;
/** Events per batch and partition (BENCH_LOGIC_BATCH). */
const BATCH = intEnv('BENCH_LOGIC_BATCH', 500);

/** Encodes outputs as the services do (partition-service.ts's `output`: checked, wire format), without a registry. */
function encoder(schema: SchemaName, topic: string): { topic: string; encode: (value: unknown) => Buffer } {
  const type = Type.forSchema(readSchema(schema));
  return { topic, encode: (value) => encodeWireFormat(1, type, value) };
}

export function logicOf(service: 'segmenter' | 'trigger'): PartitionLogic {
  const metrics = createMetrics(`logic-cpu-${service}`);
  if (service === 'segmenter') {
    const config = loadConfig(segmenterShape, process.env);
    return new SegmenterLogic(loadSegmentDefinitions(config.SEGMENTS_FILE), 'profiles', { changes: encoder('SegmentChange', 'changes'), triggers: encoder('TriggerFired', 'triggers') }, metrics);
  }
  const config = loadConfig(triggerShape, process.env);
  return new TriggerLogic(loadTriggerRules(config.TRIGGER_RULES_FILE), encoder('TriggerFired', 'triggers'), metrics, 'profiles');
}

/**
 * One batch of one partition: its events' Avro bytes end to end in one buffer, so a million
 * events waiting are a few thousand objects; `recordsOf` decodes them.
 */
export interface Batch {
  partition: number;
  /** The offset of the batch's first record in its partition. */
  firstOffset: number;
  count: number;
  bytes: Buffer;
}

const behaviorEvent = Type.forSchema(readSchema('BehaviorEvent'));

/** The events as the processor would see them: per partition (by key, as the producer put them), in batches. */
export function batchesOf(events: BehaviorEvent[]): Batch[] {
  const perPartition: Buffer[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const event of events) perPartition[partitionOf(event.customer_id, PARTITIONS)].push(behaviorEvent.toBuffer(event));
  const batches: Batch[] = [];
  for (let start = 0; ; start += BATCH) {
    let any = false;
    perPartition.forEach((encoded, partition) => {
      if (start >= encoded.length) return;
      any = true;
      const slice = encoded.slice(start, start + BATCH);
      batches.push({ partition, firstOffset: start, count: slice.length, bytes: Buffer.concat(slice) });
    });
    if (!any) return batches;
  }
}

/** A batch's records as the service's decoder hands them over: fresh objects, garbage once the batch is done. */
function recordsOf(batch: Batch): ConsumedRecord<unknown>[] {
  const records: ConsumedRecord<unknown>[] = [];
  let position = 0;
  for (let i = 0; i < batch.count; i += 1) {
    const { value, offset: next } = behaviorEvent.decode(batch.bytes, position) as { value: BehaviorEvent; offset: number };
    if (next < 0) throw new Error(`batch of partition ${batch.partition} at offset ${batch.firstOffset}: record ${i} is cut short`);
    position = next;
    records.push({ topic: 'events', partition: batch.partition, offset: String(batch.firstOffset + i), key: value.customer_id, value, timestamp: value.occurred_at, headers: {} });
  }
  return records;
}

/**
 * One pass: every batch against the states the earlier ones left; returns the seconds of CPU spent in the
 * logic, and a digest of every output (in order) and of the final states, so two builds can be shown to do
 * the same work.
 */
export function runOnce(
  logic: PartitionLogic,
  batches: Batch[],
  now: number,
): { seconds: number; outputs: number; stateBytes: number; digest: string; windows: number[] } {
  const digest = createHash('sha256');
  const states = Array.from({ length: PARTITIONS }, () => new Map<string, StateValue>());
  const streamTimes: Array<number | null> = Array.from({ length: PARTITIONS }, () => null);
  let outputs = 0;
  let spent = 0n;
  /** Start and end (performance.now()) of each timed call, in pairs: see collectedWithin. */
  const windows: number[] = [];
  for (const batch of batches) {
    const { partition } = batch;
    const records = recordsOf(batch);
    const stored = states[partition];
    const snapshot: PartitionSnapshot = { version: 1, appliedOffsets: new Map(), incarnation: 'i', streamTime: streamTimes[partition], states: new Map() };
    for (const record of records) {
      const customer = logic.customerOfRecord(record);
      snapshot.states.set(customer, stored.get(customer) ?? null);
    }
    windows.push(performance.now());
    const started = process.hrtime.bigint();
    const change = logic.onRecords(snapshot, records, now);
    spent += process.hrtime.bigint() - started;
    windows.push(performance.now());
    for (const [customer, value] of change.states) {
      if (value === null) stored.delete(customer);
      else stored.set(customer, value);
    }
    for (const record of records) {
      const time = logic.eventTime(record);
      if (time !== null) streamTimes[partition] = Math.max(streamTimes[partition] ?? time, time);
    }
    outputs += change.outbox.length;
    for (const output of change.outbox) digest.update(output).update('\0');
  }
  let stateBytes = 0;
  for (const stored of states) {
    for (const [customer, value] of [...stored].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      stateBytes += value.length;
      digest.update(`${customer}\0`).update(value);
    }
  }
  return { seconds: Number(spent) / 1e9, outputs, stateBytes, digest: digest.digest('hex').slice(0, 16), windows };
}

/** Seconds of the collections (Node's `gc` entries) that started inside one of the timed calls. */
function collectedWithin(entries: PerformanceEntry[], windows: number[]): number {
  let ms = 0;
  let w = 0;
  for (const entry of [...entries].sort((a, b) => a.startTime - b.startTime)) {
    while (w < windows.length && windows[w + 1] < entry.startTime) w += 2;
    if (w < windows.length && entry.startTime >= windows[w]) ms += entry.duration;
  }
  return ms / 1000;
}

async function main(): Promise<void> {
  const service = process.argv[2] === 'trigger' ? 'trigger' : 'segmenter';
  const count = Number(process.argv[3] ?? 100_000);
  const repeats = Number(process.argv[4] ?? 3);
  const clock = Date.parse('2026-03-02T18:00:00Z');
  // The generated events are garbage once encoded into the batches (see the comment at the top).
  const batches = batchesOf(shopTraffic({ total: count, customers: Math.round(count / 10), products: 2000, seed: 42, from: clock - 6 * 3600_000, to: clock, run: 'logic' }));
  const events = batches.reduce((sum, batch) => sum + batch.count, 0);
  const logic = logicOf(service);
  runOnce(logic, batches, clock); // warm-up
  // Node queues a collection's entry for the event loop, so each pass is followed by one turn of it.
  const collected: PerformanceEntry[] = [];
  const collections = new PerformanceObserver((list) => collected.push(...list.getEntries()));
  collections.observe({ entryTypes: ['gc'] });
  const runs = [];
  for (let i = 0; i < repeats; i += 1) {
    const run = runOnce(logicOf(service), batches, clock);
    await new Promise((resolve) => setImmediate(resolve));
    collected.push(...collections.takeRecords());
    runs.push({ ...run, collectedSeconds: collectedWithin(collected.splice(0), run.windows) });
  }
  collections.disconnect();
  const perEvent = (seconds: number) => ((seconds * 1e6) / events).toFixed(2);
  const us = runs.map((r) => (r.seconds * 1e6) / events).sort((a, b) => a - b);
  const { outputs, stateBytes, digest } = runs[0];
  if (runs.some((run) => run.digest !== digest)) throw new Error('two passes over the same events gave different outputs or states');
  console.log(`${service}: ${us[0].toFixed(2)} us per event at best, ${us[Math.floor(us.length / 2)].toFixed(2)} median (runs: ${us.map((u) => u.toFixed(2)).join(', ')}); ${events} events, ${outputs} outputs, ${stateBytes} state bytes, digest ${digest}`);
  console.log(`  of which garbage collection (collections started inside the timed calls), per pass in order: ${runs.map((r) => `${perEvent(r.collectedSeconds)} of ${perEvent(r.seconds)}`).join(', ')} us per event`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
