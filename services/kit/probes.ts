import { Kafka, logLevel, type Admin } from './kafkajs';
import { withoutCredentials, type Probe } from './health';
import { ignoreKafkajsNegativeTimeouts } from './node-warnings';
import type { RedisClient } from './redis';

/**
 * The Kafka probe: metadata of the service's input topics, through an admin client of its own
 * that stays connected between probes, never retries and gives up on a request after
 * `timeoutMs`, so a broker that stopped answering cannot hold the next probes back for long.
 */
export function kafkaProbe(options: { brokers: string[]; clientId: string; topics: string[]; timeoutMs: number }): {
  probe: Probe;
  close(): Promise<void>;
} {
  ignoreKafkajsNegativeTimeouts();
  const kafka = new Kafka({
    brokers: options.brokers,
    clientId: options.clientId,
    // The monitor logs one line when Kafka is lost and one when it is back; this client's own
    // connection errors every 2 s would only repeat what the consumer already logs.
    logLevel: logLevel.NOTHING,
    connectionTimeout: options.timeoutMs,
    requestTimeout: options.timeoutMs,
    retry: { retries: 0 },
  });
  let admin: Admin | undefined;
  let connected: Promise<void> | undefined;
  return {
    probe: async () => {
      admin ??= kafka.admin();
      const current = admin;
      connected ??= current.connect().catch((error: unknown) => {
        connected = undefined;
        throw error;
      });
      await connected;
      await current.fetchTopicMetadata({ topics: options.topics });
    },
    close: async () => {
      // Only a probe's connection: failing to close it must not stop the rest of a shutdown.
      await admin?.disconnect().catch(() => undefined);
    },
  };
}

/** The Redis probe: PING, refused at once while the client is not connected rather than queued. */
export function redisProbe(redis: RedisClient): Probe {
  return async () => {
    if (redis.status !== 'ready') throw new Error(`not connected (client ${redis.status})`);
    await redis.ping();
  };
}

/**
 * The registry probe: GET `<SCHEMA_REGISTRY_URL>/subjects`, the cheapest read of the
 * Confluent-compatible API. Credentials in the URL become a Basic authorization header.
 */
export function registryProbe(registryUrl: string, timeoutMs: number): Probe {
  const url = new URL(`${registryUrl.replace(/\/+$/, '')}/subjects`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const target = url.toString();
  return async () => {
    let res: Response;
    try {
      res = await fetch(target, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      // fetch says only "fetch failed"; the cause names the refused port or the DNS failure.
      const cause = (error as { cause?: unknown }).cause;
      throw new Error(`GET ${withoutCredentials(target)} failed: ${cause instanceof Error ? cause.message : String(error)}`);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`GET ${target} answered HTTP ${res.status}`);
  };
}
