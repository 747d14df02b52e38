/**
 * Scale-out: the trigger service alone with N instances in one consumer group, each instance a
 * separate Node process (bench/service-instance.ts, forked), over the shared input topic with a
 * fresh group, output topics and Redis prefix per measurement, the same frozen clock.
 *
 * Instances join one by one, so each holds the input (paused, see service-instance.ts) until
 * every instance is a member and the instances together own every input partition exactly once
 * (the group's final assignment). Then all are released at once and the timed window opens; it
 * closes when the group's committed offsets reach the end of every partition (the trigger
 * service commits in the same transaction as its outputs). The work counted is the records
 * committed inside that window: the input's size minus what the group had committed when the
 * window opened (0 unless the gate leaked). The triggers of every measurement are read back and
 * counted per rule, so a faster figure cannot come from firing less.
 */
import type { TriggerFired } from '../services/core/types';
import { BenchStack, readTopic, waitUntil, withAdmin } from './stack';
import type { Input } from './input';
import { ForkedInstances } from './instances';
import type { InstanceSpec } from './service-instance';
import { serviceEnv } from './throughput';
import { countBy } from './targets';

export interface ScaleOutRun {
  instances: number;
  redis: 'single' | 'cluster';
  eps: number;
  seconds: number;
  /** Input records committed inside the timed window. */
  records: number;
  /** Records the group had committed before the instances were released (not timed; 0 unless the gate leaked). */
  committed_before_window: number;
  /** From forking the instances until the final assignment (the window opens then). */
  join_seconds: number;
  triggers_by_rule: Record<string, number>;
}

async function committedSum(group: string, topic: string): Promise<number> {
  const offsets = await withAdmin((admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** Trigger alone with `instances` processes; `redisEnv` points them at a cluster (else the stack's Redis). */
export async function measureScaleOut(
  stack: BenchStack,
  input: Input,
  options: { instances: number; name: string; redisEnv?: Record<string, string> },
): Promise<ScaleOutRun> {
  const prefix = stack.prefix(options.name);
  const out = await stack.createOutputs(options.name, input.partitions);
  const group = `${stack.run}-${options.name}-trigger`;
  const env = { ...serviceEnv(input, out, prefix, group), ...(options.redisEnv ?? {}) };
  const spec: InstanceSpec = { service: 'trigger', env, clock: input.clock, topic: input.events, gate: true };
  const instances = new ForkedInstances(`scale-out ${options.name}`);
  const { statuses } = instances;
  const alive = () => instances.alive();
  const forkedAt = Date.now();
  try {
    for (let i = 0; i < options.instances; i += 1) instances.fork(spec);
    // Every instance a member, and together owning each partition once: the final assignment.
    await waitUntil(
      'every instance to join and own its share of the partitions',
      () => {
        alive();
        return statuses.every((s) => s.ready && s.owned > 0) && statuses.reduce((sum, s) => sum + s.owned, 0) === input.partitions;
      },
      120_000,
      5,
    );
    const before = await committedSum(group, input.events);
    const openedAt = Date.now();
    instances.send({ type: 'go' });
    // Every record processed at least once is necessary before everything can be committed.
    await waitUntil('the instances to process every event', () => {
      alive();
      return statuses.reduce((sum, s) => sum + s.processed, 0) >= input.count;
    }, 900_000, 5);
    await waitUntil('the group to commit the end of every partition', async () => {
      alive();
      return (await committedSum(group, input.events)) >= input.count;
    }, 120_000, 5);
    const closedAt = Date.now();
    const seconds = (closedAt - openedAt) / 1000;
    const records = input.count - before;
    const triggers = await readTopic<TriggerFired>(stack.codec, out.triggers, 'TriggerFired');
    return {
      instances: options.instances,
      redis: options.redisEnv === undefined ? 'single' : 'cluster',
      eps: Math.round(records / seconds),
      seconds: Number(seconds.toFixed(3)),
      records,
      committed_before_window: before,
      join_seconds: Number(((openedAt - forkedAt) / 1000).toFixed(3)),
      triggers_by_rule: countBy(triggers, (t) => t.rule),
    };
  } finally {
    await instances.stop();
    if (options.redisEnv === undefined) await stack.deleteKeys(prefix);
  }
}
