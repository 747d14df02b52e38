/**
 * The tracker: serves the signed links of every email (open pixel, click redirects, one-click
 * unsubscribe, preferences page) and publishes each valid hit as a BehaviorEvent on
 * behavior.events; takes SES feedback from SNS (`POST /ses/notifications`, feedback/) into
 * suppression, Send records and the deliverability guard in Redis. No consumer.
 *
 *   node dist/services/tracker/main.js
 *
 * Its routes are composed from a list: trackerRoutes (the links) plus any `extraRoutes`
 * (for example SES feedback), each a set of public and private routes over the same clients.
 */
import type { Producer } from 'kafkajs';
import { behaviorEventLimitProblem } from '../core/limits';
import { behaviorEventProblem, type BehaviorEvent } from '../core/types';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../kit/codec';
import { loadConfig, secretVariables } from '../kit/config';
import { DEFAULT_PROBE_TIMEOUT_MS, HealthMonitor } from '../kit/health';
import { startHttpServer, type HttpServer, type RouteHandler } from '../kit/http';
import { credentialsOf } from '../kit/http-auth';
import { atStartWhenBrokerAnswers, createIdempotentProducer, createKafka } from '../kit/kafka';
import { linkKeyring } from '../kit/link-keys';
import { createLogger, type Logger } from '../kit/logger';
import { createMetrics, type KairosMetrics } from '../kit/metrics';
import { kafkaProbe, redisProbe, registryProbe } from '../kit/probes';
import { createRedis, ensureRedisReachable } from '../kit/redis';
import { EventSpool, type SpooledEvents } from './spool';
import { createSesFeedbackRoutes } from './feedback';
import { serviceMain } from '../kit/consumer-service';
import { trackerShape, type TrackerConfig } from './config';
import { createTrackerMetrics, trackerRoutes, type EventPublisher, type TrackerMetrics } from './routes';

export { trackerShape, type TrackerConfig };

/** What a route set is built from: the tracker's configuration and clients. */
export interface TrackerContext {
  config: TrackerConfig;
  logger: Logger;
  metrics: KairosMetrics;
  producer: Producer;
  /** Publishes a BehaviorEvent on TOPIC_BEHAVIOR_EVENTS (checked against the schema and limits first). */
  events: EventPublisher;
  clock: () => number;
}

/** Routes one part of the tracker contributes: `public` ones need no bearer token, `private` ones do (off loopback). */
export interface TrackerRouteSet {
  public?: Record<string, RouteHandler>;
  private?: Record<string, RouteHandler>;
}

export type TrackerRouteFactory = (context: TrackerContext) => TrackerRouteSet;

export interface TrackerOverrides {
  clock?: () => number;
  logger?: Logger;
  /** Replaces the Kafka publisher (tests: a broker that does not answer). */
  publisher?: EventPublisher;
  /** More route sets beside the links (e.g. SES feedback), mounted on the same server. */
  extraRoutes?: readonly TrackerRouteFactory[];
}

export interface RunningTracker {
  http: HttpServer;
  logger: Logger;
  metrics: KairosMetrics;
  trackerMetrics: TrackerMetrics;
  stop(): Promise<void>;
}

/** The tracker's link routes as a route set (the first entry of the list main composes). */
export function linkRouteSet(context: TrackerContext, trackerMetrics: TrackerMetrics, publisher: EventPublisher, spool?: SpooledEvents): TrackerRouteSet {
  const { config } = context;
  return {
    public: trackerRoutes({
      keyring: linkKeyring(config),
      publisher,
      clock: context.clock,
      policy: { suspectWithinMs: config.TRACKER_SUSPECT_WITHIN },
      publishTimeoutMs: config.TRACKER_PUBLISH_TIMEOUT,
      logger: context.logger,
      metrics: trackerMetrics,
      helpUrl: config.TRACKER_HELP_URL ?? null,
      ...(spool === undefined ? {} : { spool, spoolAgeMs: config.TRACKER_SPOOL_AGE }),
    }),
  };
}

/** Merges route sets; the same key twice is a start-up error (two parts claiming one route). */
export function composeRoutes(sets: readonly TrackerRouteSet[]): { public: Record<string, RouteHandler>; private: Record<string, RouteHandler> } {
  const merged = { public: {} as Record<string, RouteHandler>, private: {} as Record<string, RouteHandler> };
  for (const set of sets) {
    for (const scope of ['public', 'private'] as const) {
      for (const [key, handler] of Object.entries(set[scope] ?? {})) {
        if (Object.hasOwn(merged.public, key) || Object.hasOwn(merged.private, key)) throw new Error(`kairos tracker: route "${key}" is defined twice`);
        merged[scope][key] = handler;
      }
    }
  }
  return merged;
}

/** Publishes BehaviorEvents with the service's idempotent producer, Avro through the registry. */
class KafkaEventPublisher implements EventPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly encode: (event: BehaviorEvent) => Buffer,
  ) {}

  async publish(event: BehaviorEvent): Promise<void> {
    const problem = behaviorEventProblem(event) ?? behaviorEventLimitProblem(event);
    if (problem !== null) throw new Error(`the event would be dead-lettered by its consumers: ${problem}`);
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: event.customer_id, value: this.encode(event) }] });
  }
}

/** How often each instance looks for spooled events older than TRACKER_SPOOL_AGE. */
const SPOOL_DRAIN_INTERVAL_MS = 5000;

