/**
 * The demo: replays a synthetic shop day through the running pipeline and shows what happened.
 * `make demo` starts the stack and the services first; this tool only publishes and reports.
 *
 *   node dist/services/tools/demo.js [--customers 400] [--events 20000] [--seed 7]
 */
import { parseArgs } from 'node:util';
import type { Admin, Producer } from 'kafkajs';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../kit/codec';
import { bearerTokenVar, commonShape, loadConfig, runMain, urlVar } from '../kit/config';
import { createIdempotentProducer, createKafka, readToEnd } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { createRedis } from '../kit/redis';
import type { EmailOutcome, TriggerFired } from '../core/types';
import { syntheticShop } from './synthetic';

const shape = {
  ...commonShape,
  SEGMENTER_URL: urlVar().default('http://127.0.0.1:8091'),
  // The segmenter's HTTP_AUTH_TOKEN, when it has one.
  SEGMENTER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  SES_STORE_URL: urlVar().default('http://127.0.0.1:8005'),
};

const GROUPS: Array<{ group: string; topics: (c: ReturnType<typeof loadConfig<typeof shape>>) => string[] }> = [
  { group: 'kairos-segmenter', topics: (c) => [c.TOPIC_BEHAVIOR_EVENTS, c.TOPIC_CUSTOMER_PROFILES] },
  { group: 'kairos-trigger', topics: (c) => [c.TOPIC_BEHAVIOR_EVENTS] },
  { group: 'kairos-renderer', topics: (c) => [c.TOPIC_TRIGGERS] },
];

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Records still to be processed by `group` on `topics` (committed offsets vs the log end). */
async function lag(admin: Admin, group: string, topics: string[]): Promise<number> {
  let total = 0;
  for (const topic of topics) {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
    const done = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
    for (const p of ends) total += Math.max(0, Number(p.high) - Math.max(done.get(p.partition) ?? 0, Number(p.low)));
  }
  return total;
}

/** Every committed record of `topic`, decoded, read by a throw-away read_committed consumer. */
async function readTopic<T>(kafka: ReturnType<typeof createKafka>, codec: AvroCodec, topic: string, type: Parameters<AvroCodec['decode']>[1]): Promise<T[]> {
  const out: T[] = [];
  await readToEnd(kafka, topic, {
    groupId: `kairos-demo-report-${Date.now()}`,
    timeoutMs: 120_000,
    onMessage: async (message) => {
      if (message.value) out.push(await codec.decode<T>(message.value, type));
    },
  });
  return out;
}

function countBy<T>(items: T[], key: (item: T) => string): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

async function publish(producer: Producer, topic: string, messages: Array<{ key: string; value: Buffer }>, label: string): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < messages.length; i += 1000) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    const done = Math.min(i + 1000, messages.length);
    process.stdout.write(`\r  ${label}: ${done}/${messages.length} (${Math.round(done / Math.max((Date.now() - started) / 1000, 0.001))}/s)`);
  }
  process.stdout.write('\n');
}

