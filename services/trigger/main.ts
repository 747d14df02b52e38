/**
 * The trigger service: reads behavior.events, keeps threshold windows and absence timers per
 * customer in Redis, and produces TriggerFired records to the triggers topic. It also reads
 * customer.profiles, for tombstones only: they erase the customer's trigger state.
 *
 *   node dist/services/trigger/main.js
 */
import { durationVar, loadConfig, stringVar } from '../kit/config';
import { readConfigFile } from '../kit/files';
import { consumerServiceShape, serviceMain, STATEFUL_PARTITIONS_CONCURRENTLY } from '../kit/consumer-service';
import type { Type } from 'avsc';
import type { SchemaName } from '../kit/codec';
import type { AnyTopicBinding } from '../kit/consumer-runner';
import { behaviorEventsInput, customerProfilesInput } from '../kit/inputs';
import { startPartitionService, type PartitionServiceOptions, type RunningService } from '../kit/partition-service';
import { longestHorizonMs, parseTriggerRules, type TriggerRule } from '../core/triggers';
import { TriggerLogic } from './adapter';

export const triggerShape = {
  ...consumerServiceShape({ httpPort: 8092, groupId: 'kairos-trigger', timerIntervalMs: 1000, partitionsConcurrently: STATEFUL_PARTITIONS_CONCURRENTLY }),
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

/**
 * What the trigger reads. customer.profiles only for erasure (a tombstone removes the
 * customer's windows, cart and timers), but with the edge checks every service applies to it
 * (kit/inputs.ts: key and record limits, validation, the event-time bound), so a bad profile is
 * dead-lettered by every reader alike and a tombstone with an over-long key erases nothing.
 */
export function triggerInputs(
  config: Pick<TriggerConfig, 'TOPIC_BEHAVIOR_EVENTS' | 'TOPIC_CUSTOMER_PROFILES'>,
  types: Record<SchemaName, Type>,
): AnyTopicBinding[] {
  return [behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent), customerProfilesInput(config.TOPIC_CUSTOMER_PROFILES, types.CustomerProfile)];
}

/** Starts the trigger service; tests pass a clock and a logger. */
export async function startTrigger(
  config: TriggerConfig,
  overrides: Pick<PartitionServiceOptions, 'clock' | 'logger' | 'relayHooks' | 'relayChunk'> = {},
): Promise<RunningService> {
  const rules = loadTriggerRules(config.TRIGGER_RULES_FILE);
  return startPartitionService({
    name: 'trigger',
    config,
    stateTtlMs: stateTtlMs(rules, config.STATE_TTL_SLACK),
    binaryStates: true, // compact trigger states (core/triggers/state.ts)
    inputs: (types) => triggerInputs(config, types),
    logic: async ({ output, metrics }) =>
      new TriggerLogic(rules, await output('TriggerFired', config.TOPIC_TRIGGERS), metrics, config.TOPIC_CUSTOMER_PROFILES),
    ...overrides,
  });
}

if (require.main === module) serviceMain('trigger', triggerShape, (config) => startTrigger(config));
