/**
 * Resets, rebuilds or wipes the services' Redis state, so a log can be replayed into a fresh state.
 *
 *   node dist/services/tools/state.js reset --service trigger --partitions 0,3   # or --partitions all
 *   node dist/services/tools/state.js rebuild --service segmenter                # after Redis lost the state
 *   node dist/services/tools/state.js wipe                                       # every key under REDIS_KEY_PREFIX
 *
 * `reset` is what an operator runs after a service stopped a partition because its state does
 * not match its log (a recreated topic, another cluster, a truncated log; docs/operations.md):
 * with the service stopped, it deletes the chosen partitions' keys of that service and moves the
 * service's consumer group back to the start of those partitions of each input topic, so the
 * next start replays them into a fresh state. It refuses while the group has running members.
 *
 * `rebuild` is for a Redis that lost the state while Kafka kept the logs (see rebuild and
 * rebuildRenderer): the replay gives the same state without producing again what reached Kafka.
 *
 * `wipe` deletes every key under `{<REDIS_KEY_PREFIX>:` (all services, sends ledger included)
 * and nothing else in that Redis; `make down`, which also wipes the local broker, runs it.
 */
import { parseArgs } from 'node:util';
import type { Admin, Kafka } from 'kafkajs';
import { commonShape, durationVar, GROUP_ID_EXPECTED, GROUP_ID_PATTERN, groupIdVar, loadConfig, runMain } from '../kit/config';
import { createKafka, withAdmin } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { PartitionKeys } from '../kit/partition-state';
import { incarnationOf } from '../kit/log-binding';
import { checkpointCoverOf, checkpointGroupOf, type RelayCover } from '../kit/outbox-relay';
import { createRedis, type RedisClient } from '../kit/redis';
import { deleteKeysMatching, globEscape } from '../kit/redis-scan';
import { randomUUID } from 'node:crypto';
import { AvroCodec, recordTypes } from '../kit/codec';
import { decodeRecord, DEFAULT_MAX_CLOCK_SKEW_MS, type AnyTopicBinding, type ConsumedRecord, type TopicBinding } from '../kit/consumer-runner';
import { behaviorEventsInput, customerProfilesInput, emailOutcomesInput } from '../kit/inputs';
import { readToEnd } from '../kit/kafka';
import { partitionOf } from '../kit/partitioner';
import { PoisonRecordError } from '../kit/poison';
import type { BehaviorEvent, CustomerProfile, EmailOutcome } from '../core/types';
import { rendererShape } from '../renderer/config';
import { RendererKeys } from '../renderer/keys';
import { RendererStore } from '../renderer/store';

const shape = { ...commonShape, GROUP_ID: groupIdVar().optional(), LEDGER_TTL: rendererShape.LEDGER_TTL, MAX_CLOCK_SKEW: durationVar().default(DEFAULT_MAX_CLOCK_SKEW_MS) };
type StateConfig = ReturnType<typeof loadConfig<typeof shape>>;

/** The services whose state is per input partition, with their input topics. */
const SERVICES: Record<string, (config: StateConfig) => string[]> = {
  segmenter: (c) => [c.TOPIC_BEHAVIOR_EVENTS, c.TOPIC_CUSTOMER_PROFILES],
  trigger: (c) => [c.TOPIC_BEHAVIOR_EVENTS, c.TOPIC_CUSTOMER_PROFILES],
  recommender: (c) => [c.TOPIC_BEHAVIOR_EVENTS],
  results: (c) => [c.TOPIC_EMAIL_OUTCOMES, c.TOPIC_BEHAVIOR_EVENTS],
};
/** Services with state shared by all partitions (the recommender's aggregates): reset whole only. */
const WHOLE_ONLY = new Set(['recommender']);
/** Services whose outputs go to Kafka: a rebuild replays without producing them again (restore bounds). */
const KAFKA_OUTPUTS = new Set(['segmenter', 'trigger']);

const USAGE =
  'usage: state reset   --service segmenter|trigger|recommender|results --partitions N[,N...]|all [--group GROUP_ID]\n' +
  '       state rebuild --service segmenter|trigger|recommender|results|renderer [--group GROUP_ID]   (after the state was lost)\n' +
  '       state wipe    (deletes every key under REDIS_KEY_PREFIX)';