async function demo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      customers: { type: 'string', default: '400' },
      events: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '7' },
      'timeout-s': { type: 'string', default: '300' },
    },
  });
  const config = loadConfig(shape);
  const logger = createLogger({ service: 'demo', level: 'warn' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-demo', logger });
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const day = { seed: Number(values.seed), customers: Number(values.customers), events: Number(values.events) };
  const admin = kafka.admin();
  await admin.connect();
  const redis = createRedis(config, { connectionName: 'kairos-demo' });
  try {
    // The day a previous run published into this same stack, if any (`make down` forgets it).
    const dayKey = `{${config.REDIS_KEY_PREFIX}:demo}:day`;
    const previous = parsePreviousDay(await redis.get(dayKey), day);
    const published = (await admin.fetchTopicOffsets(config.TOPIC_BEHAVIOR_EVENTS)).reduce((sum, p) => sum + Number(p.high), 0);
    const replayed = previous !== null && published >= day.events;
    if (replayed) {
      say(`Kairos demo: this stack already holds the synthetic day of seed ${day.seed} (published ${new Date(previous.publishedAt).toISOString()}).`);
      say('Its events are already in the topics: publishing them again could only produce duplicates (same event ids),');
      say('so nothing is republished and nothing is sent twice. The results below are that day\'s. For a fresh day:');
      say('`make stop && make down`, then `make demo`.\n');
    } else {
      // Ends 30 minutes ago, so every 15-minute cart wait is over by the time it is read: two runs
      // report the same firings, however long the services take.
      const now = Date.now() - 30 * 60_000;
      const shop = syntheticShop({ customers: day.customers, events: day.events, now, seed: day.seed });
      say(`Kairos demo: ${shop.profiles.length} customers, ${shop.events.length} events over the 24 hours before ${new Date(now).toISOString()} (seed ${day.seed})`);
      const profileId = await codec.idOf(valueSubject(config.TOPIC_CUSTOMER_PROFILES), readSchema('CustomerProfile'));
      const eventId = await codec.idOf(valueSubject(config.TOPIC_BEHAVIOR_EVENTS), readSchema('BehaviorEvent'));
      const producer = createIdempotentProducer(kafka);
      await producer.connect();
      await publish(producer, config.TOPIC_CUSTOMER_PROFILES, shop.profiles.map((p) => ({ key: p.customer_id, value: codec.encode(profileId, types.CustomerProfile, p) })), 'profiles');
      await publish(producer, config.TOPIC_BEHAVIOR_EVENTS, shop.events.map((e) => ({ key: e.customer_id, value: codec.encode(eventId, types.BehaviorEvent, e) })), 'events');
      await producer.disconnect();
      await redis.set(dayKey, JSON.stringify({ ...day, publishedAt: Date.now() }));
    }

    say('Waiting for the services to catch up (segmenter, trigger, renderer):');
    const deadline = Date.now() + Number(values['timeout-s']) * 1000;
    for (;;) {
      const lags = await Promise.all(GROUPS.map(async ({ group, topics }) => [group, await lag(admin, group, topics(config))] as const));
      process.stdout.write(`\r  ${lags.map(([g, l]) => `${g.replace('kairos-', '')}: ${l} to go`).join(' | ')}        `);
      if (lags.every(([, l]) => l === 0)) break;
      if (Date.now() > deadline) throw new Error(`the services did not catch up within ${values['timeout-s']} s; see logs/*.log`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    say('\n');

    const answer = await fetch(`${config.SEGMENTER_URL}/segments`, {
      headers: config.SEGMENTER_AUTH_TOKEN ? { authorization: `Bearer ${config.SEGMENTER_AUTH_TOKEN}` } : {},
    });
    if (!answer.ok) {
      const hint = answer.status === 401 ? ': set SEGMENTER_AUTH_TOKEN to the segmenter\'s HTTP_AUTH_TOKEN' : '';
      throw new Error(`${config.SEGMENTER_URL}/segments answered HTTP ${answer.status}${hint}`);
    }
    const segments = (await answer.json()) as { segments: Array<{ name: string; size: number }> };
    say('Segments now:');
    for (const s of segments.segments) say(`  ${s.name.padEnd(20)} ${s.size}`);
    const triggers = await readTopic<TriggerFired>(kafka, codec, config.TOPIC_TRIGGERS, types.TriggerFired);
    say(`\nTriggers fired (${triggers.length}):`);
    for (const [rule, count] of countBy(triggers, (t) => t.rule)) say(`  ${rule.padEnd(28)} ${count}`);
    const outcomes = await readTopic<EmailOutcome>(kafka, codec, config.TOPIC_EMAIL_OUTCOMES, types.EmailOutcome);
    say(`\nEmail outcomes (${outcomes.length}):`);
    // Reasons carry details (times, campaigns); their first word is the kind.
    const kind = (o: EmailOutcome) => (o.status === 'sent' ? '' : ` (${(o.reason ?? '').split(/[:\s]/)[0]})`);
    for (const [what, count] of countBy(outcomes, (o) => `${o.status}${o.campaign ? ` ${o.campaign}` : ''}${kind(o)}`)) say(`  ${what.padEnd(48)} ${count}`);
    // By trigger_id, so two runs over the same day list the same emails.
    const sent = outcomes.filter((o) => o.status === 'sent').sort((a, b) => a.trigger_id.localeCompare(b.trigger_id)).slice(0, 5);
    if (sent.length > 0) {
      say('\nA few emails (open them in the SES emulator):');
      for (const o of sent) say(`  ${o.campaign}/${o.variant ?? '-'}  trigger ${o.trigger_id}  SES id ${o.ses_message_id}`);
      say(`  all sent mail: ${config.SES_STORE_URL}  (raw: ${config.SES_STORE_URL}/store)`);
    }
    if (replayed) say(`\nNothing was published or sent by this run: the ${triggers.length} triggers and ${outcomes.length} outcomes above are the first run's.`);
    say('\nThe stack and services keep running: `make stop && make down` ends them. Logs in logs/.');
  } finally {
    await admin.disconnect();
    redis.disconnect();
  }
}

/** The previous run's day, if it was the same day (seed and sizes) as this one. */
function parsePreviousDay(text: string | null, day: { seed: number; customers: number; events: number }): { publishedAt: number } | null {
  if (text === null) return null;
  try {
    const stored = JSON.parse(text) as { seed?: unknown; customers?: unknown; events?: unknown; publishedAt?: unknown };
    const same = stored.seed === day.seed && stored.customers === day.customers && stored.events === day.events;
    return same && typeof stored.publishedAt === 'number' ? { publishedAt: stored.publishedAt } : null;
  } catch {
    return null;
  }
}

if (require.main === module) void runMain('demo', () => demo(process.argv.slice(2)));
