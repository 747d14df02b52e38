/**
 * Creates the design's topics and registers its schemas (idempotent; run by `make up`).
 *
 *   node dist/services/tools/provision.js
 *
 * Topics: the five of the design plus a DLQ per input (email.outcomes is the results service's),
 * all with KAFKA_PARTITIONS partitions (behavior.events, customer.profiles, triggers and
 * email.outcomes must stay co-partitioned); customer.profiles
 * is compacted. Subjects follow TopicNameStrategy with compatibility BACKWARD.
 */
import type { Admin } from 'kafkajs';
import { AvroCodec, readSchema, valueSubject, type SchemaName } from '../kit/codec';
import { commonShape, intVar, loadConfig, runMain } from '../kit/config';
import { createKafka, createTopicsReady, withAdmin } from '../kit/kafka';
import { createLogger, type Logger } from '../kit/logger';
import { dlqTopic } from '../kit/dlq';

export const provisionShape = {
  ...commonShape,
  KAFKA_PARTITIONS: intVar(1, 10000).default(12),
  KAFKA_REPLICATION_FACTOR: intVar(1, 16).default(1),
};
type ProvisionConfig = ReturnType<typeof loadConfig<typeof provisionShape>>;

/** The topics of the design, named as configured, with the schema of their values. */
export function topicPlan(config: ProvisionConfig): Array<{ topic: string; schema?: SchemaName; compacted?: boolean }> {
  const inputs = [
    { topic: config.TOPIC_BEHAVIOR_EVENTS, schema: 'BehaviorEvent' as const },
    { topic: config.TOPIC_CUSTOMER_PROFILES, schema: 'CustomerProfile' as const, compacted: true },
    { topic: config.TOPIC_TRIGGERS, schema: 'TriggerFired' as const },
  ];
  return [
    ...inputs,
    { topic: config.TOPIC_SEGMENT_CHANGES, schema: 'SegmentChange' },
    { topic: config.TOPIC_EMAIL_OUTCOMES, schema: 'EmailOutcome' },
    ...inputs.map(({ topic }) => ({ topic: dlqTopic(topic, config.DLQ_SUFFIX) })),
    // The results service reads email.outcomes too (co-partitioned with behavior.events).
    { topic: dlqTopic(config.TOPIC_EMAIL_OUTCOMES, config.DLQ_SUFFIX) },
  ];
}

async function createTopics(admin: Admin, config: ProvisionConfig, logger: Logger): Promise<void> {
  const plan = topicPlan(config);
  const created = await createTopicsReady(
    admin,
    plan.map(({ topic, compacted }) => ({
      topic,
      numPartitions: config.KAFKA_PARTITIONS,
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      configEntries: compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    })),
  );
  if (created.length > 0) logger.info({ topics: created, partitions: config.KAFKA_PARTITIONS }, 'topics created');
  const metadata = await admin.fetchTopicMetadata({ topics: plan.map((p) => p.topic) });
  for (const topic of metadata.topics) {
    if (topic.partitions.length !== config.KAFKA_PARTITIONS) {
      logger.warn(
        { topic: topic.name, partitions: topic.partitions.length, expected: config.KAFKA_PARTITIONS },
        'topic exists with another partition count; co-partitioned topics must match',
      );
    }
  }
}

async function registerSchemas(config: ProvisionConfig, logger: Logger): Promise<void> {
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  for (const { topic, schema } of topicPlan(config)) {
    if (!schema) continue;
    const subject = valueSubject(topic);
    await setCompatibility(config.SCHEMA_REGISTRY_URL, subject, 'BACKWARD');
    const id = await codec.register(subject, readSchema(schema));
    logger.info({ subject, id }, 'schema registered');
  }
}

async function setCompatibility(registryUrl: string, subject: string, level: string): Promise<void> {
  const response = await fetch(`${registryUrl}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  if (!response.ok) {
    throw new Error(`setting compatibility ${level} on ${subject} failed: HTTP ${response.status} ${await response.text()}`);
  }
}

/** Creates the topics and registers the schemas, as configured in `env`. */
export async function provision(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(provisionShape, env);
  const logger = createLogger({ service: 'provision', level: config.LOG_LEVEL });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-provision', logger });
  await withAdmin(kafka, (admin) => createTopics(admin, config, logger));
  await registerSchemas(config, logger);
}

if (require.main === module) void runMain('provision', () => provision());
