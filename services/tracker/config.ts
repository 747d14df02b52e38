import { bearerTokenVar, commonShape, durationVar, hostVar, intVar, urlVar, type loadConfig } from '../kit/config';
import { DEFAULT_HTTP_HOST } from '../kit/http';
import { linkKeyShape } from '../kit/link-keys';
import { sesFeedbackShape } from './feedback/config';
import { DEFAULT_SUSPECT_WITHIN_MS } from './hits';
import { DEFAULT_SPOOL_AGE_MS } from './spool';

/**
 * The tracker's variables: the common ones, its HTTP server (as every service's, default port
 * 8094, the renderer's TRACKING_BASE_URL default), the same LINK_SIGNING_* keyring as the
 * renderer, and two tunables.
 */
export const trackerShape = {
  ...commonShape,
  HTTP_PORT: intVar(0, 65535).default(8094),
  // Loopback unless set. Serving the links to the internet means another address (or a load
  // balancer in front of loopback); another address needs HTTP_AUTH_TOKEN, which then guards
  // /metrics and any operator route, never the public link routes.
  HTTP_HOST: hostVar().default(DEFAULT_HTTP_HOST),
  HTTP_AUTH_TOKEN: bearerTokenVar(32).optional(),
  HTTP_AUTH_TOKEN_PREVIOUS: bearerTokenVar(32).optional(),
  METRICS_AUTH_TOKEN: bearerTokenVar(32).optional(),
  ...linkKeyShape,
  // A click or open this soon after the email was rendered is marked properties.suspect=fast_click / fast_open.
  TRACKER_SUSPECT_WITHIN: durationVar().default(DEFAULT_SUSPECT_WITHIN_MS),
  // How long an unsubscribe or re-subscribe waits for Kafka before answering 503 (retry).
  TRACKER_PUBLISH_TIMEOUT: durationVar().default(5000),
  // A spooled open or click (Kafka did not take it in time) is published by any instance's
  // drainer once it is this old; its own instance retries it until then, and then stops.
  TRACKER_SPOOL_AGE: durationVar().default(DEFAULT_SPOOL_AGE_MS),
  // Shown on a refused (expired, damaged) unsubscribe or preferences link: another way to
  // unsubscribe, e.g. the shop's account settings page. Unset: the page says to contact the shop.
  TRACKER_HELP_URL: urlVar().optional(),
  // Redis (REDIS_URL, REDIS_KEY_PREFIX: the renderer's) for SES feedback.
  REDIS_CONNECT_TIMEOUT: durationVar().default(5000),
  // How long start-up waits for the broker (a broker restarting); then exit 78.
  KAFKA_CONNECT_TIMEOUT: durationVar().default(120_000),
  ...sesFeedbackShape,
};

export type TrackerConfig = ReturnType<typeof loadConfig<typeof trackerShape>>;
