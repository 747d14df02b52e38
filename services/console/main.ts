/**
 * The console: web pages for marketers and ops over what the services keep (their HTTP APIs,
 * Redis read-only, the topics as a read_committed reader). It changes no state.
 *
 *   node dist/services/console/main.js        # http://127.0.0.1:8090/
 *
 * Loopback by default; any other HTTP_HOST needs HTTP_AUTH_TOKEN (exit 78 without it), which
 * browsers present as HTTP Basic (user CONSOLE_USER) and scripts as a bearer token.
 */
import { loadConfig, runMain, secretVariables } from '../kit/config';
import { assertSafeExposure, credentialsOf } from '../kit/http-auth';
import { atStartWhenBrokerAnswers, createKafka, withAdmin } from '../kit/kafka';
import { shutdownOnSignals } from '../kit/lifecycle';
import { createLogger, type Logger } from '../kit/logger';
import { createMetrics } from '../kit/metrics';
import { partitionOf } from '../kit/partitioner';
import { createRedis, ensureRedisReachable } from '../kit/redis';
import type { CustomerProfile } from '../core/types';
import { RendererKeys } from '../renderer/keys';
import { ConsoleAuth } from './auth';
import { consoleShape, type ConsoleConfig } from './config';
import { ConsoleFeed } from './feed';
import { Views } from './render';
import { buildConsoleServer, type ProfileReader } from './server';
import { Upstreams } from './upstream';

export { consoleShape, type ConsoleConfig };

const SERVICE = 'console';
const KAFKA_CONNECT_TIMEOUT_MS = 120_000;
const REDIS_CONNECT_TIMEOUT_MS = 5000;

export interface RunningConsole {
  port: number;
  host: string;
  logger: Logger;
  stop(): Promise<void>;
}

export async function startConsole(config: ConsoleConfig, overrides: { logger?: Logger; clock?: () => number } = {}): Promise<RunningConsole> {
  // Before anything connects: an exposed console without a credential does not start (exit 78).
  const tokens = credentialsOf(config);
  assertSafeExposure(config.HTTP_HOST, tokens);
  const logger = overrides.logger ?? createLogger({ service: SERVICE, level: config.LOG_LEVEL, secretKeys: secretVariables(consoleShape) });
  const metrics = createMetrics(SERVICE);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-console', logger });
  const redis = createRedis(config, { connectionName: 'kairos-console' });
  await ensureRedisReachable(redis, config, REDIS_CONNECT_TIMEOUT_MS);
  const upstreams = new Upstreams(config);
  const feed = new ConsoleFeed(config, kafka, upstreams, logger, overrides.clock);

  // The renderer's stored profile, read-only. Its keys are tagged with the partition of the
  // co-partitioned inputs; the partition count is the triggers topic's (asked once, then kept).
  const keys = new RendererKeys(config.REDIS_KEY_PREFIX);
  let partitions: number | null = null;
  const profiles: ProfileReader = async (customerId) => {
    if (partitions === null) {
      const count = await withAdmin(kafka, async (admin) => (await admin.fetchTopicMetadata({ topics: [config.TOPIC_TRIGGERS] })).topics[0]?.partitions.length ?? 0);
      if (count === 0) return null;
      partitions = count;
    }
    const text = await redis.hget(keys.customer(partitionOf(customerId, partitions), customerId), 'p');
    if (text === null) return null;
    try {
      return JSON.parse(text) as CustomerProfile;
    } catch {
      return null;
    }
  };

  const app = await buildConsoleServer({
    config,
    auth: new ConsoleAuth(tokens.api, config.CONSOLE_USER),
    feed,
    upstreams,
    views: new Views(),
    logger,
    registry: metrics.registry,
    profiles,
    ...(overrides.clock === undefined ? {} : { clock: overrides.clock }),
  });
  await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.HTTP_PORT;
  logger.info({ host: config.HTTP_HOST, port, auth: tokens.api.length > 0 ? 'basic or bearer' : 'none (loopback only)' }, 'console listening');
  // Listening first: the probes answer while the topics are read (/readyz is 503 until caught up).
  try {
    await atStartWhenBrokerAnswers('read the topics', () => feed.start(), { timeoutMs: KAFKA_CONNECT_TIMEOUT_MS, logger, brokers: config.KAFKA_BROKERS });
  } catch (error) {
    await app.close().catch(() => undefined);
    await feed.stop().catch(() => undefined);
    redis.disconnect();
    throw error;
  }
  return {
    port,
    host: config.HTTP_HOST,
    logger,
    stop: async () => {
      await app.close();
      await feed.stop();
      redis.disconnect();
    },
  };
}

if (require.main === module) {
  void runMain(SERVICE, async () => {
    const config = loadConfig(consoleShape);
    const running = await startConsole(config);
    shutdownOnSignals(running.logger, () => [{ name: SERVICE, run: () => running.stop() }]);
  });
}
