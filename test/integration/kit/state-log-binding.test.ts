/**
 * State is bound to its log (issue: a second `make demo` after `make down` lost triggers).
 * The same synthetic shop day runs through the segmenter and the trigger service three times:
 *  1. on fresh topics and a fresh Redis prefix;
 *  2. after "make stop && make down": topics deleted and recreated (the broker's data gone) and
 *     the prefix wiped with `state wipe`: the same triggers and segment changes as run 1;
 *  3. after recreating the topics again WITHOUT wiping Redis: the services must not skip the new
 *     log's records as "already applied"; they stop the partitions, say why and are not ready.
 *     `state reset --partitions all` then lets the replay give run 1's results again.
 */
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { syntheticShop } from '../../../services/tools/synthetic';
import type { SegmentChange, TriggerFired } from '../../../services/core/types';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { recordTypes } from '../../../services/kit/codec';
import { collect, connectedProducer, createTopics, exited, readAll, spawnNode, stateTool, waitCaughtUp, waitFor, withAdmin } from '../../support/stack';

const PARTITIONS = 3;
const NOW = Date.parse('2026-11-30T12:00:00Z');
const types = recordTypes();
const shop = syntheticShop({ customers: 40, events: 1500, now: NOW - 3_600_000, seed: 11 });


