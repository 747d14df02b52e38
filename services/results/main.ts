/**
 * The results service: reads email.outcomes and behavior.events (co-partitioned, key
 * customer_id), attributes purchases to sends (docs/experiments.md, "Attribution"), keeps the
 * counters per campaign, experiment, arm and segment in Redis, and serves them over HTTP.
 *
 *   node dist/services/results/main.js
 */
import { durationVar, loadConfig, stringVar } from '../kit/config';
import { ConfigError } from '../kit/errors';
import type { Logger } from '../kit/logger';
import { consumerServiceShape, serviceMain } from '../kit/consumer-service';
import { behaviorEventsInput, emailOutcomesInput } from '../kit/inputs';
import { startPartitionService, type RunningService } from '../kit/partition-service';
import { DEFAULT_LIMITS, type AttributionOptions } from '../core/experiments/attribution';
import { ResultsLogic } from './adapter';
import { loadDesigns } from './figures';
import { resultsRoutes } from './routes';
import { RESULTS_SERVICE, ResultsStore } from './store';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

export const resultsShape = {
  ...consumerServiceShape({ httpPort: 8096, groupId: 'kairos-results', timerIntervalMs: 5000 }),
  // Designs of the experiments: expected shares (SRM check) and the variables of each arm.
  CAMPAIGNS_FILE: stringVar().default('config/campaigns.yaml'),
  // A purchase up to this long after a send (or a human click) is attributed to it.
  ATTRIBUTION_WINDOW: durationVar().default(72 * HOUR),
  // How late (behind the customer's newest record) a record may come and still count exactly;
  // also how long after a send its engagement counts. At least ATTRIBUTION_WINDOW.
  ATTRIBUTION_HORIZON: durationVar().default(30 * DAY),
  // A customer's attribution state lives this long after its last change (>= 2 x horizon + window).
  STATE_TTL: durationVar().default(90 * DAY),
};
export type ResultsConfig = ReturnType<typeof loadConfig<typeof resultsShape>>;

/** The attribution settings of a config; throws ConfigError when they do not fit together. */
export function attributionOptions(config: Pick<ResultsConfig, 'ATTRIBUTION_WINDOW' | 'ATTRIBUTION_HORIZON' | 'STATE_TTL'>): AttributionOptions {
  const { ATTRIBUTION_WINDOW: w, ATTRIBUTION_HORIZON: h, STATE_TTL: ttl } = config;
  if (h < w) {
    throw new ConfigError([{ variable: 'ATTRIBUTION_HORIZON', value: `${h} ms`, reason: `is shorter than ATTRIBUTION_WINDOW (${w} ms)`, expected: 'a duration at least as long as the window, e.g. 30d' }]);
  }
  if (ttl < 2 * h + w) {
    throw new ConfigError([{ variable: 'STATE_TTL', value: `${ttl} ms`, reason: `is shorter than 2 x ATTRIBUTION_HORIZON + ATTRIBUTION_WINDOW (${2 * h + w} ms)`, expected: 'a longer duration, e.g. 90d' }]);
  }
  return { windowMs: w, horizonMs: h, ...DEFAULT_LIMITS };
}

/** Starts the results service; tests pass a clock and a logger. */
export async function startResults(config: ResultsConfig, overrides: { clock?: () => number; logger?: Logger } = {}): Promise<RunningService> {
  const options = attributionOptions(config);
  const designs = loadDesigns(config.CAMPAIGNS_FILE);
  return startPartitionService({
    name: RESULTS_SERVICE,
    config,
    stateTtlMs: config.STATE_TTL,
    // Co-partitioned (checked at start-up): one customer's outcomes and events are in the same partition number.
    inputs: (types) => [emailOutcomesInput(config.TOPIC_EMAIL_OUTCOMES, types.EmailOutcome), behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent)],
    logic: ({ metrics }) => new ResultsLogic(config.TOPIC_EMAIL_OUTCOMES, options, metrics),
    routes: ({ redis, partitionCount }) => resultsRoutes({ store: new ResultsStore(redis, config.REDIS_KEY_PREFIX, partitionCount), designs, windowMs: options.windowMs }),
    ...overrides,
  });
}

if (require.main === module) serviceMain('results', resultsShape, (config) => startResults(config));
