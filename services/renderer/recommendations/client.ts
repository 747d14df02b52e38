/** The RecommendationSource the renderer uses: the recommender over HTTP; `recommend` never rejects. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecommendationRequest, RecommendationSource, RecommendedProduct, Recommendations } from '../../core/recommendations';
import { KairosError } from '../../kit/errors';
import type { Logger } from '../../kit/logger';
import { isAllowedUrl } from './allow-list';
import { CircuitBreaker } from './circuit-breaker';
import { HostNotAllowedError, RecommenderResponseError } from './errors';
import { cleanProducts } from './response';
import { TtlLru } from './ttl-cache';

/** What happened to one `recommend` call (a `fallback` is counted besides its cause). */
export type RecommendationOutcome = 'hit' | 'miss' | 'timeout' | 'error' | 'breaker_open' | 'refused' | 'fallback';

/** Context keys forwarded to the recommender; everything else in a trigger context stays home. */
const FORWARDED_CONTEXT = ['product_id', 'cart_product_ids'] as const;
const MAX_LIMIT = 20;

export interface RecommendationsClientOptions {
  /** The recommender's base URL, e.g. http://recommender:8095. */
  baseUrl: string;
  /** The recommender's HTTP_AUTH_TOKEN, sent as `Authorization: Bearer …`; none when the recommender needs none. */
  authToken?: string;
  /** Hosts (`name` or `name:port`) that may be called; the base URL's host must be one. */
  allowedHosts: readonly string[];
  /** Per-call deadline, including reading the body. Default 300 ms. */
  timeoutMs?: number;
  /** Default 60 s; 0 disables the cache. */
  cacheTtlMs?: number;
  /** Default 1000 entries. */
  cacheSize?: number;
  /** Consecutive failures (errors, timeouts) that open the breaker. Default 5. */
  breakerFailures?: number;
  /** How long the breaker stays open before a probe. Default 30 s. */
  breakerCooldownMs?: number;
  /** Static best sellers used until (or when no) best-sellers answer was fetched. */
  fallbackProducts?: readonly RecommendedProduct[];
  /** How often the last-good best sellers are refreshed in the background; 0 never. Default 5 min. */
  bestSellersRefreshMs?: number;
  /** A prom-client registry for `kairos_recommendations_total{outcome}` and the breaker gauge. */
  registry?: Registry;
  onOutcome?: (outcome: RecommendationOutcome) => void;
  logger?: Logger;
  clock?: () => number;
  fetch?: typeof fetch;
}

/** The RecommendationSource the renderer uses. */
export class RecommendationsClient implements RecommendationSource {
  readonly baseUrl: URL;
  private readonly allowedHosts: readonly string[];
  private readonly timeoutMs: number;
  private readonly cache: TtlLru<Recommendations>;
  readonly breaker: CircuitBreaker;
  private readonly clock: () => number;
  private readonly fetchImpl: typeof fetch;
  private readonly staticFallback: readonly RecommendedProduct[];
  private bestSellers: RecommendedProduct[] | undefined;
  private bestSellersFetchedAt = Number.NEGATIVE_INFINITY;
  private bestSellersRefresh: Promise<void> | undefined;
  private readonly outcomes: Counter<'outcome'> | undefined;

