import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics every Kairos service exposes, on its own registry. */
export interface KairosMetrics {
  registry: Registry;
  consumerBatchSize: Histogram<'topic'>;
  consumerBatchDurationSeconds: Histogram<'topic'>;
  /** Where a stateful service's batch time goes, by phase (see BATCH_PHASES). */
  batchPhaseSeconds: Histogram<'phase'>;
  consumerLag: Gauge<'topic' | 'partition'>;
  recordsProcessed: Counter<'topic'>;
  recordsDeadLettered: Counter<'topic' | 'reason'>;
  eventsIgnored: Counter<'reason'>;
  recordsProduced: Counter<'topic'>;
  /** exactly_once relay transactions (outbox-relay.ts), by outcome: committed or failed. */
  relayTransactions: Counter<'outcome'>;
  stateLogMismatches: Counter<'topic' | 'partition'>;
  partitionsStopped: Gauge;
  corruptStates: Counter;
  outputsRestored: Counter<'partition'>;
  /** See timer-watch.ts; services with timers (segmenter, trigger, results, renderer) set it. */
  timersOverdueSeconds: Gauge<'partition'>;
}

/** The heap in use just after the last full collection in this process (null before the first). */
let heapAfterFullGc: number | null = null;
let gcObserver: PerformanceObserver | null = null;

/** One observer per process (registries come and go in tests): notes the heap after each full collection. */
function watchFullCollections(): void {
  if (gcObserver !== null) return;
  gcObserver = new PerformanceObserver((list) => {
    // Delivered right after the collection, before the next one: the heap is still close to what it kept.
    if (list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
      heapAfterFullGc = getHeapStatistics().used_heap_size;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
}

// Batches range from a single record (quiet topic) to kafkajs's default fetch of thousands.
const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
// One Lua call per batch should take milliseconds; the top buckets catch stalls.
const BATCH_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The phases of a stateful service's batch (partition-processor.ts), in order: reading the
 * partition's fence and the batch's customer states, computing the change (the service's pure
 * logic: decode, rules, encode), applying it (the fenced Lua call), firing the timers due by the
 * stream time it reached, and relaying the outbox to Kafka. A phase retried after the fence
 * moved is counted each time.
 */
export const BATCH_PHASES = ['read', 'compute', 'apply', 'timers', 'relay'] as const;
export type BatchPhase = (typeof BATCH_PHASES)[number];

/**
 * A fresh registry with default process metrics, a `service` label on every series and the
 * shared pipeline metrics. A registry per call (not the global one) keeps tests independent.
 */
export function createMetrics(service: string): KairosMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  watchFullCollections();
  new Gauge({
    name: 'kairos_heap_after_full_gc_bytes',
    help: 'V8 heap in use just after the last full (mark-compact) collection: the live heap, which a leak grows (nodejs_heap_size_used_bytes also holds garbage awaiting collection, and RSS holds the heap V8 keeps reserved); absent until the first full collection',
    registers,
    collect() {
      if (heapAfterFullGc !== null) this.set(heapAfterFullGc);
    },
  });

  return {
    registry,
    consumerBatchSize: new Histogram({
      name: 'kairos_consumer_batch_size',
      help: 'Records per consumed batch',
      labelNames: ['topic'] as const,
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    }),
    consumerBatchDurationSeconds: new Histogram({
      name: 'kairos_consumer_batch_duration_seconds',
      help: 'Time to process one consumed batch, commit excluded',
      labelNames: ['topic'] as const,
      buckets: BATCH_DURATION_BUCKETS,
      registers,
    }),
    batchPhaseSeconds: new Histogram({
      name: 'kairos_batch_phase_seconds',
      help: `Time of one phase of a stateful service's batch: ${BATCH_PHASES.join(', ')} (timer ticks not included)`,
      labelNames: ['phase'] as const,
      buckets: BATCH_DURATION_BUCKETS,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'kairos_consumer_lag',
      help: 'High watermark minus the last processed offset, per partition',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    recordsProcessed: new Counter({
      name: 'kairos_records_processed_total',
      help: 'Records consumed and processed',
      labelNames: ['topic'] as const,
      registers,
    }),
    recordsDeadLettered: new Counter({
      name: 'kairos_records_dead_lettered_total',
      help: 'Records sent to the dead-letter topic, by source topic and reason',
      labelNames: ['topic', 'reason'] as const,
      registers,
    }),
    eventsIgnored: new Counter({
      name: 'kairos_events_ignored_total',
      help: 'Events skipped on purpose (unknown type, duplicate, ...)',
      labelNames: ['reason'] as const,
      registers,
    }),
    recordsProduced: new Counter({
      name: 'kairos_records_produced_total',
      help: 'Records produced, by destination topic',
      labelNames: ['topic'] as const,
      registers,
    }),
    relayTransactions: new Counter({
      name: 'kairos_relay_transactions_total',
      help: 'Kafka transactions of the exactly_once outbox relay (each carries the outboxes of the partitions ready), by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    stateLogMismatches: new Counter({
      name: 'kairos_state_log_mismatches_total',
      help: 'Partitions found whose Redis state does not belong to the log being read (each then stopped)',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    partitionsStopped: new Gauge({
      name: 'kairos_partitions_stopped',
      help: 'Partitions this instance stopped consuming until an operator resets their state',
      registers,
    }),
    corruptStates: new Counter({
      name: 'kairos_corrupt_states_total',
      help: 'Customer states that could not be decoded (their records were dead-lettered)',
      registers,
    }),
    outputsRestored: new Counter({
      name: 'kairos_outputs_restored_total',
      help: 'Output records not produced again while a rebuilt partition replayed what it had applied before its state was lost (state rebuild)',
      labelNames: ['partition'] as const,
      registers,
    }),
    timersOverdueSeconds: new Gauge({
      name: 'kairos_timers_overdue_seconds',
      help: "How long ago (service clock) the oldest pending timer of each owned partition fell due; 0 when none is due",
      labelNames: ['partition'] as const,
      registers,
    }),
  };
}
