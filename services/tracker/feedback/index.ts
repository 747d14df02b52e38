/**
 * SES feedback for the tracker: mount `sesFeedbackRoutes(...)` as a PUBLIC route (SNS sends no
 * bearer token; the SNS signature authenticates). createSesFeedbackRoutes wires it from config.
 */
import type { Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { AvroCodec } from '../../kit/codec';
import type { Logger } from '../../kit/logger';
import type { RedisClient } from '../../kit/redis';
import type { RouteHandler } from '../../kit/http';
import { sesFeedbackSettings, type sesFeedbackShape } from './config';
import { kafkaEventPublisher } from './publish';
import { sesFeedbackRoutes } from './routes';
import { SnsSignatureVerifier } from './sns-verifier';
import { FeedbackStore } from './store';
import type { z } from 'zod';

export { sesFeedbackShape, sesFeedbackSettings, type SesFeedbackSettings } from './config';
export { sesFeedbackRoutes, sesFeedbackMetrics, MAX_SNS_BODY_BYTES, type EventPublisher, type SesFeedbackDeps } from './routes';
export { SnsSignatureVerifier } from './sns-verifier';
export { FeedbackStore, resumeCampaign } from './store';
export { kafkaEventPublisher } from './publish';

export interface SesFeedbackWiring {
  config: z.output<z.ZodObject<typeof sesFeedbackShape>> & { REDIS_KEY_PREFIX: string; TOPIC_BEHAVIOR_EVENTS: string };
  redis: RedisClient;
  producer: Producer;
  codec: AvroCodec;
  logger: Logger;
  registry: Registry;
  clock: () => number;
}

/** The routes with the tracker's clients; the tracker's main mounts them as public. */
export async function createSesFeedbackRoutes(wiring: SesFeedbackWiring): Promise<Record<string, RouteHandler>> {
  const settings = sesFeedbackSettings(wiring.config);
  if (settings.topicArns.length === 0) wiring.logger.warn({}, 'SNS_TOPIC_ARNS is empty: /ses/notifications refuses every message until it names the SES event topic');
  return sesFeedbackRoutes({
    store: new FeedbackStore(wiring.redis, wiring.config.REDIS_KEY_PREFIX),
    verifier: new SnsSignatureVerifier(settings.certUrlPattern, settings.fetchTimeoutMs, wiring.clock),
    settings,
    publish: await kafkaEventPublisher(wiring.producer, wiring.codec, wiring.config.TOPIC_BEHAVIOR_EVENTS),
    logger: wiring.logger,
    registry: wiring.registry,
    clock: wiring.clock,
  });
}
