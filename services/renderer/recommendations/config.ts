/** The client's environment variables (part of the renderer's config shape) and building it from them. */
import type { z } from 'zod';
import type { RecommendedProduct } from '../../core/recommendations';
import { bearerTokenVar, durationVar, intVar, stringVar, urlVar } from '../../kit/config';
import { readConfigFile } from '../../kit/files';
import { RecommendationsClient, type RecommendationsClientOptions } from './client';
import { parseFallbackProducts } from './response';

/** Environment variables of the client, for the renderer's config shape. */
export const recommendationsClientShape = {
  RECOMMENDER_URL: urlVar().default('http://127.0.0.1:8095'),
  // The recommender's HTTP_AUTH_TOKEN (from the same Secret); unset when the recommender has none.
  RECOMMENDER_AUTH_TOKEN: bearerTokenVar(32).optional(),
  RECOMMENDER_ALLOWED_HOSTS: stringVar({
    pattern: /^[A-Za-z0-9.[\]:-]+(?:,[A-Za-z0-9.[\]:-]+)*$/,
    expected: 'comma-separated hosts or host:port, like recommender.internal,127.0.0.1:8095',
  }).default('127.0.0.1,localhost'),
  RECOMMENDER_TIMEOUT: durationVar().default(300),
  RECOMMENDER_CACHE_TTL: durationVar().default(60_000),
  RECOMMENDER_CACHE_SIZE: intVar(0, 1_000_000).default(1000),
  RECOMMENDER_BREAKER_FAILURES: intVar(1, 1000).default(5),
  RECOMMENDER_BREAKER_COOLDOWN: durationVar().default(30_000),
  RECOMMENDER_BEST_SELLERS_REFRESH: durationVar().default(300_000),
  RECOMMENDER_FALLBACK_FILE: stringVar().optional(),
};

export type RecommendationsClientConfig = z.infer<z.ZodObject<typeof recommendationsClientShape>>;

/** Builds the client from configuration; a bad fallback file or a non-allowed URL throws at start-up. */
export function createRecommendationsClient(
  config: RecommendationsClientConfig,
  deps: Pick<RecommendationsClientOptions, 'registry' | 'logger' | 'onOutcome' | 'clock' | 'fetch'> = {},
): RecommendationsClient {
  let fallbackProducts: RecommendedProduct[] = [];
  if (config.RECOMMENDER_FALLBACK_FILE !== undefined) {
    const { path, text } = readConfigFile(config.RECOMMENDER_FALLBACK_FILE);
    fallbackProducts = parseFallbackProducts(path, text);
  }
  return new RecommendationsClient({
    baseUrl: config.RECOMMENDER_URL,
    authToken: config.RECOMMENDER_AUTH_TOKEN,
    allowedHosts: config.RECOMMENDER_ALLOWED_HOSTS.split(','),
    timeoutMs: config.RECOMMENDER_TIMEOUT,
    cacheTtlMs: config.RECOMMENDER_CACHE_TTL,
    cacheSize: config.RECOMMENDER_CACHE_SIZE,
    breakerFailures: config.RECOMMENDER_BREAKER_FAILURES,
    breakerCooldownMs: config.RECOMMENDER_BREAKER_COOLDOWN,
    bestSellersRefreshMs: config.RECOMMENDER_BEST_SELLERS_REFRESH,
    fallbackProducts,
    ...deps,
  });
}
