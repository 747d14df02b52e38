/**
 * The renderer: reads triggers (plus customer.profiles and the unsubscribe events of
 * behavior.events), chooses at most one campaign per trigger, renders it and sends it through
 * SES exactly once, and records one EmailOutcome per trigger on email.outcomes.
 *
 *   node dist/services/renderer/main.js
 */
import type { Registry } from 'prom-client';
import type { RecommendationSource } from '../core/recommendations';
import type { TriggerFired } from '../core/types';
import { readSchema, valueSubject } from '../kit/codec';
import { secretVariables } from '../kit/config';
import { linkKeyring } from '../kit/link-keys';
import { bindTopic, type AnyTopicBinding, type ConsumerRunner } from '../kit/consumer-runner';
import { createOutboxRelay, createServiceClients, runConsumerService, serviceMain } from '../kit/consumer-service';
import type { RelayHooks } from '../kit/outbox-relay';
import { behaviorEventsInput, customerProfilesInput } from '../kit/inputs';
import type { HttpServer } from '../kit/http';
import type { Logger } from '../kit/logger';
import type { KairosMetrics } from '../kit/metrics';
import type { RedisClient } from '../kit/redis';
import { loadRendererAssets } from './assets';
import { rendererShape, senderOf, type RendererConfig } from './config';
import { StaticRecommendations } from './fallback-recommendations';
import { RendererKeys } from './keys';
import { KafkaLogInspector } from '../kit/log-inspector';
import { withOverdueTimerGauge } from '../kit/timer-watch';
import { createRendererMetrics, pausedCampaignsGauge, templatePartsCounter, type RendererMetrics } from './metrics';
import { contentOptions, throwAwayLinkKey } from './preview';
import { RedisSendRateLimiter, type SendRateLimiter } from './rate-limit';
import { rendererRoutes } from './routes';
import { createRecommendationsClient } from './recommendations';
import { Renderer, type RendererHooks } from './renderer';
import { EmulatorSentMailLookup, NoSentMailLookup, SesEventSentMailLookup, type SentMailLookup } from './sent-lookup';
import { createSesClient, RetryingSender, SesEmailSender, type EmailSender } from './ses';
import { RendererStore } from './store';

export { rendererShape, type RendererConfig };

export interface RendererOverrides {
  clock?: () => number;
  logger?: Logger;
  /** The recommender's client; StaticRecommendations (FALLBACK_PRODUCT_IDS) when absent. */
  recommendations?: RecommendationSource;
  /** One SES attempt (tests wrap SES to inject throttling); SES v2 when absent. */
  emailSender?: EmailSender;
  /** Wraps the shared SES rate limiter (tests record its admissions, on the Redis server clock). */
  rateLimiter?: (limiter: SendRateLimiter) => SendRateLimiter;
  sentLookup?: SentMailLookup;
  hooks?: RendererHooks;
  /** Fault injection for tests (the outbox relay). */
  relayHooks?: RelayHooks;
}

export interface RunningRenderer {
  http: HttpServer;
  runner: ConsumerRunner;
  /** Resolves if the consumer stops on an error that retrying cannot fix (serviceMain then exits 70). */
  fatal: Promise<Error>;
  renderer: Renderer;
  store: RendererStore;
  redis: RedisClient;
  metrics: KairosMetrics;
  rendererMetrics: RendererMetrics;
  logger: Logger;
  stop(): Promise<void>;
}

function triggerProblem(trigger: TriggerFired): string | null {
  if (trigger.trigger_id.trim() === '') return 'trigger_id is empty';
  if (trigger.customer_id.trim() === '') return 'customer_id is empty';
  return null;
}

/** The recommender's client (warmed with its best sellers), or the static list when configured so. */
async function recommendationSource(config: RendererConfig, registry: Registry, logger: Logger): Promise<RecommendationSource> {
  if (config.RECOMMENDATIONS_SOURCE === 'static') {
    return new StaticRecommendations(config.FALLBACK_PRODUCT_IDS?.split(',') ?? [], config.PRODUCT_URL_TEMPLATE);
  }
  const client = createRecommendationsClient(config, { registry, logger });
  // Fills the fallback (and loads fetch) before the first render; failing is fine: the client retries later.
  if (!(await client.refreshBestSellers())) logger.warn({ recommender: config.RECOMMENDER_URL }, 'recommender not reachable at start-up; rendering with fallbacks until it is');
  return client;
}

