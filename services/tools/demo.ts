/**
 * The demo: replays a synthetic shop day through the running pipeline, lets simulated
 * recipients open, click and buy from the emails it sent, and shows what happened.
 * `make demo` starts the stack and the services first; this tool only publishes and reports.
 *
 *   node dist/services/tools/demo.js [--customers 400] [--events 20000] [--seed 7]
 *
 * Phases (progress is kept in Redis under {REDIS_KEY_PREFIX:demo}, which `make down` wipes with
 * the rest): publish the day (one transaction), wait for the services, engage (once per day),
 * wait again, summarize. A second run on the same stack publishes and engages nothing and
 * prints the same summary (docs/operations.md, "The demo"). Ctrl-C aborts the day's
 * transaction, or stops after the email in hand, and exits 130; the next run carries on.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Admin, type Kafka, type Producer, type Transaction } from '../kit/kafkajs';
import type { Redis, Cluster } from 'ioredis';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../kit/codec';
import { bearerTokenVar, commonShape, loadConfig, runMain, urlVar } from '../kit/config';
import { createIdempotentProducer, createKafka, readToEnd, recordsBehind, topicEnds, withAdmin, type PartitionEnds } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { createRedis } from '../kit/redis';
import { behaviorEvent, type BehaviorEvent, type EmailOutcome, type TriggerFired } from '../core/types';
import type { ExperimentReport } from '../core/experiments/model';
import { experimentVerdict } from '../core/experiments/verdict';
import { syntheticShop } from './synthetic';
import { progress } from './demo-progress';
import { purchaseEventId, recipientPlan, trackerLinks } from './demo-recipients';

const shape = {
  ...commonShape,
  SEGMENTER_URL: urlVar().default('http://127.0.0.1:8091'),
  // The segmenter's HTTP_AUTH_TOKEN, when it has one.
  SEGMENTER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  RESULTS_URL: urlVar().default('http://127.0.0.1:8096'),
  // The results service's HTTP_AUTH_TOKEN, when it has one.
  RESULTS_AUTH_TOKEN: bearerTokenVar(32).optional(),
  SES_STORE_URL: urlVar().default('http://127.0.0.1:8005'),
  // Only printed at the end: the console's address.
  CONSOLE_URL: urlVar().default('http://127.0.0.1:8090'),
};
type Config = ReturnType<typeof loadConfig<typeof shape>>;

const GROUPS: Array<{ group: string; topics: (c: Config) => string[] }> = [
  { group: 'kairos-segmenter', topics: (c) => [c.TOPIC_BEHAVIOR_EVENTS, c.TOPIC_CUSTOMER_PROFILES] },
  { group: 'kairos-trigger', topics: (c) => [c.TOPIC_BEHAVIOR_EVENTS] },
  { group: 'kairos-renderer', topics: (c) => [c.TOPIC_TRIGGERS] },
  { group: 'kairos-results', topics: (c) => [c.TOPIC_EMAIL_OUTCOMES, c.TOPIC_BEHAVIOR_EVENTS] },
];

/** The tracker marks a hit this soon after the email was rendered as a machine's (TRACKER_SUSPECT_WITHIN, default 30 s). */
const SUSPECT_WITHIN_MS = 30_000;
/** The day's transaction must end within this (the broker's transaction.max.timeout.ms is 15 min by default). */
const TRANSACTION_TIMEOUT_MS = 600_000;
/** A browser's user agent: the tracker counts the hits as a person's. */
const RECIPIENT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) KairosDemoRecipient/1.0';

const say = (line = '') => process.stdout.write(`${line}\n`);
const thousands = (n: number) => n.toLocaleString('en-US');

/** Ctrl-C: the phases stop at the next batch or email; a second Ctrl-C exits at once. */
class Interrupted extends Error {}
const stopping = new AbortController();
function checkStop(): void {
  if (stopping.signal.aborted) throw new Interrupted('interrupted');
}
async function pause(ms: number): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: stopping.signal });
  } catch {
    throw new Interrupted('interrupted');
  }
}

/** What this stack knows of the demo day (Redis, beside the services' state). */
interface DayState {
  seed: number;
  customers: number;
  events: number;
  /** The day's end: the same day is generated again from it. */
  now: number;
  /** When the day was published (in one transaction: all of it or nothing). */
  publishedAt: number | null;
  /** When the recipients finished; they act once per day. */
  engagedAt: number | null;
}

