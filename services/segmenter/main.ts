/**
 * The segmenter: reads behavior.events and customer.profiles, keeps every customer's segment
 * state in Redis, emits SegmentChange records (and segment-entry triggers), and answers
 * segment queries over HTTP.
 *
 *   node dist/services/segmenter/main.js
 */
import { durationVar, loadConfig, stringVar } from '../kit/config';
import { readConfigFile } from '../kit/files';
import type { Logger } from '../kit/logger';
import { consumerServiceShape, serviceMain, STATEFUL_PARTITIONS_CONCURRENTLY } from '../kit/consumer-service';
import { behaviorEventsInput, customerProfilesInput } from '../kit/inputs';
import { startPartitionService, type RunningService } from '../kit/partition-service';
import { SEGMENTER_SERVICE } from '../kit/segment-state-key';
import { parseSegmentDefinitions, type SegmentDefinition } from '../core/segments';
import { segmentRoutes } from './routes';
import { SegmenterLogic } from './adapter';

const DAY = 24 * 3600 * 1000;

export const segmenterShape = {
  ...consumerServiceShape({ httpPort: 8091, groupId: 'kairos-segmenter', timerIntervalMs: 5000, partitionsConcurrently: STATEFUL_PARTITIONS_CONCURRENTLY }),
  SEGMENTS_FILE: stringVar().default('config/segments.yaml'),
  // Longer than the longest window (365 d): a customer idle for that long is in no windowed segment.
  STATE_TTL: durationVar().default(366 * DAY),
};
export type SegmenterConfig = ReturnType<typeof loadConfig<typeof segmenterShape>>;

/** Reads and validates the segment definitions; throws naming the file, the segment and the field. */
export function loadSegmentDefinitions(file: string): SegmentDefinition[] {
  const { path, text } = readConfigFile(file);
  return parseSegmentDefinitions(path, text);
}

/** Starts the segmenter; tests pass a clock and a logger. */
export async function startSegmenter(
  config: SegmenterConfig,
  overrides: { clock?: () => number; logger?: Logger } = {},
): Promise<RunningService> {
  const definitions = loadSegmentDefinitions(config.SEGMENTS_FILE);
  return startPartitionService({
    name: SEGMENTER_SERVICE,
    config,
    stateTtlMs: config.STATE_TTL,
    binaryStates: true, // compact segment states (core/segments/state.ts)
    inputs: (types) => [
      behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent),
      customerProfilesInput(config.TOPIC_CUSTOMER_PROFILES, types.CustomerProfile),
    ],
    logic: async ({ output, metrics }) =>
      new SegmenterLogic(
        definitions,
        config.TOPIC_CUSTOMER_PROFILES,
        {
          changes: await output('SegmentChange', config.TOPIC_SEGMENT_CHANGES),
          triggers: await output('TriggerFired', config.TOPIC_TRIGGERS),
        },
        metrics,
      ),
    routes: ({ redis, keys, partitionCount }) => segmentRoutes({ redis, keys, definitions, partitionCount }),
    ...overrides,
  });
}

if (require.main === module) serviceMain('segmenter', segmenterShape, (config) => startSegmenter(config));
