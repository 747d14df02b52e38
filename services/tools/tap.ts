/**
 * Reads a Kairos topic as a consumer group member and prints each decoded record as one JSON
 * line on stdout: for analytics people peeking at output topics, and for operators.
 *
 *   npm run tap -- --topic triggers
 *   npm run tap -- --topic behavior.events --group my-audit --schema BehaviorEvent
 *
 * Offsets are committed after the lines of a batch are written, so a restarted tap with the
 * same --group continues where it stopped. SIGTERM/SIGINT finish the batch and commit.
 * Poison records are logged to stderr and skipped; with --dlq they go to the topic's DLQ as a
 * service would send them.
 *
 * --pause-after N (for tests): once N or more records are written, the batch that got there
 * is held before its commit and no further batch is written; stderr gets one `paused` log line
 * with the count. SIGTERM/SIGINT then lets the held batches finish and commit, and exits. So a
 * test stops the tap provably mid-stream, whatever the speed of the machine. Keep the hold
 * shorter than the group's session timeout (30 s), or the group moves the partitions away.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AvroCodec, recordTypes, SCHEMA_NAMES, type SchemaName } from '../kit/codec';
import { commonShape, loadConfig, runMain, type CommonConfig } from '../kit/config';
import { bindTopic, ConsumerRunner, metricsInstrumentation, type AnyTopicBinding, type ConsumedRecord } from '../kit/consumer-runner';
import { createIdempotentProducer, createKafka } from '../kit/kafka';
import { shutdownOnSignals } from '../kit/lifecycle';
import { createLogger } from '../kit/logger';
import { createMetrics } from '../kit/metrics';
import type { BehaviorEvent, CustomerProfile } from '../core/types';
import { behaviorEventChecks, customerProfileChecks } from '../kit/inputs';

/** The binding of the tapped topic: records are checked as the services check them. */
function tapBinding(topic: string, schema: SchemaName): AnyTopicBinding {
  const binding = { topic, type: recordTypes()[schema] };
  if (schema === 'BehaviorEvent') return bindTopic<BehaviorEvent>({ ...binding, ...behaviorEventChecks });
  if (schema === 'CustomerProfile') return bindTopic<CustomerProfile>({ ...binding, tombstones: true, ...customerProfileChecks });
  return bindTopic(binding);
}

/** The schema of each configured topic's values, so --schema is rarely needed. */
function schemaOfTopic(config: CommonConfig, topic: string): SchemaName | undefined {
  const byTopic: Record<string, SchemaName> = {
    [config.TOPIC_BEHAVIOR_EVENTS]: 'BehaviorEvent',
    [config.TOPIC_CUSTOMER_PROFILES]: 'CustomerProfile',
    [config.TOPIC_TRIGGERS]: 'TriggerFired',
    [config.TOPIC_SEGMENT_CHANGES]: 'SegmentChange',
    [config.TOPIC_EMAIL_OUTCOMES]: 'EmailOutcome',
  };
  return byTopic[topic];
}

/** Writes `text` and resolves once it has been handed to the OS: the effect is then durable. */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

async function tap(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      topic: { type: 'string' },
      group: { type: 'string' },
      schema: { type: 'string' },
      'pause-after': { type: 'string' },
      dlq: { type: 'boolean', default: false },
    },
  });
  const config = loadConfig(commonShape);
  if (!values.topic) throw new Error('--topic is required; usage: npm run tap -- --topic TOPIC [--group GROUP] [--schema NAME]');
  const schema = (values.schema ?? schemaOfTopic(config, values.topic)) as SchemaName | undefined;
  if (!schema || !SCHEMA_NAMES.includes(schema)) {
    throw new Error(`no schema known for topic ${values.topic}; pass --schema, one of ${SCHEMA_NAMES.join(', ')}`);
  }
  const pauseAfter = values['pause-after'] === undefined ? undefined : Number(values['pause-after']);
  if (pauseAfter !== undefined && !(Number.isSafeInteger(pauseAfter) && pauseAfter >= 1)) {
    throw new Error(`--pause-after takes a whole number of records, 1 or more; got "${values['pause-after']}"`);
  }
  const groupId = values.group ?? `kairos-tap-${randomUUID()}`;
  const logger = createLogger({ service: 'tap', level: config.LOG_LEVEL, destination: process.stderr });
  const metrics = createMetrics('tap');
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-tap', logger });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  let written = 0;
  let paused = false;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const runner = new ConsumerRunner({
    consumer: kafka.consumer({ groupId }),
    producer,
    codec: AvroCodec.connect(config.SCHEMA_REGISTRY_URL),
    logger,
    instrumentation: metricsInstrumentation(metrics),
    service: 'tap',
    groupId,
    dlqSuffix: config.DLQ_SUFFIX,
    // A peek must not write: poison is logged unless --dlq asks for the services' behaviour.
    produceDeadLetters: values.dlq,
    bindings: [tapBinding(values.topic, schema)],
    handler: async (records: ConsumedRecord<unknown>[]) => {
      // A batch that arrives while paused writes nothing until the stop; it then goes on, as
      // returning unwritten would commit records nobody saw.
      if (paused) await released;
      const out = records.map(({ partition, offset, key, value }) => JSON.stringify({ partition, offset, key, value }));
      await writeOut(`${out.join('\n')}\n`);
      written += records.length;
      if (pauseAfter !== undefined && written >= pauseAfter) {
        if (!paused) logger.info({ records: written }, 'paused');
        paused = true;
        await released;
      }
    },
  });
  shutdownOnSignals(logger, () => [
    {
      name: 'consumer',
      run: () => {
        // Stopping first means no new batch starts once the held ones are let go.
        const stopping = runner.stop();
        release();
        return stopping;
      },
    },
    { name: 'producer', run: () => producer.disconnect() },
  ]);
  await runner.start();
  logger.info({ topic: values.topic, groupId }, 'tapping');
}

if (require.main === module) void runMain('tap', () => tap(process.argv.slice(2)));
