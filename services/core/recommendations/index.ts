/**
 * Recommendations, pure: what the renderer shows and the port it gets it through, and the
 * recommender's counting (views, popularity, co-views) and ranking. The recommender service
 * wraps these with Kafka, Redis and HTTP.
 */
export type { RecommendationRequest, RecommendationSource, RecommendationStrategy, RecommendedProduct, Recommendations } from './source';
export { DAY_MS, MAX_PRODUCT_ID_LENGTH, dayOf, dayWeights, parseWeights, type RecommenderTuning } from './tuning';
export { decodeViews, emptyViews, encodeViews, type CustomerViews } from './views';
export { applyBatch, isEmptyDeltas, pairKey, splitPair, type BatchDeltas, type BatchResult } from './batch';
export { decodeDeltaRecord, encodeDeltaRecord, neighborIncrements, popularityByDay, toDeltaRecord, type DeltaRecord } from './deltas';
export { rankRecommendations, type Seed, type Strategy } from './rank';
