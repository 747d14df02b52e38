/**
 * Issue 14, short form: the segmenter and the trigger, spawned from dist/ as in production, read
 * valid shop traffic of a few dozen customers interleaved with ~300 hostile records of every
 * category (bench/chaos/hostile.ts), many aimed at those same customers. Then:
 *
 * - neither service exits;
 * - every record labelled 'dlq' is in the topic's DLQ once per service, with its reason and
 *   message, and nothing else is (no valid record, no accepted hostile one);
 * - the accepted ones are applied as documented: the segmenter's memberships and the trigger's
 *   firings are those of the pure core folded over the valid events and the accepted hostile
 *   records, in log order; so a customer given a year-3000 event still has its later valid
 *   events applied (its stream time was not moved to the year 3000);
 * - Redis under the run's prefix stays small: no key holds a 10 KB id, no value a 1 MB string.
 *
 * The valid events are one to three days old (as in the crash-recovery tests): every absence
 * wait is over when its event arrives, and no window edge is near the clock, so the minutes
 * between the reference's clock and the services' change nothing.
 */
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { KafkaMessage, Message } from 'kafkajs';
import { hostileRecords, interleave, type HostileRecord } from '../../../bench/chaos/hostile';
import { applyEvent, applyProfile, memberships, parseSegmentState, type SegmentState } from '../../../services/core/segments';
import type { BehaviorEvent, CustomerProfile, TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { PartitionKeys } from '../../../services/kit/partition-state';
import { partitionOf } from '../../../services/kit/partitioner';
import { createRedis } from '../../../services/kit/redis';
import { loadSegmentDefinitions } from '../../../services/segmenter/main';
import { loadTriggerRules } from '../../../services/trigger/main';
import { shopTraffic } from '../../../services/tools/synthetic';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { referenceTriggers } from '../../support/trigger-reference';
import { collect, connectedProducer, exited, readAll, REDIS_URL, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';

const PARTITIONS = 3;
const HOSTILE = 300;
const DAY = 24 * 3600_000;
const SERVICES = ['segmenter', 'trigger'] as const;
type Service = (typeof SERVICES)[number];
/** Bounds for the prefix's Redis footprint (measured: see the printed line). */
const MAX_KEY_BYTES = 512;
const MAX_TOTAL_BYTES = 2 * 1024 * 1024;

jest.setTimeout(150_000);

const fingerprint = (topic: string, key: Buffer | null, value: Buffer | null) =>
  createHash('sha256')
    .update(topic)
    .update(key === null ? 'null-key' : `k${key.toString('hex')}`)
    .update(value === null ? 'null-value' : `v${value.toString('hex')}`)
    .digest('hex');

describe('hostile records interleaved with valid traffic (segmenter and trigger from dist/)', () => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  let pipeline: TestPipeline;
  const children = new Map<Service, { child: ChildProcess; logs: () => string }>();

  beforeAll(async () => {
    pipeline = await createTestPipeline('hostile', PARTITIONS);
  });
  afterAll(async () => {
    for (const { child } of children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited(child);
    }
    await pipeline?.close();
  });

  function start(service: Service): void {
    const child = spawnNode(`services/${service}/main.js`, [], {
      ...pipeline.env,
      // Two services, two groups (the env's GROUP_ID is the pipeline's one).
      GROUP_ID: `${pipeline.env.GROUP_ID}-${service}`,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      TIMER_INTERVAL_MS: '200',
    });
    const logs = collect(child.stderr);
    const out = collect(child.stdout);
    children.set(service, { child, logs: () => `${out.text().slice(-2000)}${logs.text().slice(-2000)}` });
  }

  function running(): true {
    for (const [service, { child, logs }] of children) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the ${service} exited (${child.exitCode ?? child.signalCode}): ${logs()}`);
    }
    return true;
  }

  it(`dead-letters or applies every hostile record as documented, and none disturbs the valid traffic (seed printed)`, async () => {
    const now = Date.now();
    const valid = shopTraffic({ total: 3000, customers: 30, products: 40, seed, from: now - 3 * DAY, to: now - DAY, run: `h${seed}` });
    const customerIds = [...new Set(valid.map((e) => e.customer_id))].sort();
    const eventsSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.events), readSchema('BehaviorEvent'));
    const profilesSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.profiles), readSchema('CustomerProfile'));
    const hostile = hostileRecords(seed, HOSTILE, { eventsSchemaId, profilesSchemaId, now: now - 2 * DAY, customerIds });
    const merged = interleave(valid, hostile, seed);
    const types = recordTypes();

    // The log as the services will read it: topic, key, value, and what each record is.
    interface Produced {
      topic: 'events' | 'profiles';
      key: Buffer | null;
      value: Buffer | null;
      hostile?: HostileRecord;
      event?: BehaviorEvent;
    }
    const log: Produced[] = merged.map((item) => {
      if ('valid' in item) {
        const e = item.valid;
        return { topic: 'events', key: Buffer.from(e.customer_id), value: pipeline.codec.encode(eventsSchemaId, types.BehaviorEvent, e), event: e };
      }
      return { topic: item.hostile.topic, key: item.hostile.key, value: item.hostile.value, hostile: item.hostile };
    });

    // Produced in log order, all of it before the services start: the reference is what a run
    // over the whole log fires. Started first, a service caught up between two chunks fires a
    // cart timer by the clock (these events are days old) that a later chunk's purchase would
    // have cancelled. A record near 1 MB goes alone (Kafka's size limit is per record batch).
    const producer = await connectedProducer();
    try {
      let chunk: Produced[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        const topicMessages = (['events', 'profiles'] as const)
          .map((topic) => ({ topic: pipeline.topics[topic], messages: chunk.filter((p) => p.topic === topic).map((p): Message => ({ key: p.key, value: p.value })) }))
          .filter((t) => t.messages.length > 0);
        await producer.sendBatch({ topicMessages, acks: -1 });
        chunk = [];
      };
      for (const record of log) {
        const big = (record.value?.length ?? 0) > 100_000;
        if (big) await flush();
        chunk.push(record);
        if (big || chunk.length >= 500) await flush();
      }
      await flush();
    } finally {
      await producer.disconnect();
    }
    start('segmenter');
    start('trigger');

    for (const service of SERVICES) {
      for (const topic of [pipeline.topics.events, pipeline.topics.profiles]) {
        await waitFor(`the ${service} to commit all of ${topic}`, async () => running() && (await waitCaughtUp(`${pipeline.env.GROUP_ID}-${service}`, topic, 1000).then(() => true, () => false)), 90_000);
      }
    }

    // --- Dead letters: exactly the 'dlq' records, once per service, with their reason and message.
    const expectedDead = new Map<string, HostileRecord[]>();
    for (const record of log) {
      if (record.hostile?.expect !== 'dlq') continue;
      const id = fingerprint(record.topic, record.key, record.value);
      expectedDead.set(id, [...(expectedDead.get(id) ?? []), record.hostile]);
    }
    const dead: Array<KafkaMessage & { topic: 'events' | 'profiles' }> = [];
    for (const topic of ['events', 'profiles'] as const) {
      for (const message of await readAll(dlqTopic(pipeline.topics[topic]), 60_000)) dead.push({ ...message, topic });
    }
    const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString() ?? '';
    for (const service of SERVICES) {
      const mine = dead.filter((m) => header(m, DLQ_HEADERS.service) === service);
      const problems: string[] = [];
      const seen = new Map<string, number>();
      for (const m of mine) {
        const id = fingerprint(m.topic, m.key, m.value);
        const n = seen.get(id) ?? 0;
        seen.set(id, n + 1);
        const expected = expectedDead.get(id)?.[n];
        const what = `${service}: ${m.topic} dead letter (reason ${header(m, DLQ_HEADERS.reason)}: ${header(m, DLQ_HEADERS.exceptionMessage).slice(0, 160)})`;
        if (!expected) {
          problems.push(`${what} was not expected`);
          continue;
        }
        if (!header(m, DLQ_HEADERS.reason).includes(expected.reason!)) problems.push(`${what}: expected reason ${expected.reason} (${expected.category})`);
        if (expected.detail !== undefined && !header(m, DLQ_HEADERS.exceptionMessage).includes(expected.detail)) problems.push(`${what}: expected a message with "${expected.detail}"`);
      }
      for (const [id, records] of expectedDead) {
        if ((seen.get(id) ?? 0) < records.length) problems.push(`${service}: ${records[0].category} record (${records[0].topic}, reason ${records[0].reason}) not dead-lettered`);
      }
      expect(problems).toEqual([]);
    }

    // --- The accepted records, as the pure core applies them in log order.
    const accepted = log.flatMap((record) => {
      if (record.event) return [{ topic: 'events' as const, value: record.event as BehaviorEvent | CustomerProfile }];
      if (record.hostile?.expect !== 'accepted') return [];
      const type = record.topic === 'events' ? types.BehaviorEvent : types.CustomerProfile;
      return [{ topic: record.topic, value: type.fromBuffer(record.value!.subarray(5)) as BehaviorEvent | CustomerProfile }];
    });
    const acceptedEvents = accepted.filter((a) => a.topic === 'events').map((a) => a.value as BehaviorEvent);
    const acceptedProfiles = accepted.filter((a) => a.topic === 'profiles').map((a) => a.value as CustomerProfile);

    // Segmenter: events in log order, then profiles (memberships do not depend on how the two
    // topics interleave: a profile is the newest by updated_at, events are placed by time).
    const definitions = loadSegmentDefinitions('config/segments.yaml');
    const reference = new Map<string, SegmentState | null>();
    for (const event of acceptedEvents) {
      const result = applyEvent(reference.get(event.customer_id) ?? null, event, definitions, now);
      if (result.ignored === null) reference.set(event.customer_id, result.state);
    }
    for (const profile of acceptedProfiles) {
      const result = applyProfile(reference.get(profile.customer_id) ?? null, profile, definitions, now);
      if (result.ignored === null) reference.set(profile.customer_id, result.state);
    }
    const keys = new PartitionKeys(pipeline.prefix, 'segmenter');
    const redis = createRedis({ REDIS_URL });
    try {
      const mismatched: string[] = [];
      for (const [customer, state] of reference) {
        const stored = parseSegmentState(await redis.getBuffer(keys.customer(partitionOf(customer, PARTITIONS), customer)));
        if (JSON.stringify(memberships(stored)) !== JSON.stringify(memberships(state))) {
          mismatched.push(`${JSON.stringify(customer)}: stored ${JSON.stringify(memberships(stored))}, expected ${JSON.stringify(memberships(state))}`);
        }
      }
      expect(mismatched).toEqual([]);
      expect([...reference.values()].filter((s) => memberships(s).length > 0).length).toBeGreaterThan(5);

      // Trigger: the reference over the accepted events in log order; the clock is past every wait.
      const rules = loadTriggerRules('config/triggers.yaml');
      const expected = referenceTriggers(acceptedEvents, rules, { partitions: PARTITIONS, now, endDueBy: 'clock' });
      expect(expected.size).toBeGreaterThan(10);
      const fired = await waitFor(
        `the ${expected.size} expected firings`,
        async () => {
          running();
          const all = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => !t.rule.startsWith('segment:'));
          return new Set(all.map((t) => t.trigger_id)).size >= expected.size ? all : undefined;
        },
        30_000,
      );
      const firedIds = new Set(fired.map((t) => t.trigger_id));
      expect([...expected.keys()].filter((id) => !firedIds.has(id))).toEqual([]);
      expect([...firedIds].filter((id) => !expected.has(id))).toEqual([]);

      // The customers given a year-3000 record, with valid events after it: applied, as above.
      const future = new Set(log.filter((r) => r.hostile?.category === 'timestamp_3000').map((r) => r.hostile!.customerId!));
      const lastValid = new Map<string, number>();
      log.forEach((r, index) => r.event && lastValid.set(r.event.customer_id, index));
      const laterValid = customerIds.filter((c) => future.has(c) && log.findIndex((r) => r.hostile?.category === 'timestamp_3000' && r.hostile.customerId === c) < (lastValid.get(c) ?? -1));
      expect(laterValid.length).toBeGreaterThan(3);
      const firedForThem = fired.filter((t) => laterValid.includes(t.customer_id)).length;

      // --- Redis: no key of a 10 KB id, nothing near 1 MB stored, a footprint bounded by the customers.
      const all = await pipeline.redisKeys();
      const longest = Math.max(...all.map((k) => Buffer.byteLength(k)));
      let total = 0;
      let largest = 0;
      for (const key of all) {
        const bytes = Number(await redis.call('MEMORY', 'USAGE', key)) || 0;
        total += bytes;
        largest = Math.max(largest, bytes);
      }
      expect(all.filter((k) => k.includes('hostile-long') || k.includes('hostile-huge'))).toEqual([]);
      expect(longest).toBeLessThanOrEqual(MAX_KEY_BYTES);
      expect(total).toBeLessThanOrEqual(MAX_TOTAL_BYTES);
      const stateCustomers = new Set([...reference.keys()]).size;
      console.log(
        `hostile-handling (seed ${seed}): ${valid.length} valid + ${hostile.length} hostile records (${hostile.filter((h) => h.expect === 'dlq').length} dlq), ` +
          `${dead.length} dead letters, ${expected.size} firings (${firedForThem} for ${laterValid.length} customers with a year-3000 record and later events), ` +
          `${stateCustomers} customers in the reference; Redis: ${all.length} keys, longest ${longest} B, ${total} B in all, largest ${largest} B`,
      );
    } finally {
      redis.disconnect();
    }
    running();
  });
});
