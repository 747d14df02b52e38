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
 * With `gate`, the input is held until {type: 'go'}: instances join one after the other (an existing member
 * learns of a rebalance at its next heartbeat, every KAFKA_SESSION_TIMEOUT / 3), and without a
 * gate the first instance would process much of the input alone before the others own their
 * partitions. The gate pauses the input topic on the service's own kafkajs consumer at every
 * group join until `go`, and resumes it then; to get hold of that consumer, this process wraps
 * kafkajs's Kafka#consumer (only here: no service code knows of it).
 */
import { Kafka, type Consumer, type ConsumerConfig } from '../services/kit/kafkajs';
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

export interface InstanceStatus {
  type: 'status';
  ready: boolean;
  owned: number;
  processed: number;
}

async function processed(service: RunningService, topic: string): Promise<number> {
  const metric = await service.parts.metrics.recordsProcessed.get();
  return metric.values.filter((v) => v.labels.topic === topic).reduce((sum, v) => sum + v.value, 0);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_INSTANCE ?? 'null') as InstanceSpec | null;
  if (spec === null || typeof process.send !== 'function') throw new Error('bench: service-instance runs only forked by the bench (bench/instances.ts)');
  let go = !spec.gate;
  let gated: Consumer | undefined;
  const createConsumer = Kafka.prototype.consumer;
  Kafka.prototype.consumer = function (this: Kafka, config: ConsumerConfig): Consumer {
    // While every partition is paused, kafkajs sleeps maxWaitTimeInMs (5 s by default) between
    // fetches, and that sleep ran on into the timed window after `go`: a short one for the gated
    // consumer (it matters only while the broker has nothing to give, never during the run).
    const gatedConfig = spec.gate && config.groupId === spec.env.GROUP_ID ? { ...config, maxWaitTimeInMs: 50 } : config;
    const consumer = createConsumer.call(this, gatedConfig);
    if (config.groupId === spec.env.GROUP_ID) {
      gated = consumer;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (!go) consumer.pause([{ topic: spec.topic }]);
      });
    }
    return consumer;
  };
  const frozen = spec.clock;
  const overrides = { logger: silentLogger, ...(frozen === null ? {} : { clock: () => frozen }) };
  const service =
    spec.service === 'segmenter'
      ? await startSegmenter(loadConfig(segmenterShape, spec.env), overrides)
      : await startTrigger(loadConfig(triggerShape, spec.env), overrides);
  let stopping = false;
  const report = async () => {
    if (stopping) return;
    const status: InstanceStatus = {
      type: 'status',
      ready: service.runner.isReady(),
      owned: service.runner.assignedPartitions(spec.topic).length,
      processed: await processed(service, spec.topic),
    };
    process.send?.(status);
  };
  const timer = setInterval(() => void report(), 10);
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'go' && !go) {
      go = true;
      gated?.resume([{ topic: spec.topic }]);
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