// Each run replays a whole day through two services and waits (up to 3 min) for them to catch up.
jest.setTimeout(480_000);
describe('state bound to its log: recreated topics are never skipped silently', () => {
  let pipeline: TestPipeline;
  let services: RunningService[] = [];
  const env = () => ({ ...pipeline.env, TIMER_INTERVAL_MS: '100', KAFKA_SESSION_TIMEOUT: '6000' });
  const groups = () => ({ segmenter: `${pipeline.env.GROUP_ID}-segmenter`, trigger: `${pipeline.env.GROUP_ID}-trigger` });

  beforeAll(async () => {
    pipeline = await createTestPipeline('binding', PARTITIONS);
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    await pipeline?.close();
  });

  async function start(): Promise<void> {
    const clock = () => NOW;
    services = [
      await startSegmenter(loadConfig(segmenterShape, { ...env(), GROUP_ID: groups().segmenter }), { clock, logger: silentLogger }),
      await startTrigger(loadConfig(triggerShape, { ...env(), GROUP_ID: groups().trigger }), { clock, logger: silentLogger }),
    ];
    await waitFor('both services to join their groups', () => services.every((s) => s.runner.isReady()));
  }
  async function stop(): Promise<void> {
    for (const service of services) await service.stop();
    services = [];
  }
  async function publishDay(): Promise<void> {
    await pipeline.produceProfiles(shop.profiles);
    await pipeline.produceEvents(shop.events);
  }
  /** Waits until both services have read everything and fired every due timer; returns what they wrote. */
  async function results(): Promise<{ triggers: string[]; changes: string[] }> {
    for (const group of Object.values(groups())) {
      // A whole day per run: on a loaded 2-core host catching up can take more than the default minute.
      await waitCaughtUp(group, pipeline.topics.events, 180_000);
      await waitCaughtUp(group, pipeline.topics.profiles, 180_000);
    }
    for (const service of services) for (let p = 0; p < PARTITIONS; p += 1) await service.processor.fireDue(p);
    const triggers = await read<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    const changes = await read<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange');
    return {
      triggers: [...new Set(triggers.map((t) => `${t.rule} ${t.trigger_id}`))].sort(),
      changes: [...new Set(changes.map((c) => `${c.customer_id} ${c.segment} ${c.change} ${c.reason}`))].sort(),
    };
  }
  /** Every record of an output topic now, through a new reader (the topics get recreated). */
  async function read<T>(topic: string, schema: 'TriggerFired' | 'SegmentChange'): Promise<T[]> {
    return Promise.all((await readAll(topic)).map((m) => pipeline.codec.decode<T>(m.value!, types[schema])));
  }
  /** What `make down` does to the broker: every topic's records (and the groups' commits) gone. */
  async function recreateTopics(): Promise<void> {
    const topics = [pipeline.topics.events, pipeline.topics.profiles, pipeline.topics.triggers, pipeline.topics.segmentChanges];
    await withAdmin((admin) => admin.deleteTopics({ topics }));
    await waitFor('the topics to be deleted', async () => {
      const left = new Set(await withAdmin((admin) => admin.listTopics()));
      return topics.every((t) => !left.has(t));
    });
    await waitFor('the topics to be created again', async () => {
      try {
        await createTopics(topics, PARTITIONS);
        return true;
      } catch {
        return false; // still being deleted on the broker
      }
    });
  }
  const state = (args: string[]) => stateTool(args, pipeline.env);

  let first: { triggers: string[]; changes: string[] };

  // The day is published before the services start: every run reads it as one backlog. Started
  // first, a service caught up between two produced chunks would fire a cart timer by the clock
  // (NOW is past the whole day) that a later chunk's purchase cancels in the other runs.
  it('run 1: a fresh day gives triggers and segment changes', async () => {
    await publishDay();
    await start();
    first = await results();
    expect(first.triggers.filter((t) => t.startsWith('cart_abandoned')).length).toBeGreaterThan(0);
    expect(first.triggers.filter((t) => t.startsWith('high_interest')).length).toBeGreaterThan(0);
    expect(first.changes.length).toBeGreaterThan(0);
  });

  it('run 2, after make stop && make down (topics recreated, prefix wiped): the same results', async () => {
    await stop();
    await recreateTopics();
    expect(await state(['wipe'])).toMatch(/Deleted \d+ Redis keys under the prefix/);
    expect(await pipeline.redisKeys()).toEqual([]);
    await publishDay();
    await start();
    expect(await results()).toEqual(first);
  });

  it('run 3, topics recreated but Redis kept: partitions stop, not ready, nothing skipped; a reset replays to the same results', async () => {
    await stop();
    await recreateTopics();
    await start();
    await publishDay();
    // Every partition holds state of the old log: each service stops each partition at its first batch.
    // Two inputs (events and profiles) of PARTITIONS partitions each.
    await waitFor('every partition stopped', () => services.every((s) => s.processor.stopped().size === 2 * PARTITIONS), 60_000);
    for (const service of services) {
      expect(service.runner.isReady() && service.runner.stopped().size === 0).toBe(false);
      const metrics = await service.parts.metrics.registry.getSingleMetricAsString('kairos_partitions_stopped');
      expect(metrics).toMatch(/kairos_partitions_stopped\{[^}]*\} [1-9]/);
      const readyz = await fetch(`http://127.0.0.1:${service.http.port}/readyz`);
      expect(readyz.status).toBe(503);
    }
    const reasons = [...services[0].processor.stopped().values()];
    expect(reasons[0]).toMatch(/no committed offset here: the topic was recreated/);
    // Nothing was produced from the new log: no record was applied against the old state.
    expect(await read<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).toEqual([]);
    expect(await read<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange')).toEqual([]);

    await stop();
    expect(await state(['reset', '--service', 'segmenter', '--partitions', 'all', '--group', groups().segmenter])).toMatch(/Reset segmenter partitions 0,1,2/);
    expect(await state(['reset', '--service', 'trigger', '--partitions', 'all', '--group', groups().trigger])).toMatch(/Reset trigger partitions 0,1,2/);
    await start();
    expect(await results()).toEqual(first);
  });

  it('run 4, Redis lost under running services: the vanished state stops them; state rebuild gives the same results and produces nothing again, not even timers the clock fired after the last record', async () => {
    const before = {
      triggers: await read<TriggerFired>(pipeline.topics.triggers, 'TriggerFired'),
      changes: await read<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange'),
    };
    expect(await state(['wipe'])).toMatch(/Deleted \d+ Redis keys/); // the loss: every key of the prefix gone
    // The next batch of a partition finds its state gone and stops it instead of applying to
    // nothing. An undecodable record on each partition: it reaches the handler as an empty
    // batch and, dead-lettered after the rebuild, changes nothing the runs compare.
    const producer = await connectedProducer();
    try {
      await producer.send({ topic: pipeline.topics.events, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, key: 'poison', value: Buffer.from('not avro') })) });
    } finally {
      await producer.disconnect();
    }
    await waitFor('a partition stopped with its state vanished', () =>
      services.some((s) => [...s.processor.stopped().values()].some((reason) => /vanished from Redis/.test(reason))), 60_000);
    await stop();
    for (const service of ['segmenter', 'trigger'] as const) {
      expect(await state(['rebuild', '--service', service, '--group', groups()[service]])).toMatch(new RegExp(`Rebuild of ${service}: \\d+ keys deleted`));
    }
    await start();
    expect(await results()).toEqual(first);
    const after = {
      triggers: await read<TriggerFired>(pipeline.topics.triggers, 'TriggerFired'),
      changes: await read<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange'),
    };
    // The rebuild produces nothing again: not what records caused (the restore bound is where
    // the outputs in Kafka reached, from the commits and the relay's last transaction), nor the
    // timers that results() fired by the clock past the day after each partition's last record
    // (the relay's last transaction recorded the timer watermark; those timers fire again
    // without output once the replay is over). (The records of a topic come back in no fixed
    // order across partitions, so repeats are counted per trigger_id, not taken from the end.)
    const counts = (triggers: readonly TriggerFired[]) => triggers.reduce((m, t) => m.set(t.trigger_id, (m.get(t.trigger_id) ?? 0) + 1), new Map<string, number>());
    const [was, now] = [counts(before.triggers), counts(after.triggers)];
    const repeated = [...new Map(after.triggers.map((t) => [t.trigger_id, t])).values()].flatMap((t) => Array<TriggerFired>(Math.max(0, (now.get(t.trigger_id) ?? 0) - (was.get(t.trigger_id) ?? 0))).fill(t));
    console.log(`run 4: ${before.triggers.length} triggers and ${before.changes.length} segment changes before the loss; after the rebuild ${repeated.length} triggers again (${JSON.stringify(countBy(repeated.map((t) => t.rule)))}) and ${after.changes.length - before.changes.length} segment changes again`);
    expect(repeated).toEqual([]);
    expect(after.triggers).toHaveLength(before.triggers.length);
    expect(after.changes).toHaveLength(before.changes.length);
  });

  it('state reset refuses while the service runs', async () => {
    const child = spawnNode('services/tools/state.js', ['reset', '--service', 'trigger', '--partitions', '0', '--group', groups().trigger], pipeline.env);
    const err = collect(child.stderr);
    expect((await exited(child)).code).not.toBe(0);
    expect(err.text()).toMatch(/running member\(s\); stop the service first/);
  });
});

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
