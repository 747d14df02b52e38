/**
 * Resets or wipes the services' Redis state, so a log can be replayed into a fresh state.
 *
 *   node dist/services/tools/state.js reset --service trigger --partitions 0,3   # or --partitions all
 *   node dist/services/tools/state.js wipe                                       # every key under REDIS_KEY_PREFIX
 *
 * `reset` is what an operator runs after a service stopped a partition because its state does
 * not match its log (a recreated topic, another cluster, a truncated log; docs/operations.md):
 * with the service stopped, it deletes the chosen partitions' keys of that service and moves the
 * service's consumer group back to the start of those partitions of each input topic, so the
 * next start replays them into a fresh state. It refuses while the group has running members.
 *
 * `wipe` deletes every key under `{<REDIS_KEY_PREFIX>:` (all services, sends ledger included)
 * and nothing else in that Redis; `make down`, which also wipes the local broker, runs it.
 */
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { commonShape, loadConfig, runMain, stringVar } from '../kit/config';
import { createKafka, withAdmin } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { PartitionKeys } from '../kit/partition-state';
import { createRedis } from '../kit/redis';
import { deleteKeysMatching, globEscape } from '../kit/redis-scan';

const shape = { ...commonShape, GROUP_ID: stringVar().optional() };
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

const USAGE =
  'usage: state reset --service segmenter|trigger|recommender|results --partitions N[,N...]|all [--group GROUP_ID]\n' +
  '       state wipe   (deletes every key under REDIS_KEY_PREFIX)';

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

async function assertGroupStopped(admin: Admin, groupId: string): Promise<void> {
  const { groups } = await admin.describeGroups([groupId]);
  const members = groups[0]?.members.length ?? 0;
  if (members > 0) {
    throw new UsageError(`the consumer group ${groupId} has ${members} running member(s); stop the service first (make stop), then run this again`);
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
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-state', logger: createLogger({ service: 'state', level: 'warn' }) });
  const redis = createRedis(config, { connectionName: 'kairos-state' });
  try {
    await withAdmin(kafka, async (admin) => {
      await assertGroupStopped(admin, groupId);
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
  } finally {
    redis.disconnect();
  }
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
    return reset(config, values.service, values.partitions, values.group);
  }
  throw new UsageError(USAGE);
}

if (require.main === module) void runMain('state', () => main(process.argv.slice(2)));