/** Thrown for a bad command line; runMain prints the message. */
class UsageError extends Error {}

/** "0,3,5" or "all" (every partition of `count`) -> sorted partition numbers. */
export function parsePartitions(text: string, count: number): number[] {
  if (text === 'all') return Array.from({ length: count }, (_, p) => p);
  const partitions = text.split(',').map((part) => part.trim());
  const bad = partitions.find((part) => !/^\d+$/.test(part) || Number(part) >= count);
  if (bad !== undefined) throw new UsageError(`--partitions: ${JSON.stringify(bad)} is not a partition of this topic (0..${count - 1}); expected e.g. 0,3 or all`);
  return [...new Set(partitions.map(Number))].sort((a, b) => a - b);
}

/** `--group`, when given: a consumer group id as the services take it (GROUP_ID). */
export function checkedGroup(group: string | undefined): string | undefined {
  if (group !== undefined && !GROUP_ID_PATTERN.test(group)) throw new UsageError(`--group: ${JSON.stringify(group.slice(0, 300))} is not a consumer group id; expected ${GROUP_ID_EXPECTED}`);
  return group;
}

async function assertGroupStopped(admin: Admin, groupId: string): Promise<void> {
  const { groups } = await admin.describeGroups([groupId]);
  const members = groups[0]?.members.length ?? 0;
  // A group in a rebalance (a member joining or leaving) can list no member for a moment.
  const state = groups[0]?.state ?? 'Dead';
  if (members > 0 || (state !== 'Empty' && state !== 'Dead')) {
    throw new UsageError(`the consumer group ${groupId} has ${members} running member(s); stop the service first (make stop), then run this again (group state: ${state})`);
  }
}

/** Runs `fn` with Kafka (an admin) and Redis clients once `groupId` has no running member. */
async function withStoppedGroup(config: StateConfig, groupId: string, fn: (clients: { kafka: Kafka; admin: Admin; redis: RedisClient }) => Promise<void>): Promise<void> {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-state', logger: createLogger({ service: 'state', level: 'warn' }) });
  const redis = createRedis(config, { connectionName: 'kairos-state' });
  try {
    await withAdmin(kafka, async (admin) => {
      await assertGroupStopped(admin, groupId);
      await fn({ kafka, admin, redis });
    });
  } finally {
    redis.disconnect();
  }
}

async function reset(config: StateConfig, service: string, partitionsArg: string, group: string | undefined): Promise<void> {
  const inputs = SERVICES[service];
  if (inputs === undefined) throw new UsageError(`--service: ${JSON.stringify(service)} keeps no per-partition state; expected one of ${Object.keys(SERVICES).join(', ')}`);
  if (WHOLE_ONLY.has(service) && partitionsArg !== 'all') {
    throw new UsageError(`--partitions: the ${service}'s aggregates span every partition; reset it whole with --partitions all`);
  }
  const groupId = group ?? config.GROUP_ID ?? `kairos-${service}`;
  const topics = inputs(config);
  await withStoppedGroup(config, groupId, async ({ admin, redis }) => {
    const ranges = await admin.fetchTopicOffsets(topics[0]);
    const partitions = parsePartitions(partitionsArg, ranges.length);
    const keys = new PartitionKeys(config.REDIS_KEY_PREFIX, service);
    let deleted = 0;
    if (WHOLE_ONLY.has(service)) deleted = await deleteKeysMatching(redis, keys.pattern());
    else {
      for (const [i, partition] of partitions.entries()) {
        deleted += await deleteKeysMatching(redis, keys.partitionPattern(partition));
        process.stdout.write(`\r  deleting ${service} state: partition ${i + 1}/${partitions.length}, ${deleted} keys`);
      }
      process.stdout.write('\n');
    }
    for (const topic of topics) {
      const lows = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.low]));
      const offsets = partitions.filter((p) => lows.has(p)).map((partition) => ({ partition, offset: lows.get(partition) as string }));
      await admin.setOffsets({ groupId, topic, partitions: offsets });
      process.stdout.write(`  ${groupId} on ${topic}: partitions ${partitions.join(',')} start again at the log start\n`);
    }
    process.stdout.write(`Reset ${service} partitions ${partitions.join(',')}: ${deleted} keys deleted; the next start replays them.\n`);
  });
}

