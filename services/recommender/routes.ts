import { Partitioners, type PartitionMetadata } from 'kafkajs';
import type { ServerResponse } from 'node:http';
import { decodeViews, MAX_PRODUCT_ID_LENGTH, rankRecommendations, type RecommendedProduct, type Seed, type Strategy } from '../core/recommendations';
import { sendJson, type RouteHandler } from '../kit/http';
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

class BadRequest extends Error {}

function limitOf(url: URL): number {
  const raw = url.searchParams.get('limit');
  if (raw === null || raw === '') return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

function idOf(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name)?.trim();
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_PRODUCT_ID_LENGTH) throw new BadRequest(`${name} is longer than ${MAX_PRODUCT_ID_LENGTH} characters`);
  return value;
}

/** product_id and cart_product_ids (comma-separated), deduplicated, in that order. */
function contextProducts(url: URL): string[] {
  const product = idOf(url, 'product_id');
  const cart = (url.searchParams.get('cart_product_ids') ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (cart.some((id) => id.length > MAX_PRODUCT_ID_LENGTH)) throw new BadRequest(`a cart_product_ids entry is longer than ${MAX_PRODUCT_ID_LENGTH} characters`);
  const products = [...new Set([...(product ? [product] : []), ...cart])];
  if (products.length > MAX_CONTEXT_PRODUCTS) throw new BadRequest(`at most ${MAX_CONTEXT_PRODUCTS} context products`);
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

function guarded(handler: (url: URL) => Promise<unknown>): RouteHandler {
  return async (_req, res: ServerResponse, url) => {
    let body: unknown;
    try {
      body = await handler(url);
    } catch (err) {
      if (err instanceof BadRequest) {
        sendJson(res, 400, { error: err.message });
        return;
      }
      throw err;
    }
    res.setHeader('cache-control', 'no-store');
    sendJson(res, 200, body);
  };
}

/** The HTTP API: GET /recommendations and GET /best-sellers. */
export function recommenderRoutes(deps: RouteDeps): Record<string, RouteHandler> {
  const recommend = async (url: URL): Promise<RecommendationsBody> => {
    const limit = limitOf(url);
    const customerId = idOf(url, 'customer_id');
    const context = contextProducts(url);
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
    const limit = limitOf(url);
    const popular = await deps.store.popular(deps.clock(), deps.dayWeights, limit);
    return { items: popular.map(([product]) => deps.catalog.describe(product)), strategy: 'popular' };
  };

  return {
    'GET /recommendations': guarded(recommend),
    'GET /best-sellers': guarded(bestSellers),
  };
}
