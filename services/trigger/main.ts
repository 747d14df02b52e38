/**
 * The trigger service: reads behavior.events, keeps threshold windows and absence timers per
 * customer in Redis, and produces TriggerFired records to the triggers topic. It also reads
 * customer.profiles, for tombstones only: they erase the customer's trigger state.
 *
 *   node dist/services/trigger/main.js
 */
import { durationVar, loadConfig, stringVar } from '../kit/config';
import { readConfigFile } from '../kit/files';
import { consumerServiceShape, serviceMain } from '../kit/consumer-service';
import { bindTopic } from '../kit/consumer-runner';
import { behaviorEventsInput } from '../kit/inputs';
import { startPartitionService, type RunningService } from '../kit/partition-service';
import { longestHorizonMs, parseTriggerRules, type TriggerRule } from '../core/triggers';
import { TriggerLogic } from './adapter';

export const triggerShape = {
  ...consumerServiceShape({ httpPort: 8092, groupId: 'kairos-trigger', timerIntervalMs: 1000 }),
  TRIGGER_RULES_FILE: stringVar().default('config/triggers.yaml'),
  STATE_TTL_SLACK: durationVar().default(24 * 3600 * 1000),
};
export type TriggerConfig = ReturnType<typeof loadConfig<typeof triggerShape>>;

/** Reads and validates the rule file; throws naming the file, the rule and the field. */
export function loadTriggerRules(file: string): TriggerRule[] {
  const { path, text } = readConfigFile(file);
  return parseTriggerRules(path, text);
}

/** A customer's trigger state must outlive the longest window, wait or cooldown of any rule. */
function stateTtlMs(rules: readonly TriggerRule[], slack: number): number {
  return longestHorizonMs(rules) + slack;
}

/** Starts the trigger service; tests pass a clock and a logger. */
export async function startTrigger(
  config: TriggerConfig,
  overrides: { clock?: () => number; logger?: import('../kit/logger').Logger } = {},
): Promise<RunningService> {
  const rules = loadTriggerRules(config.TRIGGER_RULES_FILE);
  return startPartitionService({
    name: 'trigger',
    config,
    stateTtlMs: stateTtlMs(rules, config.STATE_TTL_SLACK),
    inputs: (types) => [
      behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent),
      // Only for erasure: a tombstone removes the customer's windows, cart and timers.
      // The time check too, so a profile from the future is dead-lettered by every service alike.
      bindTopic({ topic: config.TOPIC_CUSTOMER_PROFILES, type: types.CustomerProfile, tombstones: true, keyField: 'customer_id', eventTimeField: 'updated_at' }),
    ],
    logic: async ({ output, metrics }) =>
      new TriggerLogic(rules, await output('TriggerFired', config.TOPIC_TRIGGERS), metrics, config.TOPIC_CUSTOMER_PROFILES),
    ...overrides,
  });
}

if (require.main === module) serviceMain('trigger', triggerShape, (config) => startTrigger(config));
