/**
 * The renderer's HTTP client for the recommender: implements RecommendationSource with a
 * strict timeout, an allow-list of hosts, a small LRU cache with TTL, a circuit breaker and a
 * fallback block, so `recommend` never rejects and always answers within the timeout.
 */
export { RecommendationsClient, type RecommendationOutcome, type RecommendationsClientOptions } from './client';
export { createRecommendationsClient, recommendationsClientShape, type RecommendationsClientConfig } from './config';
export { HostNotAllowedError, RecommenderResponseError } from './errors';
export { isAllowedUrl } from './allow-list';
export { TtlLru } from './ttl-cache';
export { CircuitBreaker, type BreakerState } from './circuit-breaker';
export { cleanProducts, parseFallbackProducts } from './response';
