/**
 * The console's configuration: where it listens, who may look, where the services it shows
 * answer, and how much history it keeps itself. Every variable is listed in
 * docs/operations.md, "Console".
 */
import { bearerTokenVar, commonShape, durationVar, envVar, hostVar, intVar, invalid, stringVar, urlVar, type loadConfig } from '../kit/config';

const GROUP_ENTRY = /^(?:[a-z][a-z0-9_-]{0,63}=)?[A-Za-z0-9._-]{1,249}$/;

/** `service=group,service=group` (or bare group ids, shown without their `kairos-` prefix). */
const groupsVar = () =>
  envVar({ expected: 'a comma-separated list of consumer groups, each <service>=<group id> or a group id, like segmenter=kairos-segmenter,trigger=kairos-trigger' }, (raw) => {
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    return items.length > 0 && items.every((item) => GROUP_ENTRY.test(item)) ? items : invalid('is not a list of consumer groups');
  });

/** A service the console reads over HTTP: its URL variable, token variable and default port. */
export const CONSOLE_UPSTREAMS = {
  segmenter: { url: 'SEGMENTER_URL', token: 'SEGMENTER_AUTH_TOKEN', port: 8091 },
  trigger: { url: 'TRIGGER_URL', token: 'TRIGGER_AUTH_TOKEN', port: 8092 },
  renderer: { url: 'RENDERER_URL', token: 'RENDERER_AUTH_TOKEN', port: 8093 },
  tracker: { url: 'TRACKER_URL', token: 'TRACKER_AUTH_TOKEN', port: 8094 },
  recommender: { url: 'RECOMMENDER_URL', token: 'RECOMMENDER_AUTH_TOKEN', port: 8095 },
  results: { url: 'RESULTS_URL', token: 'RESULTS_AUTH_TOKEN', port: 8096 },
} as const;

export type Upstream = keyof typeof CONSOLE_UPSTREAMS;

export const consoleShape = {
  ...commonShape,
  // Loopback by default: the pages show personal data. Any other address needs HTTP_AUTH_TOKEN.
  HTTP_HOST: hostVar().default('127.0.0.1'),
  HTTP_PORT: intVar(0, 65535).default(8090),
  // The console's credential: HTTP Basic (user CONSOLE_USER, this as password) for browsers,
  // or `Authorization: Bearer <token>` for scripts. Required off loopback.
  HTTP_AUTH_TOKEN: bearerTokenVar(32).optional(),
  HTTP_AUTH_TOKEN_PREVIOUS: bearerTokenVar(32).optional(),
  CONSOLE_USER: stringVar({ pattern: /^[A-Za-z0-9._-]{1,64}$/, expected: 'a user name of letters, digits, ".", "_" or "-"' }).default('kairos'),
  SEGMENTER_URL: urlVar().default('http://127.0.0.1:8091'),
  SEGMENTER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  TRIGGER_URL: urlVar().default('http://127.0.0.1:8092'),
  TRIGGER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  RENDERER_URL: urlVar().default('http://127.0.0.1:8093'),
  RENDERER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  TRACKER_URL: urlVar().default('http://127.0.0.1:8094'),
  TRACKER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  RECOMMENDER_URL: urlVar().default('http://127.0.0.1:8095'),
  RECOMMENDER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  RESULTS_URL: urlVar().default('http://127.0.0.1:8096'),
  RESULTS_AUTH_TOKEN: bearerTokenVar(32).optional(),
  // How long one call to a service may take before the page shows it as unavailable.
  CONSOLE_UPSTREAM_TIMEOUT: durationVar().default(5000),
  // The consumer groups whose lag the overview shows.
  CONSOLE_CONSUMER_GROUPS: groupsVar().default(() => ['segmenter=kairos-segmenter', 'trigger=kairos-trigger', 'renderer=kairos-renderer', 'recommender=kairos-recommender', 'results=kairos-results']),
  SEGMENTS_FILE: stringVar().default('config/segments.yaml'),
  // History the console keeps itself (the services keep none): one sample per interval, in memory.
  CONSOLE_SAMPLE_INTERVAL: durationVar().default(15_000),
  CONSOLE_HISTORY: durationVar().default(6 * 3_600_000),
  // How far back the console reads triggers, outcomes, segment changes and events at start-up.
  CONSOLE_LOOKBACK: durationVar().default(24 * 3_600_000),
  // Customers whose recent records the console remembers (least recently seen ones are dropped first).
  CONSOLE_MAX_CUSTOMERS: intVar(100, 10_000_000).default(50_000),
  // Records kept per customer and kind (events, triggers, outcomes, segment changes).
  CONSOLE_RECORDS_PER_CUSTOMER: intVar(1, 1000).default(20),
};

export type ConsoleConfig = ReturnType<typeof loadConfig<typeof consoleShape>>;