/**
 * After the service's Redis state was lost (a flushed or replaced Redis): deletes what is left
 * of it and replays every partition from the log start. Where the outputs go to Kafka
 * (segmenter, trigger), each partition's fence gets a restore bound per input topic: the offset
 * the group had committed or, when further, one past the last offset whose outputs the relay's
 * last transaction recorded as in Kafka (its checkpoint's cover: a batch ended by a rebalance
 * after its outputs were relayed is not committed). The replay below it rebuilds the state
 * without producing again what reached Kafka before the loss (PartitionProcessor); the cover's
 * timer watermark (`rt`) makes the timers the clock had fired fire again without output.
 * Elsewhere (recommender, results: outputs in Redis) it is a reset of every partition. The
 * renderer has its own (rebuildRenderer).
 */
async function rebuild(config: StateConfig, service: string, group: string | undefined): Promise<void> {
  if (service === 'renderer') return rebuildRenderer(config, group);
  const inputs = SERVICES[service];
  if (inputs === undefined) throw new UsageError(`--service: ${JSON.stringify(service)} keeps no state to rebuild; expected one of ${[...Object.keys(SERVICES), 'renderer'].join(', ')}`);
  if (!KAFKA_OUTPUTS.has(service)) return reset(config, service, 'all', group);
  const groupId = group ?? config.GROUP_ID ?? `kairos-${service}`;
  const topics = inputs(config);
  await withStoppedGroup(config, groupId, async ({ admin, redis }) => {
    const keys = new PartitionKeys(config.REDIS_KEY_PREFIX, service);
    const bounds = new Map<number, Array<[string, string]>>();
    const starts = new Map<string, Array<{ partition: number; offset: string }>>();
    const [relayed] = await admin.fetchOffsets({ groupId: checkpointGroupOf(groupId), topics: [topics[0] as string] });
    const covers = coversOf(relayed?.partitions ?? []);
    const past: string[] = [];
    for (const [i, topic] of topics.entries()) {
      const ranges = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const { partition, offset, covered, timersThrough } of restoreBounds(topic, ranges, committed?.partitions ?? [], covers)) {
        const fields = [...(bounds.get(partition) ?? []), [`r:${topic}`, offset] as [string, string]];
        // The timer watermark goes with the first input's bound (the timer topic's).
        if (i === 0 && timersThrough !== null) fields.push(['rt', String(timersThrough)]);
        bounds.set(partition, fields);
        if (covered) past.push(`${topic}[${partition}]`);
      }
      starts.set(topic, ranges.map((p) => ({ partition: p.partition, offset: p.low })));
    }
    const deleted = await deleteKeysMatching(redis, keys.pattern());
    for (const [partition, fields] of bounds) await redis.hset(keys.fence(partition), Object.fromEntries(fields));
    for (const [topic, partitions] of starts) await admin.setOffsets({ groupId, topic, partitions });
    const summary = [...bounds]
      .sort(([a], [b]) => a - b)
      .map(([p, fields]) => `${p}: ${fields.map(([f, o]) => (f === 'rt' ? `timers due by ${new Date(Number(o)).toISOString()}` : `${f.slice(2)}@${o}`)).join(' ')}`);
    process.stdout.write(
      `Rebuild of ${service}: ${deleted} keys deleted; every partition replays from the log start, state only up to where its outputs in Kafka reached:\n` +
        (summary.length > 0 ? summary.map((line) => `  ${line}\n`).join('') : '  (the group had committed nothing: a plain replay)\n') +
        (past.length > 0 ? `  past ${groupId}'s commit, from the relay's last transaction: ${past.join(', ')}\n` : '') +
        'Start the service again; it produces records only past those offsets.\n',
    );
  });
}