/** Drains the spool every `intervalMs` (one round at a time); `stop` waits for the round in progress. */
function startSpoolDrainer(
  spool: EventSpool,
  publisher: EventPublisher,
  options: { ageMs: number; intervalMs: number; logger: Logger; metrics: TrackerMetrics },
): { stop(): Promise<void> } {
  let round: Promise<void> | null = null;
  const timer = setInterval(() => {
    // One round at a time: a round waits for the broker while it is away, later ticks skip.
    round ??= (async () => {
      try {
        const { published, dropped } = await spool.drain((event) => publisher.publish(event), options.ageMs, options.logger);
        if (published > 0) options.metrics.published.inc({ type: 'spool', result: 'recovered' }, published);
        if (dropped > 0) options.metrics.published.inc({ type: 'spool', result: 'spool_dropped' }, dropped);
        if (published + dropped > 0) options.logger.info({ published, dropped }, 'tracker spool drained');
      } catch (err) {
        options.logger.warn({ err }, 'tracker spool drain failed; retrying next round');
      } finally {
        round = null;
      }
    })();
  }, options.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      // A round waits for the broker while it is away: stopping does not wait longer than a few seconds for it.
      if (round !== null) await Promise.race([round, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    },
  };
}

/** Starts the tracker; refuses a weak or development link secret before connecting to anything. */
export async function startTracker(config: TrackerConfig, overrides: TrackerOverrides = {}): Promise<RunningTracker> {
  linkKeyring(config); // ConfigError (exit 78) before anything connects
  const logger = overrides.logger ?? createLogger({ service: 'tracker', level: config.LOG_LEVEL, secretKeys: secretVariables(trackerShape) });
  const metrics = createMetrics('tracker');
  const trackerMetrics = createTrackerMetrics(metrics.registry);
  const clock = overrides.clock ?? Date.now;
  const clientId = config.KAFKA_CLIENT_ID ?? 'kairos-tracker';
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId, logger });
  const producer = createIdempotentProducer(kafka);
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const types = recordTypes();
  const schemaId = await codec.idOf(valueSubject(config.TOPIC_BEHAVIOR_EVENTS), readSchema('BehaviorEvent'));
  await atStartWhenBrokerAnswers('producer connect', () => producer.connect(), { timeoutMs: config.KAFKA_CONNECT_TIMEOUT, logger, brokers: config.KAFKA_BROKERS });
  const events = overrides.publisher ?? new KafkaEventPublisher(producer, config.TOPIC_BEHAVIOR_EVENTS, (event) => codec.encode(schemaId, types.BehaviorEvent, event));
  const context: TrackerContext = { config, logger, metrics, producer, events, clock };
  // SES feedback keeps suppression, Send records and the guard's counts in Redis, under the
  // renderer's REDIS_KEY_PREFIX.
  const redis = createRedis(config, { connectionName: 'kairos-tracker', logger });
  await ensureRedisReachable(redis, config, config.REDIS_CONNECT_TIMEOUT);
  const feedback = await createSesFeedbackRoutes({ config, redis, producer, codec, logger, registry: metrics.registry, clock });
  // Opens and clicks Kafka did not take in time wait in Redis (spool.ts); every instance drains what a killed one left.
  const spool = new EventSpool(redis, config.REDIS_KEY_PREFIX);
  const drainer = startSpoolDrainer(spool, events, { ageMs: config.TRACKER_SPOOL_AGE, intervalMs: SPOOL_DRAIN_INTERVAL_MS, logger, metrics: trackerMetrics });

  const kafkaHealth = kafkaProbe({ brokers: config.KAFKA_BROKERS, clientId: `${clientId}-health`, topics: [config.TOPIC_BEHAVIOR_EVENTS], timeoutMs: DEFAULT_PROBE_TIMEOUT_MS });
  const monitor = new HealthMonitor({
    probes: { kafka: kafkaHealth.probe, registry: registryProbe(config.SCHEMA_REGISTRY_URL, DEFAULT_PROBE_TIMEOUT_MS), redis: redisProbe(redis) },
    logger,
  });
  monitor.start();

  // SNS sends no bearer token: the feedback route is public, authenticated by the SNS signature.
  const sets = [linkRouteSet(context, trackerMetrics, events, spool), { public: feedback }, ...(overrides.extraRoutes ?? []).map((factory) => factory(context))];
  const routes = composeRoutes(sets);
  const http = await startHttpServer({
    port: config.HTTP_PORT,
    host: config.HTTP_HOST,
    credentials: credentialsOf(config),
    registry: metrics.registry,
    logger,
    readiness: monitor.checks(),
    routes: routes.private,
    publicRoutes: routes.public,
  });
  logger.info({ http: http.port, topic: config.TOPIC_BEHAVIOR_EVENTS, publicRoutes: Object.keys(routes.public), privateRoutes: Object.keys(routes.private) }, 'started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      http.beginStopping();
      monitor.stop();
      await drainer.stop();
      await http.close();
      await producer.disconnect();
      await kafkaHealth.close();
      redis.disconnect();
    })());
  return { http, logger, metrics, trackerMetrics, stop };
}

if (require.main === module) serviceMain('tracker', trackerShape, (config) => startTracker(config));

/** For tools and tests: the configuration from the environment. */
export function loadTrackerConfig(env: NodeJS.ProcessEnv = process.env): TrackerConfig {
  return loadConfig(trackerShape, env);
}
