/**
 * The recommender's shared (cross-customer) aggregates in Redis. Thin: builds keys and
 * arguments (the pure *Args functions), runs the Lua scripts in services/recommender/lua, reads.
 *
 * Key layout (prefix `P`, REDIS_KEY_PREFIX):
 *   {P:recommender:<partition>}:c:<customer>   a customer's recent views (partition state)
 *   {P:recommender:<partition>}:fence|outbox   the partition's offset fence and delta outbox
 *   {P:recommender:pop}:d:<day>                popularity of one UTC day (zset product -> weight)
 *   {P:recommender:pop}:marks                  last applied batch offset per topic:partition
 *   {P:recommender:pop}:top:<day>              cached decayed sum of the retained days
 *   {P:recommender:p:<product>}:co             the product's top neighbors (zset -> co-views)
 *   {P:recommender:p:<product>}:marks          last applied batch offset per topic:partition
 * Per-partition keys share the partition's tag; popularity is one tag (one slot); each
 * product is its own tag, so co-view keys spread over a Redis Cluster.
 */
import { DAY_MS, dayOf, neighborIncrements, popularityByDay, type DeltaRecord } from '../core/recommendations';
import { loadServiceScripts, runScript, type RedisClient } from '../kit/redis';

export class RecommenderKeys {
  constructor(
    readonly prefix: string,
    readonly service = 'recommender',
  ) {}

  private popularityTag(): string {
    return `{${this.prefix}:${this.service}:pop}`;
  }
  popularityDay(day: number): string {
    return `${this.popularityTag()}:d:${day}`;
  }
  popularityMarks(): string {
    return `${this.popularityTag()}:marks`;
  }
  popularityCache(newestDay: number): string {
    return `${this.popularityTag()}:top:${newestDay}`;
  }
  private productTag(product: string): string {
    return `{${this.prefix}:${this.service}:p:${product}}`;
  }
  neighbors(product: string): string {
    return `${this.productTag(product)}:co`;
  }
  neighborMarks(product: string): string {
    return `${this.productTag(product)}:marks`;
  }
}

export interface StoreLimits {
  /** Days of popularity kept and summed. */
  popularityDays: number;
  /** Products kept per popularity day bucket (and in the cached sum). */
  popularityMaxProducts: number;
  /** Neighbors kept per product. */
  neighborsMax: number;
  /** How long a product's neighbors live after their last change. */
  neighborsTtlMs: number;
  /** How long the decayed popularity sum is cached; 0 recomputes on every read. */
  popularCacheTtlMs: number;
}

/** What the scripts' KEYS and ARGV are: the pure part of a script call. */
export interface ScriptCall {
  keys: string[];
  args: string[];
}

/**
 * The call of applyPopularity-n.lua for one batch (see its header), or null when the batch
 * touched no popularity: the marks, then one bucket per day; each bucket's expiry and weights
 * as one JSON argument, in the buckets' KEYS order.
 */
export function applyPopularityArgs(keys: RecommenderKeys, limits: Pick<StoreLimits, 'popularityDays' | 'popularityMaxProducts'>, record: DeltaRecord): ScriptCall | null {
  const byDay = popularityByDay(record.popularity);
  if (byDay.size === 0) return null;
  const days = [...byDay.keys()];
  // A bucket lives until it leaves the summed window.
  const buckets = days.map((day) => [
    String((day + limits.popularityDays + 1) * DAY_MS),
    (byDay.get(day) ?? []).map(([product, weight]) => [product, String(weight)]),
  ]);
  return {
    keys: [keys.popularityMarks(), ...days.map((day) => keys.popularityDay(day))],
    args: [record.source, record.offset, String((limits.popularityDays + 1) * DAY_MS), String(limits.popularityMaxProducts), JSON.stringify(buckets)],
  };
}

/** The calls of applyCoViews-2.lua for one batch, one per touched product; its increments as one JSON argument. */
export function applyCoViewsArgs(keys: RecommenderKeys, limits: Pick<StoreLimits, 'neighborsTtlMs' | 'neighborsMax'>, record: DeltaRecord): ScriptCall[] {
  return [...neighborIncrements(record.coViews)].map(([product, neighbors]) => ({
    keys: [keys.neighbors(product), keys.neighborMarks(product)],
    args: [
      record.source,
      record.offset,
      String(limits.neighborsTtlMs),
      String(limits.neighborsMax),
      JSON.stringify([...neighbors].map(([other, count]) => [other, String(count)])),
    ],
  }));
}

/** The call of readPopular-n.lua (see its header): the cache, then one bucket per weight, newest first. */
export function readPopularArgs(
  keys: RecommenderKeys,
  limits: Pick<StoreLimits, 'popularCacheTtlMs' | 'popularityMaxProducts'>,
  input: { now: number; weights: readonly number[]; limit: number },
): ScriptCall {
  const today = dayOf(input.now);
  return {
    keys: [keys.popularityCache(today), ...input.weights.map((_, age) => keys.popularityDay(today - age))],
    args: [String(limits.popularCacheTtlMs), String(limits.popularityMaxProducts), String(input.limit), ...input.weights.map(String)],
  };
}

export class RecommendationStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: RecommenderKeys,
    readonly limits: StoreLimits,
  ) {
    loadServiceScripts(redis, 'recommender');
  }

  /**
   * Applies one batch's deltas to popularity and to each touched product, each key once per
   * batch (see the marks in applyPopularity-n.lua and applyCoViews-2.lua). Safe to repeat.
   * Returns how many scripts applied (0 when everything had been applied already).
   */
  async applyDeltas(record: DeltaRecord): Promise<number> {
    const calls: Array<Promise<number>> = [];
    const popularity = applyPopularityArgs(this.keys, this.limits, record);
    if (popularity !== null) calls.push(runScript<number>(this.redis, 'applyPopularity', popularity.keys, popularity.args));
    for (const { keys, args } of applyCoViewsArgs(this.keys, this.limits, record)) {
      calls.push(runScript<number>(this.redis, 'applyCoViews', keys, args));
    }
    const applied = await Promise.all(calls);
    return applied.reduce((sum, n) => sum + Number(n), 0);
  }

  /** The products most often viewed together with each of `products`, best first. */
  async neighborsOf(products: readonly string[], limit: number): Promise<Map<string, Array<[string, number]>>> {
    const lists = await Promise.all(products.map((p) => this.redis.zrevrange(this.keys.neighbors(p), 0, limit - 1, 'WITHSCORES')));
    return new Map(products.map((product, i) => [product, pairs(lists[i] ?? [])]));
  }

  /** The most popular products at `now`: retained days summed with `weights` (newest first). */
  async popular(now: number, weights: readonly number[], limit: number): Promise<Array<[string, number]>> {
    const { keys, args } = readPopularArgs(this.keys, this.limits, { now, weights, limit });
    return pairs(await runScript<string[]>(this.redis, 'readPopular', keys, args));
  }
}

function pairs(flat: readonly string[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
}
