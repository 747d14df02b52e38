/**
 * Guarantee 1 for the segmenter: SIGKILL mid-stream, restarted each time, ends with the same
 * memberships and the same SegmentChanges as an uninterrupted run: nothing lost, nothing twice.
 *
 * The reference is the pure segment engine folded over the same events in the same
 * per-customer order, at the test's start time: what one uninterrupted instance computes,
 * independent of Kafka, Redis, the fence and the outbox. Events are one to three days old: no
 * 24-hour view count reaches the clock (high_interest never holds), every add to the cart is
 * already past re_engagement's 15 minutes, and the other windows are 30 days or more, so the
 * minutes between the reference's clock and the service's do not change any membership, and no
 * wake-up falls due during the run. re_engagement can change several times for one customer in
 * one batch; the segmenter gives each a later `at`, so the (customer, segment, change, at) key
 * below still tells a re-produced record from a new one. Guarantee 7: a read_committed reader
 * of segment.changes sees no record twice (the relay's Kafka transactions and checkpoint).
 */
import type { ChildProcess } from 'node:child_process';
import type { Admin } from 'kafkajs';
import { applyEvent, memberships, parseSegmentState, type SegmentState } from '../../../services/core/segments';
import type { SegmentChange } from '../../../services/core/types';
import { PartitionKeys } from '../../../services/kit/partition-state';
import { partitionOf } from '../../../services/kit/partitioner';
import { createRedis } from '../../../services/kit/redis';
import { loadSegmentDefinitions } from '../../../services/segmenter/main';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { collect, exited, kafka, REDIS_URL, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';
import { seededRandom, shopTraffic } from '../../../services/tools/synthetic';

const TOTAL = 40_000;
const PARTITIONS = 6;
const KILLS = 3;
const DAY = 24 * 3600_000;

describe('the segmenter killed with SIGKILL mid-stream', () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed + 7);
  let pipeline: TestPipeline;
  let admin: Admin;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    pipeline = await createTestPipeline('segcrash', PARTITIONS);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await admin?.disconnect();
    await pipeline?.close();
  });

  function start(): ChildProcess {
    // Small fetches (a few hundred records a batch), so kills land between and inside many batches.
    const child = spawnNode('services/segmenter/main.js', [], { ...pipeline.env, HTTP_PORT: '0', LOG_LEVEL: 'warn', FETCH_MAX_BYTES_PER_PARTITION: '65536', KAFKA_SESSION_TIMEOUT: '8s' });
    children.add(child);
    collect(child.stdout);
    collect(child.stderr);
    void exited(child).then(() => children.delete(child));
    return child;
  }

  async function committed(): Promise<number> {
    const [topic] = await admin.fetchOffsets({ groupId: pipeline.env.GROUP_ID, topics: [pipeline.topics.events] });
    return topic.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  }

  it(`ends with the memberships and SegmentChanges of an uninterrupted run after ${KILLS} kills (seed printed)`, async () => {
    const now = Date.now();
    const events = shopTraffic({ total: TOTAL, customers: 2000, products: 200, seed, from: now - 3 * DAY, to: now - DAY });
    const definitions = loadSegmentDefinitions('config/segments.yaml');

    const reference = new Map<string, SegmentState | null>();
    const expectedChanges = new Map<string, string[]>(); // customer|segment -> [entered, exited, ...]
    for (const event of events) {
      const result = applyEvent(reference.get(event.customer_id) ?? null, event, definitions, now);
      if (result.ignored !== null) continue;
      reference.set(event.customer_id, result.state);
      for (const change of result.changes) push(expectedChanges, `${change.customer_id}|${change.segment}`, change.change);
    }
    expect(expectedChanges.size).toBeGreaterThan(500);

    await pipeline.produceEvents(events);
    let child = start();
    const kills: number[] = [];
    for (let k = 0; k < KILLS; k += 1) {
      // Each kill waits until the new instance has made progress of its own, then lands at a random moment.
      const target = (kills.at(-1) ?? 0) + Math.floor(events.length * (0.1 + 0.1 * random()));
      await waitFor(`the group to commit ${target} records (kill ${k + 1})`, async () => {
        if (child.exitCode !== null) throw new Error(`the segmenter exited with ${child.exitCode}`);
        return (await committed()) >= target;
      }, 90_000);
      await new Promise((resolve) => setTimeout(resolve, random() * 50));
      child.kill('SIGKILL');
      await exited(child);
      kills.push(await committed());
      child = start();
    }
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events, 120_000);
    for (const after of kills) {
      expect(after).toBeGreaterThan(0);
      expect(after).toBeLessThan(events.length); // each kill landed mid-stream
    }

    const records = await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange');
    // A record re-produced by a crash window is the same bytes: same customer, segment, change and time.
    const distinct = new Map(records.map((c) => [`${c.customer_id}|${c.segment}|${c.change}|${c.at}`, c]));
    const repeated = records.length - distinct.size;
    const actualChanges = new Map<string, string[]>();
    for (const c of distinct.values()) push(actualChanges, `${c.customer_id}|${c.segment}`, c.change);
    console.log(JSON.stringify({ seed, events: events.length, kills, changes: records.length, repeated }));
    expect(Object.fromEntries(actualChanges)).toEqual(Object.fromEntries(expectedChanges));
    expect(repeated).toBe(0);

    const keys = new PartitionKeys(pipeline.prefix, 'segmenter');
    const redis = createRedis({ REDIS_URL });
    try {
      const mismatched: string[] = [];
      for (const [customer, state] of reference) {
        const stored = parseSegmentState(await redis.getBuffer(keys.customer(partitionOf(customer, PARTITIONS), customer)));
        if (JSON.stringify(memberships(stored)) !== JSON.stringify(memberships(state))) mismatched.push(customer);
      }
      expect(mismatched).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}