/**
 * The renderer keeps no offsets in its state (its triggers offsets stay where they are: no
 * trigger is handled twice), so its rebuild reads what its state was made of back into Redis:
 * every profile (customer.profiles), every unsubscribe and resubscribe (behavior.events), and
 * the send ledger with the customers' recent sends from its own email.outcomes. Records are
 * read with the renderer's own checks (what it dead-lettered stays out). Not restored: a
 * `deferred` send still waiting for its quiet hours to end (counted and printed), the
 * address-level suppression list of bounces and complaints (SES's account-level suppression
 * list still holds those addresses) and campaign pauses (set them again).
 */
async function rebuildRenderer(config: StateConfig, group: string | undefined): Promise<void> {
  const groupId = group ?? config.GROUP_ID ?? 'kairos-renderer';
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const keys = new RendererKeys(config.REDIS_KEY_PREFIX);
  const counts = { profiles: 0, erased: 0, optOuts: 0, outcomes: 0, deferred: 0, refused: 0 };
  await withStoppedGroup(config, groupId, async ({ kafka, admin, redis }) => {
    const store = new RendererStore(redis, keys, config.LEDGER_TTL);
    /** Reads `topic` to its end through `binding`; records the renderer refused are counted and left out. */
    const readAll = async (topic: string, binding: AnyTopicBinding, apply: (record: ConsumedRecord<unknown>) => Promise<void>) => {
      let read = 0;
      await readToEnd(kafka, topic, {
        groupId: `kairos-state-rebuild-${randomUUID()}`,
        timeoutMs: 30 * 60_000,
        onMessage: async (message, partition) => {
          read += 1;
          if (read % 10_000 === 0) process.stdout.write(`\r  ${topic}: ${read} records`);
          const record = await decodeRecord(binding as TopicBinding<never>, partition, message, { codec, now: Date.now(), maxClockSkewMs: config.MAX_CLOCK_SKEW }).catch((error: unknown) => {
            if (error instanceof PoisonRecordError) return null;
            throw error;
          });
          if (record === null) counts.refused += 1;
          else await apply(record);
        },
      });
      process.stdout.write(`\r  ${topic}: ${read} records read\n`);
    };
    const partitions = (await admin.fetchTopicOffsets(config.TOPIC_TRIGGERS)).length;
    let deleted = 0;
    for (let p = 0; p < partitions; p += 1) deleted += await deleteKeysMatching(redis, `${globEscape(keys.tag(p))}*`);
    process.stdout.write(`Rebuild of the renderer: ${deleted} per-partition keys deleted; reading its inputs back\n`);
    await readAll(config.TOPIC_CUSTOMER_PROFILES, customerProfilesInput(config.TOPIC_CUSTOMER_PROFILES, types.CustomerProfile), async (record) => {
      const profile = record.value as CustomerProfile | null;
      if (profile === null) {
        await store.eraseCustomer(partitionOf(record.key as string, partitions), record.key as string);
        counts.erased += 1;
      } else {
        await store.storeProfile(partitionOf(profile.customer_id, partitions), profile);
        counts.profiles += 1;
      }
    });
    await readAll(config.TOPIC_BEHAVIOR_EVENTS, behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent), async (record) => {
      const event = record.value as BehaviorEvent;
      if (event.type !== 'unsubscribe' && event.type !== 'resubscribe') return;
      const partition = partitionOf(event.customer_id, partitions);
      if (event.type === 'unsubscribe') await store.markUnsubscribed(partition, event.customer_id, event.occurred_at);
      else await store.markResubscribed(partition, event.customer_id, event.occurred_at);
      counts.optOuts += 1;
    });
    const pendingDeferred = new Set<string>();
    await readAll(config.TOPIC_EMAIL_OUTCOMES, emailOutcomesInput(config.TOPIC_EMAIL_OUTCOMES, types.EmailOutcome), async (record) => {
      const outcome = record.value as EmailOutcome;
      if (await store.restoreOutcome(partitionOf(outcome.customer_id, partitions), outcome)) {
        pendingDeferred.delete(outcome.trigger_id);
        counts.outcomes += 1;
      } else pendingDeferred.add(outcome.trigger_id);
    });
    counts.deferred = pendingDeferred.size;
    for (let p = 0; p < partitions; p += 1) await store.stateMarker(p, true);
    process.stdout.write(
      `Restored ${counts.profiles} profiles (${counts.erased} erased), ${counts.optOuts} unsubscribes/resubscribes and ${counts.outcomes} ledger entries; ` +
        `${counts.refused} records the renderer refuses were left out.\n` +
        (counts.deferred > 0 ? `Not restored: ${counts.deferred} deferred sends still waiting for quiet hours to end (their triggers are not re-read).\n` : '') +
        'Not restored: the bounce/complaint suppression list and campaign pauses (docs/operations.md, "Redis lost"). Start the renderer again.\n',
    );
  });
}

