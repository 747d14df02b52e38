/**
 * The renderer's HTTP client for the recommender: implements RecommendationSource with a
 * strict timeout, an allow-list of hosts, a small LRU cache with TTL, a circuit breaker and a
 * fallback block, so `recommend` never rejects and always answers within the timeout.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { RecommendationSource, RecommendedProduct, Recommendations } from '../core/recommendations';
import { durationVar, intVar, stringVar, urlVar } from './config';
import { KairosError } from './errors';
import { readConfigFile } from './files';
import type { Logger } from './logger';

/** What happened to one `recommend` call (a `fallback` is counted besides its cause). */
export type RecommendationOutcome = 'hit' | 'miss' | 'timeout' | 'error' | 'breaker_open' | 'refused' | 'fallback';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The host of a URL is not on the allow-list; configuration, not retriable. */
export class HostNotAllowedError extends KairosError {
  constructor(
    readonly url: string,
    readonly allowedHosts: readonly string[],
  ) {
    super(
      `kairos recommendations: host of ${url} is not allowed; allowed hosts: ${allowedHosts.join(', ') || '(none)'} ` +
        '(add it to RECOMMENDER_ALLOWED_HOSTS, as host or host:port)',
    );
  }
}

/** The recommender answered, but not with something usable (status, body). */
export class RecommenderResponseError extends KairosError {
  constructor(message: string) {
    super(`kairos recommendations: ${message}`, { retriable: true });
  }
}

/**
 * True when `url` is http(s) and its host is allowed: an entry matches the hostname alone
 * (any port) or `host:port` exactly; case-insensitive, and the host of a URL with
 * credentials is never allowed (`http://allowed@evil/` tricks humans reading logs).
 */
export function isAllowedUrl(url: URL, allowedHosts: readonly string[]): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username !== '' || url.password !== '') return false;
  const hostname = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return allowedHosts.some((entry) => {
    const allowed = entry.trim().toLowerCase();
    return allowed === hostname || allowed === `${hostname}:${port}`;
  });
}

/** A tiny LRU with per-entry expiry: Map keeps insertion order, so the first key is the oldest. */
export class TtlLru<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry); // most recently used last
    return entry.value;
  }

  set(key: string, value: V, now: number): void {
    if (this.maxEntries <= 0 || this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Closed -> open after `failureThreshold` consecutive failures; open -> half-open once
 * `cooldownMs` passed, letting exactly one probe through; the probe's success closes it, its
 * failure opens it for another cool-down.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private probing = false;

  constructor(
    readonly failureThreshold: number,
    readonly cooldownMs: number,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go out now; in half-open only the one probe may. */
  tryAcquire(now: number): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (now - this.openedAt < this.cooldownMs) return false;
      this.set('half_open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  failure(now: number): void {
    this.failures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.current === 'closed' && this.failures >= this.failureThreshold)) {
      this.openedAt = now;
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    this.current = state;
    this.onChange(state);
  }
}

const httpUrl = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
});

const productSchema = z.object({
  product_id: z.string().min(1).max(200),
  title: z.string().min(1).max(300),
  url: httpUrl,
  image_url: httpUrl.optional(),
  price_cents: z.number().int().nonnegative().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
});

/** Keeps the fields the port knows and only items that validate: a bad item is dropped, not shown. */
export function cleanProducts(raw: unknown): RecommendedProduct[] {
  if (!Array.isArray(raw)) throw new RecommenderResponseError('answer has no items array');
  return raw.flatMap((item): RecommendedProduct[] => {
    const parsed = productSchema.safeParse(item);
    if (!parsed.success) return [];
    const { product_id, title, url, image_url, price_cents, currency } = parsed.data;
    return [
      {
        product_id,
        title,
        url,
        ...(image_url !== undefined ? { image_url } : {}),
        ...(price_cents !== undefined ? { price_cents } : {}),
        ...(currency !== undefined ? { currency } : {}),
      },
    ];
  });
}

/** Parses a static fallback file: a JSON array of products (or `{ "items": [...] }`). */
export function parseFallbackProducts(path: string, text: string): RecommendedProduct[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { items?: unknown } | null)?.items;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a JSON array of products like [{"product_id", "title", "url"}]`);
  list.forEach((item, index) => {
    const parsed = productSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}: item ${index}: ${issue?.path.map(String).join('.') || 'item'}: ${issue?.message ?? 'invalid'}`);
    }
  });
  return cleanProducts(list);
}

/** Context keys forwarded to the recommender; everything else in a trigger context stays home. */
const FORWARDED_CONTEXT = ['product_id', 'cart_product_ids'] as const;
const MAX_LIMIT = 20;

export interface RecommendationsClientOptions {
  /** The recommender's base URL, e.g. http://recommender:8095. */
  baseUrl: string;
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

  /** Never rejects: on timeout, error, a refused host or an open breaker it resolves with the fallback. */
  async recommend(request: { customerId: string; context: Record<string, string>; limit: number }): Promise<Recommendations> {
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(Number.isFinite(request.limit) ? request.limit : 4)));
    const context = request.context ?? {};
    const exclude = new Set([context.product_id ?? '', ...(context.cart_product_ids ?? '').split(',')].map((s) => s.trim()).filter((s) => s !== ''));
    try {
      const url = new URL('recommendations', this.withSlash(this.baseUrl));
      url.searchParams.set('customer_id', request.customerId);
      for (const key of FORWARDED_CONTEXT) {
        const value = context[key];
        if (value !== undefined && value !== '') url.searchParams.set(key, value);
      }
      url.searchParams.set('limit', String(limit));
      const key = url.search;
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
      headers: { accept: 'application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new RecommenderResponseError(`${url.pathname} answered HTTP ${response.status}`);
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

/** Environment variables of the client, for the renderer's config shape. */
export const recommendationsClientShape = {
  RECOMMENDER_URL: urlVar().default('http://127.0.0.1:8095'),
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

export interface RecommendationsClientConfig {
  RECOMMENDER_URL: string;
  RECOMMENDER_ALLOWED_HOSTS: string;
  RECOMMENDER_TIMEOUT: number;
  RECOMMENDER_CACHE_TTL: number;
  RECOMMENDER_CACHE_SIZE: number;
  RECOMMENDER_BREAKER_FAILURES: number;
  RECOMMENDER_BREAKER_COOLDOWN: number;
  RECOMMENDER_BEST_SELLERS_REFRESH: number;
  RECOMMENDER_FALLBACK_FILE?: string | undefined;
}

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