  constructor(private readonly options: RecommendationsClientOptions) {
    this.allowedHosts = options.allowedHosts.map((h) => h.trim()).filter((h) => h !== '');
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new KairosError(`kairos recommendations: base URL "${options.baseUrl}" is not an absolute URL`);
    }
    if (!isAllowedUrl(base, this.allowedHosts)) throw new HostNotAllowedError(base.origin, this.allowedHosts);
    this.baseUrl = base;
    this.timeoutMs = options.timeoutMs ?? 300;
    this.cache = new TtlLru(options.cacheSize ?? 1000, options.cacheTtlMs ?? 60_000);
    this.clock = options.clock ?? Date.now;
    this.fetchImpl = options.fetch ?? fetch;
    this.staticFallback = options.fallbackProducts ?? [];
    const registry = options.registry;
    this.outcomes = registry
      ? ((registry.getSingleMetric('kairos_recommendations_total') as Counter<'outcome'> | undefined) ??
        new Counter({
          name: 'kairos_recommendations_total',
          help: 'Recommendation requests by outcome (hit, miss, timeout, error, breaker_open, refused, fallback)',
          labelNames: ['outcome'] as const,
          registers: [registry],
        }))
      : undefined;
    const gauge = registry
      ? ((registry.getSingleMetric('kairos_recommendations_breaker_state') as Gauge | undefined) ??
        new Gauge({
          name: 'kairos_recommendations_breaker_state',
          help: 'The recommender circuit breaker: 0 closed, 1 half-open, 2 open',
          registers: [registry],
        }))
      : undefined;
    gauge?.set(0);
    this.breaker = new CircuitBreaker(options.breakerFailures ?? 5, options.breakerCooldownMs ?? 30_000, (state) => {
      gauge?.set(state === 'closed' ? 0 : state === 'half_open' ? 1 : 2);
      options.logger?.warn({ breaker: state, recommender: this.baseUrl.origin }, 'recommendations circuit breaker changed state');
    });
  }

  /**
   * Never rejects: on timeout, error, a refused host or an open breaker it resolves with the
   * fallback. The strategy (an experiment's) picks the recommender's endpoint: co_viewed (the
   * default) GET /recommendations, popular GET /best-sellers (minus the trigger's products),
   * none no call and no items.
   */
  async recommend(request: RecommendationRequest): Promise<Recommendations> {
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(Number.isFinite(request.limit) ? request.limit : 4)));
    const strategy = request.strategy ?? 'co_viewed';
    if (strategy === 'none') return { items: [], fallback: false };
    const context = request.context ?? {};
    const exclude = new Set([context.product_id ?? '', ...(context.cart_product_ids ?? '').split(',')].map((s) => s.trim()).filter((s) => s !== ''));
    try {
      let url: URL;
      if (strategy === 'popular') {
        url = new URL('best-sellers', this.withSlash(this.baseUrl));
        // Room for the products the email is already about, which are left out below.
        url.searchParams.set('limit', String(Math.min(MAX_LIMIT, limit + exclude.size)));
      } else {
        url = new URL('recommendations', this.withSlash(this.baseUrl));
        url.searchParams.set('customer_id', request.customerId);
        for (const key of FORWARDED_CONTEXT) {
          const value = context[key];
          if (value !== undefined && value !== '') url.searchParams.set(key, value);
        }
        url.searchParams.set('limit', String(limit));
      }
      const key = strategy === 'popular' ? `popular${url.search}|${[...exclude].sort().join(',')}` : url.search;
      const now = this.clock();
      const cached = this.cache.get(key, now);
      if (cached !== undefined) {
        this.count('hit');
        return cached;
      }
      // Checked per request too: the URL is built from parts, and this is the last gate.
      if (!isAllowedUrl(url, this.allowedHosts)) throw new HostNotAllowedError(url.origin, this.allowedHosts);
      this.maybeRefreshBestSellers();
      if (!this.breaker.tryAcquire(now)) {
        this.count('breaker_open');
        return this.fallback(limit, exclude);
      }
      let items: RecommendedProduct[];
      try {
        items = cleanProducts(((await this.getJson(url)) as { items?: unknown } | null)?.items);
        if (strategy === 'popular') items = items.filter((p) => !exclude.has(p.product_id));
      } catch (err) {
        this.breaker.failure(this.clock());
        throw err;
      }
      this.breaker.success();
      this.count('miss');
      // An empty answer (a brand-new shop) would leave an empty block; best sellers are better.
      if (items.length === 0) return this.fallback(limit, exclude);
      const answer: Recommendations = { items: items.slice(0, limit), fallback: false };
      this.cache.set(key, answer, this.clock());
      return answer;
    } catch (err) {
      this.count(err instanceof HostNotAllowedError ? 'refused' : isTimeout(err) ? 'timeout' : 'error');
      this.options.logger?.warn({ err, recommender: this.baseUrl.origin }, 'recommendations unavailable; using the fallback');
      return this.fallback(limit, exclude);
    }
  }

  /** Fetches GET /best-sellers now and keeps it as the fallback; false when that failed. */
  async refreshBestSellers(): Promise<boolean> {
    this.bestSellersFetchedAt = this.clock();
    try {
      const url = new URL('best-sellers', this.withSlash(this.baseUrl));
      url.searchParams.set('limit', String(MAX_LIMIT));
      const items = cleanProducts(((await this.getJson(url)) as { items?: unknown } | null)?.items);
      if (items.length > 0) this.bestSellers = items;
      return true;
    } catch (err) {
      this.options.logger?.debug({ err }, 'best sellers refresh failed; keeping the previous fallback');
      return false;
    }
  }

  /** The fallback block: the last good best sellers, else the static list, minus context products. */
  fallback(limit: number, exclude: ReadonlySet<string> = new Set()): Recommendations {
    this.count('fallback');
    const source = this.bestSellers ?? this.staticFallback;
    return { items: source.filter((p) => !exclude.has(p.product_id)).slice(0, limit), fallback: true };
  }

  private maybeRefreshBestSellers(): void {
    const every = this.options.bestSellersRefreshMs ?? 300_000;
    if (every <= 0 || this.bestSellersRefresh || this.breaker.state !== 'closed') return;
    if (this.clock() - this.bestSellersFetchedAt < every) return;
    this.bestSellersRefresh = this.refreshBestSellers()
      .then(() => undefined)
      .finally(() => (this.bestSellersRefresh = undefined));
  }

  private async getJson(url: URL): Promise<unknown> {
    if (!isAllowedUrl(url, this.allowedHosts)) throw new HostNotAllowedError(url.origin, this.allowedHosts);
    // One deadline covers connecting, the headers and the body; redirects are refused
    // rather than followed to a host nobody allowed.
    const response = await this.fetchImpl(url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/json', ...(this.options.authToken ? { authorization: `Bearer ${this.options.authToken}` } : {}) },
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const hint = response.status === 401 ? ' (set RECOMMENDER_AUTH_TOKEN to the recommender\'s HTTP_AUTH_TOKEN)' : '';
      throw new RecommenderResponseError(`${url.pathname} answered HTTP ${response.status}${hint}`);
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RecommenderResponseError(`${url.pathname} answered with invalid JSON`);
    }
  }

  private withSlash(url: URL): URL {
    return url.pathname.endsWith('/') ? url : new URL(`${url.pathname}/`, url);
  }

  private count(outcome: RecommendationOutcome): void {
    this.outcomes?.inc({ outcome });
    this.options.onOutcome?.(outcome);
  }
}

// By name, not instanceof: fetch rejects with a DOMException, which is no Error subclass in
// every realm (Jest's sandbox, for one).
function isTimeout(err: unknown): boolean {
  const name = (value: unknown) => (typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined);
  return ['TimeoutError', 'AbortError'].some((n) => name(err) === n || name((err as { cause?: unknown } | null)?.cause) === n);
}