/** The relay checkpoints' covers by partition (checkpointCoverOf), from the `<group>-relay` group's offsets. */
export function coversOf(checkpoints: ReadonlyArray<{ partition: number; offset: string; metadata: string | null }>): Map<number, RelayCover> {
  const covers = new Map<number, RelayCover>();
  for (const checkpoint of checkpoints) {
    const cover = checkpointCoverOf(checkpoint);
    if (cover !== null) covers.set(checkpoint.partition, cover);
  }
  return covers;
}

/**
 * Per partition of `topic` with progress past the log start, the restore bound: the offset below
 * which a replay only rebuilds state. It is the group's committed offset or, when further, one
 * past the offset the relay's last transaction covered (`covered`), when that cover is of the
 * state the commits are bound to (the same incarnation: a cover of a state since reset or rebuilt
 * does not count); never past the log end. `timersThrough`: the cover's timer watermark, null
 * without one.
 */
export function restoreBounds(
  topic: string,
  ranges: ReadonlyArray<{ partition: number; low: string; high: string }>,
  committed: ReadonlyArray<{ partition: number; offset: string; metadata?: string | null }>,
  covers: ReadonlyMap<number, RelayCover> = new Map(),
): Array<{ partition: number; offset: string; covered: boolean; timersThrough: number | null }> {
  const commits = new Map(committed.map((c) => [c.partition, c]));
  const bounds: Array<{ partition: number; offset: string; covered: boolean; timersThrough: number | null }> = [];
  for (const { partition, low, high } of ranges) {
    const commit = commits.get(partition);
    const done = commit !== undefined && /^\d+$/.test(commit.offset) ? BigInt(commit.offset) : -1n;
    const cover = covers.get(partition);
    const bound = commit === undefined || cover === undefined || cover.incarnation !== incarnationOf(commit.metadata ?? null) ? undefined : cover;
    const last = bound?.offsets[topic];
    const relayed = last === undefined ? -1n : BigInt(last) + 1n;
    let offset = relayed > done ? relayed : done;
    if (offset > BigInt(high)) offset = BigInt(high);
    if (offset <= BigInt(low)) continue;
    bounds.push({ partition, offset: offset.toString(), covered: relayed > done && offset > done, timersThrough: bound?.timersThrough ?? null });
  }
  return bounds.sort((a, b) => a.partition - b.partition);
}

async function wipe(config: StateConfig): Promise<void> {
  const redis = createRedis(config, { connectionName: 'kairos-state' });
  try {
    const deleted = await deleteKeysMatching(redis, `{${globEscape(config.REDIS_KEY_PREFIX)}:*`);
    process.stdout.write(`Deleted ${deleted} Redis keys under the prefix ${config.REDIS_KEY_PREFIX} (nothing else).\n`);
  } finally {
    redis.disconnect();
  }
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { service: { type: 'string' }, partitions: { type: 'string' }, group: { type: 'string' } },
  });
  const config = loadConfig(shape);
  const [command] = positionals;
  if (command === 'wipe' && positionals.length === 1) return wipe(config);
  if (command === 'reset' && positionals.length === 1 && values.service && values.partitions) {
    return reset(config, values.service, values.partitions, checkedGroup(values.group));
  }
  if (command === 'rebuild' && positionals.length === 1 && values.service && values.partitions === undefined) {
    return rebuild(config, values.service, checkedGroup(values.group));
  }
  throw new UsageError(USAGE);
}

if (require.main === module) void runMain('state', () => main(process.argv.slice(2)));
