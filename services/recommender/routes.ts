import { Partitioners, type PartitionMetadata } from '../kit/kafkajs';
import type { ServerResponse } from 'node:http';
import { decodeViews, MAX_PRODUCT_ID_LENGTH, rankRecommendations, type RecommendedProduct, type Seed, type Strategy } from '../core/recommendations';
import { sendJson, type RouteHandler } from '../kit/http';
import { badRequest, intParam, listParam, MAX_ID_PARAM_LENGTH, parseQuery, textParam } from '../kit/http-params';
import type { PartitionKeys } from '../kit/partition-state';
import type { RedisClient } from '../kit/redis';
import type { Catalog } from './catalog';
import type { RecommendationStore } from './store';

export const DEFAULT_LIMIT = 4;
export const MAX_LIMIT = 20;
const MAX_CONTEXT_PRODUCTS = 20;
/** A customer's recent views count half as much as the products the email is about. */
const RECENT_VIEW_WEIGHT = 0.5;

export interface RecommendationsBody {
  items: RecommendedProduct[];
  fallback: false;
  strategy: Strategy;
}

export interface RouteDeps {
  store: RecommendationStore;
  catalog: Catalog;
  redis: RedisClient;
  partitionKeys: PartitionKeys;
  partitionCount: () => number;
  dayWeights: readonly number[];
  neighborsPerSeed: number;
  clock: () => number;
}

const QUERY = {
  customer_id: textParam(MAX_ID_PARAM_LENGTH).optional(),
  product_id: textParam(MAX_PRODUCT_ID_LENGTH).optional(),
  cart_product_ids: listParam(MAX_CONTEXT_PRODUCTS, MAX_PRODUCT_ID_LENGTH).optional(),
  limit: intParam(1, MAX_LIMIT).optional(),
};

/** product_id and cart_product_ids, deduplicated, in that order. */
function contextProducts(query: { product_id?: string; cart_product_ids?: string[] }): string[] {
  const products = [...new Set([...(query.product_id !== undefined ? [query.product_id] : []), ...(query.cart_product_ids ?? [])])];
  if (products.length > MAX_CONTEXT_PRODUCTS) throw badRequest('cart_product_ids', `names more than ${MAX_CONTEXT_PRODUCTS} products together with product_id`);
  return products;
}

/**
 * The partition a producer keyed by customer id wrote to (Java-compatible murmur2, what
 * kafkajs and Java producers use), which is where the customer's recent views live.
 */
export function partitionOfCustomer(customerId: string, partitionCount: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [],
    isr: [],
  }));
  return Partitioners.DefaultPartitioner()({ topic: 'behavior.events', partitionMetadata, message: { key: customerId, value: null } });
}

async function recentViews(deps: RouteDeps, customerId: string | undefined): Promise<string[]> {
  const count = deps.partitionCount();
  if (customerId === undefined || count === 0) return [];
  const partition = partitionOfCustomer(customerId, count);
  const text = await deps.redis.get(deps.partitionKeys.customer(partition, customerId));
  return decodeViews(text).views.map((view) => view.product);
}

function answer(handler: (url: URL) => Promise<unknown>): RouteHandler {
  return async (_req, res: ServerResponse, url) => {
    const body = await handler(url);
    res.setHeader('cache-control', 'no-store');
    sendJson(res, 200, body);
  };
}

/** The HTTP API: GET /recommendations and GET /best-sellers (behind the service's credential). */
export function recommenderRoutes(deps: RouteDeps): Record<string, RouteHandler> {
  const recommend = async (url: URL): Promise<RecommendationsBody> => {
    const query = parseQuery(url, QUERY);
    const limit = query.limit ?? DEFAULT_LIMIT;
    const customerId = query.customer_id;
    const context = contextProducts(query);
    const exclude = new Set(context);
    const recent = (await recentViews(deps, customerId)).filter((p) => !exclude.has(p));
    const seeds: Seed[] = [
      ...context.map((product) => ({ product, weight: 1 })),
      ...recent.map((product) => ({ product, weight: RECENT_VIEW_WEIGHT })),
    ];
    const [neighbors, popular] = await Promise.all([
      deps.store.neighborsOf(seeds.map((s) => s.product), deps.neighborsPerSeed),
      deps.store.popular(deps.clock(), deps.dayWeights, limit + exclude.size),
    ]);
    const ranked = rankRecommendations({ seeds, neighbors: neighbors, popular, exclude, limit });
    return { items: ranked.products.map((p) => deps.catalog.describe(p)), fallback: false, strategy: ranked.strategy };
  };

  const bestSellers = async (url: URL): Promise<{ items: RecommendedProduct[]; strategy: 'popular' }> => {
    const limit = parseQuery(url, { limit: QUERY.limit }).limit ?? DEFAULT_LIMIT;
    const popular = await deps.store.popular(deps.clock(), deps.dayWeights, limit);
    return { items: popular.map(([product]) => deps.catalog.describe(product)), strategy: 'popular' };
  };

  return {
    'GET /recommendations': answer(recommend),
    'GET /best-sellers': answer(bestSellers),
  };
}