/** Starts the renderer; validates campaigns and templates before connecting to anything. */
export async function startRenderer(config: RendererConfig, overrides: RendererOverrides = {}): Promise<RunningRenderer> {
  // Refuses a development or reused secret, or a From that is not one address (ConfigError), before anything else.
  const keyring = linkKeyring(config);
  const from = senderOf(config);
  const assets = loadRendererAssets(config.CAMPAIGNS_FILE, config.TEMPLATES_DIR);
  const clients = createServiceClients('renderer', config, { ...overrides, secretKeys: secretVariables(rendererShape) });
  const { logger, metrics, redis, codec, types, clock } = clients;
  const rendererMetrics = createRendererMetrics(metrics.registry);
  const outcomesId = await codec.idOf(valueSubject(config.TOPIC_EMAIL_OUTCOMES), readSchema('EmailOutcome'));
  const keys = new RendererKeys(config.REDIS_KEY_PREFIX);
  const store = new RendererStore(redis, keys, config.LEDGER_TTL);
  const content = contentOptions(config, keyring.current);
  const recommendations = overrides.recommendations ?? (await recommendationSource(config, metrics.registry, logger));

  const ses = overrides.emailSender ?? new SesEmailSender(createSesClient({ region: config.AWS_REGION, endpoint: config.SES_ENDPOINT, requestTimeoutMs: config.SES_REQUEST_TIMEOUT }), config.SES_CONFIGURATION_SET);
  const sender = new RetryingSender(
    ses,
    (overrides.rateLimiter ?? ((limiter: SendRateLimiter) => limiter))(new RedisSendRateLimiter(redis, keys.rateLimit(), config.SES_MAX_SEND_RATE)),
    { maxAttempts: config.SES_MAX_ATTEMPTS, baseDelayMs: config.SES_RETRY_BASE, maxDelayMs: config.SES_RETRY_MAX },
    {
      retrying: ({ attempt, delayMs, errorName, kind }) => {
        rendererMetrics.sesRetries.inc({ error: errorName, kind });
        logger.warn({ attempt, delayMs, errorName, kind }, 'SES call failed; retrying');
      },
    },
  );
  const lookupKind = config.SENT_MAIL_LOOKUP === 'auto' ? (config.SES_ENDPOINT ? 'ses-emulator' : 'ses-events') : config.SENT_MAIL_LOOKUP;
  const sentLookup =
    overrides.sentLookup ??
    (lookupKind === 'ses-emulator' && config.SES_ENDPOINT
      ? new EmulatorSentMailLookup(config.SES_ENDPOINT, keyring, clock)
      : lookupKind === 'ses-events'
        ? new SesEventSentMailLookup(redis, config.REDIS_KEY_PREFIX, { waitMs: config.SENT_MAIL_WAIT, clock, logger })
        : new NoSentMailLookup());
  pausedCampaignsGauge(metrics.registry, store);
  templatePartsCounter(metrics.registry, assets.templates);
  // The relay re-takes its partitions (fencing a previous owner) when the group generation changes.
  const group: { runner?: ConsumerRunner } = {};
  // The outbox follows the partitions of the triggers topic (the first input).
  const relay = createOutboxRelay(clients, config, {
    outboxKey: (partition) => keys.outbox(partition),
    // Relays are guarded by the state marker's incarnation (Renderer.relay).
    fenceKey: (partition) => keys.stateMarker(partition),
    topic: config.TOPIC_TRIGGERS,
    generation: () => group.runner?.currentGeneration() ?? 0,
    hooks: overrides.relayHooks,
  });

  const renderer = new Renderer({
    generation: () => group.runner?.currentGeneration() ?? 0,
    store,
    assets,
    recommendations,
    sender,
    sentLookup,
    outcomes: { topic: config.TOPIC_EMAIL_OUTCOMES, encode: (value) => codec.encode(outcomesId, types.EmailOutcome, value) },
    relay,
    logger,
    metrics: rendererMetrics,
    clock,
    content,
    from,
    unsubscribeAddress: config.LIST_UNSUBSCRIBE_MAILTO ? config.UNSUBSCRIBE_MAILTO : null,
    messageIdDomain: from.mailbox.domain,
    topics: { triggers: config.TOPIC_TRIGGERS, profiles: config.TOPIC_CUSTOMER_PROFILES, events: config.TOPIC_BEHAVIOR_EVENTS },
    log: new KafkaLogInspector(clients.admin, config.GROUP_ID),
    triggerBatchMaxMs: config.TRIGGER_BATCH_MAX_TIME,
    hooks: overrides.hooks,
  });

  const bindings: AnyTopicBinding[] = [
    bindTopic<TriggerFired>({ topic: config.TOPIC_TRIGGERS, type: types.TriggerFired, validate: (t) => triggerProblem(t), keyField: 'customer_id', eventTimeField: 'fired_at' }),
    customerProfilesInput(config.TOPIC_CUSTOMER_PROFILES, types.CustomerProfile),
    // Only `unsubscribe` matters here; other events are decoded and ignored (but one over a
    // limit, impossible or dated beyond MAX_CLOCK_SKEW is dead-lettered, as in every service that reads the topic).
    behaviorEventsInput(config.TOPIC_BEHAVIOR_EVENTS, types.BehaviorEvent),
  ];

  const service = await runConsumerService(clients, {
    config,
    bindings,
    handler: renderer.handleBatch,
    background: withOverdueTimerGauge(
      {
        start: (partitions, intervalMs) => renderer.startTimers(partitions, intervalMs),
        stop: () => renderer.stopTimers(),
        close: () => relay.close(),
      },
      // Deferred sends (quiet hours, send_delay) wait in the partition's timers.
      { redis, timersKey: (partition) => keys.timers(partition), gauge: metrics.timersOverdueSeconds, clock, logger },
    ),
    // Previews sign with a throw-away key: a preview's links must not verify at the tracker.
    routes: (partitionCount) => rendererRoutes({ store, assets, recommendations, content: contentOptions(config, throwAwayLinkKey()), clock, partitionCount }),
    describe: { campaigns: assets.campaigns.length, sentMailLookup: sentLookup.constructor.name, outputGuarantee: config.OUTPUT_GUARANTEE },
  });
  group.runner = service.runner;
  const { http, stop } = service;
  return { http, runner: service.runner, fatal: service.fatal, renderer, store, redis, metrics, rendererMetrics, logger, stop };
}

if (require.main === module) serviceMain('renderer', rendererShape, (config) => startRenderer(config));
