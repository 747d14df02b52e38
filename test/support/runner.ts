/** Runs a ConsumerRunner in the test process, collecting what its handler receives. */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Producer } from 'kafkajs';
import { AvroCodec } from '../../services/kit/codec';
import { ConsumerRunner, metricsInstrumentation, type AnyTopicBinding, type BatchOutcome, type ConsumedRecord } from '../../services/kit/consumer-runner';
import { createMetrics, type KairosMetrics } from '../../services/kit/metrics';
import { kafka, REGISTRY_URL } from './stack';

export interface TestRunner {
  runner: ConsumerRunner;
  records: ConsumedRecord<unknown>[];
  metrics: KairosMetrics;
  groupId: string;
  stop(): Promise<void>;
}

export async function startTestRunner(options: {
  producer: Producer;
  bindings: AnyTopicBinding[];
  handler?: (records: ConsumedRecord<unknown>[]) => Promise<BatchOutcome | void>;
}): Promise<TestRunner> {
  const records: ConsumedRecord<unknown>[] = [];
  const metrics = createMetrics('test');
  const groupId = `test-group-${randomUUID()}`;
  const runner = new ConsumerRunner({
    consumer: kafka.consumer({ groupId }),
    producer: options.producer,
    codec: AvroCodec.connect(REGISTRY_URL),
    logger: pino({ level: 'silent' }),
    instrumentation: metricsInstrumentation(metrics),
    service: 'test',
    groupId,
    bindings: options.bindings,
    handler: async (batch) => {
      records.push(...batch);
      return options.handler?.(batch);
    },
  });
  await runner.start();
  return { runner, records, metrics, groupId, stop: () => runner.stop() };
}
