/**
 * The trigger service of a one-partition test pipeline whose process can be made to "die" right
 * after a relay transaction: the hook wipes every Redis key of the pipeline (Redis lost) and
 * throws, so the batch is never committed. For the tests of `state rebuild` after such a loss
 * (test/integration/trigger/rebuild-*.test.ts).
 */
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../services/core/types';
import { loadConfig } from '../../services/kit/config';
import type { RunningService } from '../../services/kit/partition-service';
import { createRedis, type RedisClient } from '../../services/kit/redis';
import { deleteKeysMatching, globEscape } from '../../services/kit/redis-scan';
import { startTrigger, triggerShape } from '../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from './pipeline';
import { REDIS_URL, stateTool, waitFor } from './stack';

export interface TriggerLossOptions {
  /** The service's clock. */
  clock: () => number;
  /** Records per relay read (RELAY_CHUNK); the service's default when absent. */
  relayChunk?: number;
  /** Called with the record count of every relay transaction, before the armed death. */
  onRelay?: (records: number) => void;
  /** The error the dying relay throws, saying what the test stands for. */
  death: string;
}

export interface TriggerLoss {
  pipeline: TestPipeline;
  redis: RedisClient;
  /** The running service, undefined while stopped. */
  service(): RunningService | undefined;
  /** Starts the service (timer loop every 100 ms) and waits until it joined its group. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The next relay transaction that produced records wipes Redis and fails, once. */
  arm(): void;
  /** A behavior event with an event id unique within the test. */
  event(customer: string, type: string, at: number, fields?: Partial<BehaviorEvent>): BehaviorEvent;
  /** Every trigger in the output topic now. */
  triggers(): Promise<TriggerFired[]>;
  /** `kairos state …` against the pipeline. */
  state(args: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function triggerLoss(name: string, options: TriggerLossOptions): Promise<TriggerLoss> {
  const pipeline = await createTestPipeline(name, 1);
  const redis = createRedis({ REDIS_URL });
  let service: RunningService | undefined;
  let armed = false;
  let n = 0;
  const wipe = () => deleteKeysMatching(redis, `{${globEscape(pipeline.env.REDIS_KEY_PREFIX)}:*`);
  const stop = async () => {
    await service?.stop();
    service = undefined;
  };
  return {
    pipeline,
    redis,
    service: () => service,
    async start() {
      service = await startTrigger(loadConfig(triggerShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' }), {
        clock: options.clock,
        logger: silentLogger,
        ...(options.relayChunk === undefined ? {} : { relayChunk: options.relayChunk }),
        relayHooks: {
          afterProduce: async (_partition, records) => {
            options.onRelay?.(records);
            if (!armed) return;
            armed = false;
            await wipe();
            throw new Error(options.death);
          },
        },
      });
      await waitFor('the service to join its group', () => service?.runner.isReady() === true);
    },
    stop,
    arm: () => {
      armed = true;
    },
    event: (customer, type, at, fields = {}) => behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: at, ...fields }),
    triggers: () => pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired'),
    state: (args) => stateTool(args, pipeline.env),
    async close() {
      await stop();
      await pipeline.close();
      redis.disconnect();
    },
  };
}