function parseDay(text: string | null, day: { seed: number; customers: number; events: number }): DayState | null {
  if (text === null) return null;
  try {
    const stored = JSON.parse(text) as Partial<DayState>;
    if (stored.seed !== day.seed || stored.customers !== day.customers || stored.events !== day.events) return null;
    if (typeof stored.publishedAt !== 'number') return null;
    // A day published by the earlier demo kept no `now`: it ended 30 minutes before it was
    // published (near enough for the heading; a published day is never generated again).
    const now = typeof stored.now === 'number' ? stored.now : stored.publishedAt - 30 * 60_000;
    return { ...day, now, publishedAt: stored.publishedAt, engagedAt: stored.engagedAt ?? null };
  } catch {
    return null;
  }
}

/**
 * Records still to be processed by `group` on `topics` (committed offsets vs the high
 * watermarks, from `endsOf`: a transaction a service committed a moment ago counts, its markers
 * written or not).
 */
async function lag(admin: Admin, endsOf: (topic: string) => Promise<PartitionEnds[]>, group: string, topics: string[]): Promise<number> {
  let total = 0;
  for (const topic of topics) {
    const [ends, committed] = await Promise.all([endsOf(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
    total += recordsBehind(ends, committed[0].partitions);
  }
  return total;
}

async function catchUp(kafka: Kafka, admin: Admin, config: Config, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const total = async () => {
    // Several groups read one topic (behavior.events): its ends are asked once per look.
    const ends = new Map<string, Promise<PartitionEnds[]>>();
    const endsOf = (topic: string) => ends.get(topic) ?? ends.set(topic, topicEnds(kafka, topic, admin)).get(topic)!;
    return (await Promise.all(GROUPS.map(({ group, topics }) => lag(admin, endsOf, group, topics(config))))).reduce((a, b) => a + b, 0);
  };
  let most = await total();
  const bar = progress(label, most);
  try {
    // Twice zero in a row: a service that just produced (a relay, a timer) shows up on the next look.
    for (let zeros = 0; zeros < 2; ) {
      checkStop();
      const left = await total();
      most = Math.max(most, left);
      bar.update(most - left, most);
      zeros = left === 0 ? zeros + 1 : 0;
      if (zeros >= 2) break;
      if (Date.now() > deadline) throw new Error(`the services did not catch up within ${timeoutMs / 1000} s (${left} records to go); see logs/*.log`);
      await pause(1000);
    }
  } finally {
    bar.stop();
  }
}

/** Every committed record of `topic`, decoded, read by a throw-away read_committed consumer. */
async function readTopic<T>(kafka: ReturnType<typeof createKafka>, codec: AvroCodec, topic: string, type: Parameters<AvroCodec['decode']>[1]): Promise<T[]> {
  const out: T[] = [];
  const groupId = `kairos-demo-report-${Date.now()}`;
  await readToEnd(kafka, topic, {
    groupId,
    timeoutMs: 120_000,
    onMessage: async (message) => {
      if (message.value) out.push(await codec.decode<T>(message.value, type));
    },
  });
  // The group was only a way to read; leave no empty group behind on the broker.
  await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  return out;
}

/** Sends `messages` in batches within `transaction`; stops between batches on Ctrl-C (the caller aborts). */
async function publish(transaction: Transaction, topic: string, messages: Array<{ key: string; value: Buffer }>, label: string): Promise<void> {
  const bar = progress(label, messages.length);
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      checkStop();
      await transaction.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
      bar.update(Math.min(i + 1000, messages.length));
    }
  } finally {
    bar.stop();
  }
}

async function getJson<T>(url: string, token: string | undefined, tokenVar: string): Promise<T> {
  const answer = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!answer.ok) {
    const hint = answer.status === 401 ? `: set ${tokenVar} to the service's HTTP_AUTH_TOKEN` : '';
    throw new Error(`${url} answered HTTP ${answer.status}${hint}`);
  }
  return (await answer.json()) as T;
}

interface StoredEmail {
  messageId: string;
  /** Seconds since the epoch. */
  at: number;
  body: { html?: string };
}

