/**
 * /readyz of a running trigger service while its Kafka broker goes away and comes back. The
 * broker is a private single-node one on free ports (the shared one stays untouched); the
 * registry and Redis are the shared ones.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, Partitioners, type Producer } from '../../../services/kit/kafkajs';
import pino from 'pino';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { createTopicsReady } from '../../../services/kit/kafka';
import { createLogger } from '../../../services/kit/logger';
import type { RunningService } from '../../../services/kit/partition-service';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../services/core/types';
import { freePort, REDIS_URL, REGISTRY_URL, ROOT, waitFor } from '../../support/stack';
import { createRedis } from '../../../services/kit/redis';

const run = promisify(execFile);
const types = recordTypes();


interface Readyz {
  code: number;
  body: { status: string; failing?: Array<{ check: string; reason: string }> };
}

describe('/readyz of a trigger service whose broker stops and restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-readyz-'));
  const logFile = join(dir, 'trigger.log');
  const id = randomUUID().slice(0, 8);
  const topics = { events: `test.readyz.${id}.behavior.events`, profiles: `test.readyz.${id}.customer.profiles`, triggers: `test.readyz.${id}.triggers` };
  const prefix = `test-readyz-${id}`;
  let env: NodeJS.ProcessEnv;
  let kafka: Kafka;
  let producer: Producer;
  let service: RunningService | undefined;
  const codec = AvroCodec.connect(REGISTRY_URL);
  let eventsSchemaId: number;

  const stack = (...args: string[]) => run(join(ROOT, 'infra', 'stack.sh'), args, { env, timeout: 240_000 });

  beforeAll(async () => {
    const [kafkaPort, controllerPort] = [await freePort(), await freePort()];
    env = {
      ...process.env,
      KAIROS_STACK_DIR: join(dir, 'state'),
      KAIROS_STACK_LOGS: join(dir, 'logs'),
      KAFKA_PORT: String(kafkaPort),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
    };
    await stack('up', 'kafka');
    kafka = new Kafka({ brokers: [`127.0.0.1:${kafkaPort}`], clientId: 'kairos-readyz-test', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const all = [...Object.values(topics), `${topics.events}.dlq`, `${topics.profiles}.dlq`];
      await createTopicsReady(admin, all.map((topic) => ({ topic, numPartitions: 3 })));
    } finally {
      await admin.disconnect();
    }
    eventsSchemaId = await codec.register(valueSubject(topics.events), readSchema('BehaviorEvent'));
    await codec.register(valueSubject(topics.profiles), readSchema('CustomerProfile'));
    await codec.register(valueSubject(topics.triggers), readSchema('TriggerFired'));
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();

    const config = loadConfig(triggerShape, {
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      SCHEMA_REGISTRY_URL: REGISTRY_URL,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      TOPIC_BEHAVIOR_EVENTS: topics.events,
      TOPIC_CUSTOMER_PROFILES: topics.profiles,
      TOPIC_TRIGGERS: topics.triggers,
      GROUP_ID: `test-readyz-${id}`,
      HTTP_PORT: '0',
      TIMER_INTERVAL_MS: '200',
    });
    const logger = createLogger({ service: 'trigger', level: 'info', destination: pino.destination({ dest: logFile, sync: true }) });
    service = await startTrigger(config, { logger });
  }, 240_000);

  afterAll(async () => {
    await service?.stop();
    await producer?.disconnect();
    await stack('down').catch(() => undefined);
    const redis = createRedis({ REDIS_URL });
    const keys = await redis.keys(`{${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const readyz = async (): Promise<Readyz> => {
    const res = await fetch(`http://127.0.0.1:${service!.http.port}/readyz`);
    return { code: res.status, body: (await res.json()) as Readyz['body'] };
  };

  /** Four views of one product: the high_interest rule fires once per customer. */
  const produceInterest = async (customers: string[]) => {
    const at = Date.now() - 60_000;
    const events: BehaviorEvent[] = customers.flatMap((customer) =>
      [1, 2, 3, 4].map((n) =>
        behaviorEvent({ event_id: `${customer}-view-${n}`, customer_id: customer, type: 'product_view', occurred_at: at + n, product_id: 'sku-1' }),
      ),
    );
    await producer.send({
      topic: topics.events,
      messages: events.map((e) => ({ key: e.customer_id, value: codec.encode(eventsSchemaId, types.BehaviorEvent, e) })),
    });
  };

  /** The customers with a high_interest trigger, read from the beginning with a fresh group. */
  const triggeredCustomers = async (expected: number): Promise<string[]> => {
    const consumer = kafka.consumer({ groupId: `test-readyz-reader-${randomUUID()}` });
    const found = new Map<string, string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: topics.triggers, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const trigger = await codec.decode<TriggerFired>(message.value!, types.TriggerFired);
          if (trigger.rule === 'high_interest') found.set(trigger.trigger_id, trigger.customer_id);
        },
      });
      await waitFor(`${expected} high_interest triggers (have ${found.size})`, () => found.size >= expected, 90_000);
      return [...found.values()].sort();
    } finally {
      await consumer.disconnect();
    }
  };

  it('answers 503 naming kafka while the broker is down, 200 once it is back, and loses no record', async () => {
    await waitFor('the service to be ready', async () => (await readyz()).code === 200, 60_000);
    expect(await readyz()).toEqual({ code: 200, body: { status: 'ready' } });

    await produceInterest(['before-0', 'before-1', 'before-2']);
    expect(await triggeredCustomers(3)).toEqual(['before-0', 'before-1', 'before-2']);

    // Records acknowledged just before the outage: processed during it or after, never lost.
    await produceInterest(['edge-0', 'edge-1', 'edge-2']);
    await stack('stop', 'kafka');
    const down = await waitFor(
      'readyz to report kafka failing',
      async () => {
        const answer = await readyz();
        return answer.code === 503 && answer.body.failing?.some((f) => f.check === 'kafka') ? answer : undefined;
      },
      30_000,
    );
    expect(down.body.status).toBe('not_ready');
    expect(down.body.failing).toEqual(expect.arrayContaining([{ check: 'kafka', reason: expect.any(String) }]));
    // Redis and the registry are still there, and /readyz says so by not listing them.
    expect(down.body.failing?.map((f) => f.check)).not.toEqual(expect.arrayContaining(['redis']));
    expect(down.body.failing?.map((f) => f.check)).not.toEqual(expect.arrayContaining(['registry']));

    await stack('up', 'kafka');
    await waitFor('readyz to be 200 again', async () => (await readyz()).code === 200, 90_000);
    expect(await readyz()).toEqual({ code: 200, body: { status: 'ready' } });

    await produceInterest(['after-0', 'after-1', 'after-2']);
    expect(await triggeredCustomers(9)).toEqual(['after-0', 'after-1', 'after-2', 'before-0', 'before-1', 'before-2', 'edge-0', 'edge-1', 'edge-2']);

    // The outage shows as structured lines when Kafka is lost and when it is back, not one
    // per probe (a broker still starting may be lost once more before it settles).
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; check?: string });
    const kafkaLines = lines.filter((l) => l.check === 'kafka').map((l) => l.msg);
    expect(kafkaLines.length).toBeLessThanOrEqual(4);
    kafkaLines.forEach((msg, n) => expect(msg).toBe(n % 2 === 0 ? 'dependency unreachable; not ready' : 'dependency reachable again'));
    expect(kafkaLines.at(-1)).toBe('dependency reachable again');
  }, 300_000);
});
