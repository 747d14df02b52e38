/**
 * One service instance in a Node process of its own, as deployed: the trigger service instances
 * of the scale-out figure (bench/scale-out.ts, so instances can use both cores) and the
 * segmenter and trigger service of the latency figure (bench/latency.ts, so neither shares an
 * event loop with the other or with the bench's producer and tail consumer). The parent forks
 * it with ForkedInstances (bench/instances.ts) and passes the service, its environment and the
 * clock (frozen at a time, or the real one) in BENCH_INSTANCE (JSON). The instance reports over
 * IPC every 10 ms: whether it is a group member, how many input partitions it owns and how many
 * records it processed; it stops gracefully on {type: 'stop'}.
 *
 * With `gate`, the input is held until {type: 'go'} (bench/consumer-gate.ts): instances join one
 * after the other, and without a gate the first would process much of the input alone before the
 * others own their partitions.
 */
import { ConsumerGate } from './consumer-gate';
import { loadConfig } from '../services/kit/config';
import type { RunningService } from '../services/kit/partition-service';
import { segmenterShape, startSegmenter } from '../services/segmenter/main';
import { startTrigger, triggerShape } from '../services/trigger/main';
import { silentLogger } from './throughput';

export interface InstanceSpec {
  service: 'segmenter' | 'trigger';
  env: Record<string, string>;
  /** The service clock, frozen at this time (ms); null: the real clock. */
  clock: number | null;
  topic: string;
  /** Hold the input at every group join until {type: 'go'}. */
  gate: boolean;
}

/** Per batch phase (kairos_batch_phase_seconds): the seconds summed over the batches so far, and their count. */
export type PhaseTotals = Record<string, { seconds: number; count: number }>;

export interface InstanceStatus {
  type: 'status';
  ready: boolean;
  owned: number;
  processed: number;
  /** Batches the service relayed (the count of its `relay` batch phase): one per fetched partition batch. */
  batches: number;
  /** exactly_once relay transactions committed (kairos_relay_transactions_total). */
  transactions: number;
  phases: PhaseTotals;
}

async function processed(service: RunningService, topic: string): Promise<number> {
  const metric = await service.parts.metrics.recordsProcessed.get();
  return metric.values.filter((v) => v.labels.topic === topic).reduce((sum, v) => sum + v.value, 0);
}

async function phaseTotals(service: RunningService): Promise<PhaseTotals> {
  const metric = await service.parts.metrics.batchPhaseSeconds.get();
  const totals: PhaseTotals = {};
  for (const v of metric.values) {
    const sum = v.metricName?.endsWith('_sum');
    if (!sum && !v.metricName?.endsWith('_count')) continue;
    const phase = String(v.labels.phase);
    const entry = (totals[phase] ??= { seconds: 0, count: 0 });
    if (sum) entry.seconds = v.value;
    else entry.count = v.value;
  }
  return totals;
}

async function transactions(service: RunningService): Promise<number> {
  const metric = await service.parts.metrics.relayTransactions.get();
  return metric.values.find((v) => v.labels.outcome === 'committed')?.value ?? 0;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_INSTANCE ?? 'null') as InstanceSpec | null;
  if (spec === null || typeof process.send !== 'function') throw new Error('bench: service-instance runs only forked by the bench (bench/instances.ts)');
  const gate = spec.gate ? new ConsumerGate([spec.topic], (groupId) => groupId === spec.env.GROUP_ID) : null;
  gate?.install();
  const frozen = spec.clock;
  const overrides = { logger: silentLogger, ...(frozen === null ? {} : { clock: () => frozen }) };
  const service =
    spec.service === 'segmenter'
      ? await startSegmenter(loadConfig(segmenterShape, spec.env), overrides)
      : await startTrigger(loadConfig(triggerShape, spec.env), overrides);
  let stopping = false;
  const report = async () => {
    if (stopping) return;
    const phases = await phaseTotals(service);
    const status: InstanceStatus = {
      type: 'status',
      ready: service.runner.isReady(),
      owned: service.runner.assignedPartitions(spec.topic).length,
      processed: await processed(service, spec.topic),
      batches: phases.relay?.count ?? 0,
      transactions: await transactions(service),
      phases,
    };
    process.send?.(status);
  };
  const timer = setInterval(() => void report(), 10);
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'go') {
      gate?.release();
      return;
    }
    if (message?.type !== 'stop' || stopping) return;
    stopping = true;
    clearInterval(timer);
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`bench ${spec.service} instance: stop failed:`, error);
        process.exit(1);
      },
    );
  });
  process.on('disconnect', () => process.exit(1));
  void service.fatal.then((error) => {
    console.error(`bench ${spec.service} instance: fatal:`, error);
    process.exit(1);
  });
}

main().catch((error: unknown) => {
  console.error('bench service instance failed:', error);
  process.exit(1);
});