/** The simulated recipients: open, click and buy from the day's sent emails (once per day). */
async function engage(context: { config: Config; seed: number; redis: Redis | Cluster; engagedKey: string; producer: Producer; codec: AvroCodec; eventSchemaId: number }, sent: EmailOutcome[]): Promise<{ handled: number; opened: number; clicked: number; bought: number; missing: number }> {
  const { config, seed, redis } = context;
  const store = (await getJson<{ emails: StoredEmail[] }>(`${config.SES_STORE_URL}/store`, undefined, '')).emails;
  const byId = new Map(store.map((e) => [e.messageId, e]));
  const done = new Set(await redis.hkeys(context.engagedKey));
  const todo = sent.filter((o) => !done.has(o.trigger_id));
  const counts = { handled: todo.length, opened: 0, clicked: 0, bought: 0, missing: 0 };
  // Hits on a freshly rendered email count as a scanner's: wait until the newest is old enough.
  const newest = Math.max(0, ...todo.map((o) => (byId.get(o.ses_message_id ?? '')?.at ?? 0) * 1000));
  const wait = newest + SUSPECT_WITHIN_MS + 2000 - Date.now();
  if (wait > 0) {
    say(`  waiting ${Math.ceil(wait / 1000)} s: the tracker takes a hit within ${SUSPECT_WITHIN_MS / 1000} s of sending for a link scanner's`);
    await pause(wait);
  }
  const bar = progress('recipients', todo.length);
  const types = recordTypes();
  try {
    for (const [i, outcome] of todo.entries()) {
      checkStop();
      const email = byId.get(outcome.ses_message_id ?? '');
      if (email === undefined) counts.missing += 1;
      else {
        const links = trackerLinks(email.body.html ?? '');
        const plan = recipientPlan(seed, outcome.trigger_id, links);
        const hit = async (url: string) => {
          const answer = await fetch(url, { redirect: 'manual', headers: { 'user-agent': RECIPIENT_USER_AGENT } });
          await answer.arrayBuffer();
          if (answer.status >= 400) throw new Error(`the tracker answered HTTP ${answer.status} to ${new URL(url).pathname.slice(0, 3)}... (is it running? logs/tracker.log)`);
        };
        if (plan.open && links.open !== null) {
          await hit(links.open);
          counts.opened += 1;
        }
        if (plan.click !== null) {
          await hit(plan.click);
          counts.clicked += 1;
        }
        if (plan.buyCents !== null) {
          const purchase: BehaviorEvent = behaviorEvent({
            event_id: purchaseEventId(seed, outcome.trigger_id),
            customer_id: outcome.customer_id,
            type: 'purchase',
            occurred_at: Date.now(),
            order_id: `demo-${seed}-order-${outcome.trigger_id.slice(0, 12)}`,
            value_cents: plan.buyCents,
            currency: 'EUR',
          });
          await context.producer.send({ topic: config.TOPIC_BEHAVIOR_EVENTS, acks: -1, messages: [{ key: purchase.customer_id, value: context.codec.encode(context.eventSchemaId, types.BehaviorEvent, purchase) }] });
          counts.bought += 1;
        }
      }
      await redis.hset(context.engagedKey, outcome.trigger_id, '1');
      bar.update(i + 1);
    }
  } finally {
    bar.stop();
  }
  return counts;
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Columns before `firstRight` left-aligned, the rest right-aligned; two spaces of indent. */
function table(header: string[], rows: string[][], firstRight = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i < firstRight ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()}`;
  return [line(header), ...rows.map(line)];
}

const STATUSES = ['sent', 'deferred', 'skipped', 'suppressed', 'failed'] as const;

async function summary(context: { config: Config; kafka: ReturnType<typeof createKafka>; codec: AvroCodec }): Promise<void> {
  const { config, kafka, codec } = context;
  const types = recordTypes();
  checkStop();
  const events = await readTopic<BehaviorEvent>(kafka, codec, config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent);
  say(`\nEvents on ${config.TOPIC_BEHAVIOR_EVENTS}: ${thousands(events.length)}`);
  const byType = [...countBy(events, (e) => e.type)].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  say(`  ${byType.map(([t, n]) => `${t} ${thousands(n)}`).join(', ')}`);

  checkStop();
  const segments = await getJson<{ segments: Array<{ name: string; size: number }> }>(`${config.SEGMENTER_URL}/segments`, config.SEGMENTER_AUTH_TOKEN, 'SEGMENTER_AUTH_TOKEN');
  say('\nSegments now (members):');
  for (const s of segments.segments) say(`  ${s.name.padEnd(20)} ${String(s.size).padStart(6)}`);

  checkStop();
  const triggers = await readTopic<TriggerFired>(kafka, codec, config.TOPIC_TRIGGERS, types.TriggerFired);
  say(`\nTriggers fired (${thousands(triggers.length)}), by rule:`);
  for (const [rule, n] of [...countBy(triggers, (t) => t.rule)].sort((a, b) => a[0].localeCompare(b[0]))) say(`  ${rule.padEnd(28)} ${String(n).padStart(6)}`);

  checkStop();
  const outcomes = await readTopic<EmailOutcome>(kafka, codec, config.TOPIC_EMAIL_OUTCOMES, types.EmailOutcome);
  // A deferred email gets a second outcome when it goes: each trigger's latest counts.
  const latest = new Map<string, EmailOutcome>();
  for (const o of outcomes) latest.set(o.trigger_id, o);
  const final = [...latest.values()];
  say(`\nEmails, by campaign and outcome (each trigger's latest of ${thousands(outcomes.length)} outcomes):`);
  const campaigns = [...new Set(final.map((o) => o.campaign ?? '(none chosen)'))].sort();
  const cell = countBy(final, (o) => `${o.campaign ?? '(none chosen)'}\0${o.status}`);
  for (const line of table(['campaign', ...STATUSES], campaigns.map((c) => [c, ...STATUSES.map((s) => String(cell.get(`${c}\0${s}`) ?? '-'))]))) say(line);
  // Reasons carry details (times, campaigns); their first word is the kind.
  const reasons = [...countBy(final.filter((o) => o.status !== 'sent'), (o) => `${o.status}: ${(o.reason ?? '').split(/[:\s]/)[0]}`)].sort((a, b) => a[0].localeCompare(b[0]));
  if (reasons.length > 0) say(`  why not sent: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`);
  say(`  sent mail: ${config.SES_STORE_URL} (raw: ${config.SES_STORE_URL}/store)`);

  checkStop();
  const listing = await getJson<{ campaigns: Array<{ campaign: string; experiments: Array<{ id: string; name: string }> }> }>(`${config.RESULTS_URL}/results/campaigns`, config.RESULTS_AUTH_TOKEN, 'RESULTS_AUTH_TOKEN');
  const experiments = listing.campaigns.flatMap((c) => c.experiments.filter((e) => e.id !== '-').map((e) => ({ campaign: c.campaign, id: e.id })));
  say(`\nExperiments (${config.RESULTS_URL}/results/campaigns; \`npm run results -- --campaign NAME\` for every figure):`);
  if (experiments.length === 0) say('  none configured (config/campaigns.yaml, docs/experiments.md)');
  for (const { campaign, id } of experiments) {
    checkStop();
    const url = `${config.RESULTS_URL}/results/campaigns/${encodeURIComponent(campaign)}?experiment=${encodeURIComponent(id)}`;
    const body = await getJson<{ experiments: Array<{ id: string; report: ExperimentReport }> }>(url, config.RESULTS_AUTH_TOKEN, 'RESULTS_AUTH_TOKEN');
    const report = body.experiments[0]?.report;
    if (report === undefined) continue;
    say(`  ${id}`);
    const rows = report.arms.map((a) => [a.name, String(a.counters.sent), String(a.counters.opened), String(a.counters.clicked), String(a.counters.converted), (a.counters.revenue / 100).toFixed(2)]);
    for (const line of table(['arm', 'sent', 'opened', 'clicked', 'converted', 'revenue'], rows)) say(`  ${line}`);
    const { headline, holdout } = experimentVerdict(report);
    for (const line of [headline, holdout]) if (line !== null) say(`    => ${line}`);
  }
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
  const day = { seed: Number(values.seed), customers: Number(values.customers), events: Number(values.events) };
  for (const [name, value] of Object.entries(day)) {
    if (!Number.isSafeInteger(value) || value < (name === 'seed' ? 0 : 1)) throw new Error(`--${name}: expected a whole number${name === 'seed' ? '' : ' above 0'}, got ${JSON.stringify(values[name as keyof typeof values])}`);
  }
  const timeoutMs = Number(values['timeout-s']) * 1000;
  const logger = createLogger({ service: 'demo', level: 'warn' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-demo', logger });
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const admin = kafka.admin();
  const producer = createIdempotentProducer(kafka);
  const redis = createRedis(config, { connectionName: 'kairos-demo' });
  const dayKey = `{${config.REDIS_KEY_PREFIX}:demo}:day`;
  const engagedKey = `{${config.REDIS_KEY_PREFIX}:demo}:engaged`;
  try {
    await admin.connect();
    await producer.connect();
    const published = (await admin.fetchTopicOffsets(config.TOPIC_BEHAVIOR_EVENTS)).reduce((sum, p) => sum + Number(p.high), 0);
    let state = parseDay(await redis.get(dayKey), day);
    // State that outlived its topics (recreated by hand) describes a log that is gone.
    if (state !== null && published < day.events) state = null;
    if (state === null) await redis.del(engagedKey);
    // Ends 30 minutes ago, so every 15-minute cart wait is over by the time it is read: two runs
    // report the same firings, however long the services take.
    const current: DayState = state ?? { ...day, now: Date.now() - 30 * 60_000, publishedAt: null, engagedAt: null };
    const save = () => redis.set(dayKey, JSON.stringify(current));
    const shop = syntheticShop({ customers: day.customers, events: day.events, now: current.now, seed: day.seed });
    say(`Kairos demo: ${shop.profiles.length} customers, ${thousands(shop.events.length)} events over the 24 hours before ${new Date(current.now).toISOString()} (seed ${day.seed})`);

    if (current.publishedAt !== null) {
      say(`\n1. The shop's day: already published by an earlier run (${new Date(current.publishedAt).toISOString()}); nothing is published again.`);
    } else {
      say('\n1. The shop\'s day, published to Kafka in one transaction');
      const profileId = await codec.idOf(valueSubject(config.TOPIC_CUSTOMER_PROFILES), readSchema('CustomerProfile'));
      const eventId = await codec.idOf(valueSubject(config.TOPIC_BEHAVIOR_EVENTS), readSchema('BehaviorEvent'));
      // One transaction: the services (read_committed) see the whole day at once, never half of
      // it. Read while it was still being published, a caught-up trigger service would fire cart
      // timers by its clock that a purchase further down the day cancels, and two fresh runs
      // would differ. Ctrl-C aborts it: nothing of the day is left for the next run to trip on.
      const transactional = kafka.producer({
        transactionalId: `kairos-demo-${config.REDIS_KEY_PREFIX}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: TRANSACTION_TIMEOUT_MS,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // As createIdempotentProducer: giving up mid-sequence could reorder or lose records.
        retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
      });
      await transactional.connect();
      try {
        const transaction = await transactional.transaction();
        try {
          await publish(transaction, config.TOPIC_CUSTOMER_PROFILES, shop.profiles.map((p) => ({ key: p.customer_id, value: codec.encode(profileId, types.CustomerProfile, p) })), 'profiles');
          await publish(transaction, config.TOPIC_BEHAVIOR_EVENTS, shop.events.map((e) => ({ key: e.customer_id, value: codec.encode(eventId, types.BehaviorEvent, e) })), 'events');
          checkStop();
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      } finally {
        await transactional.disconnect();
      }
      current.publishedAt = Date.now();
      await save();
    }

    say('\n2. The services at work (segmenter, trigger, renderer, results):');
    await catchUp(kafka, admin, config, timeoutMs, 'records processed');

    if (current.engagedAt !== null) {
      say(`\n3. Recipients: they already read their email in an earlier run (${new Date(current.engagedAt).toISOString()}); they act once per day.`);
    } else {
      say('\n3. Recipients open, click and buy (real requests to the tracker\'s signed links; purchases to behavior.events):');
      const outcomes = await readTopic<EmailOutcome>(kafka, codec, config.TOPIC_EMAIL_OUTCOMES, types.EmailOutcome);
      const sent = outcomes.filter((o) => o.status === 'sent' && o.ses_message_id !== null).sort((a, b) => a.trigger_id.localeCompare(b.trigger_id));
      const eventSchemaId = await codec.idOf(valueSubject(config.TOPIC_BEHAVIOR_EVENTS), readSchema('BehaviorEvent'));
      const counts = await engage({ config, seed: day.seed, redis, engagedKey, producer, codec, eventSchemaId }, sent);
      current.engagedAt = Date.now();
      await save();
      const earlier = sent.length - counts.handled;
      say(`  of ${counts.handled} sent emails${earlier > 0 ? ` (and ${earlier} handled by an interrupted run)` : ''}: ${counts.opened} opened, ${counts.clicked} clicked, ${counts.bought} led to a purchase${counts.missing > 0 ? ` (${counts.missing} not found in the SES store)` : ''}`);
      say('\n4. The services take in the engagement:');
      await catchUp(kafka, admin, config, timeoutMs, 'records processed');
    }

    say('\n== Summary');
    await summary({ config, kafka, codec });
    say(`\nThe console: ${config.CONSOLE_URL.replace(/\/?$/, '/')}`);
    say('The stack and services keep running: `make stop && make down` ends them. Logs in logs/.');
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    redis.disconnect();
  }
}

if (require.main === module) {
  process.on('SIGINT', () => {
    if (stopping.signal.aborted) process.exit(130);
    stopping.abort();
  });
  void runMain('demo', async () => {
    try {
      await demo(process.argv.slice(2));
    } catch (error) {
      if (!(error instanceof Interrupted)) throw error;
      process.stdout.write('\n');
      process.stderr.write('demo: interrupted (Ctrl-C); an unfinished day was not published, finished steps are kept: run it again to carry on.\n');
      process.exitCode = 130;
    }
  });
}
