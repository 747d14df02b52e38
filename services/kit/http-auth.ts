/**
 * Who may call a service's HTTP server: bearer tokens compared in constant time, and the rule
 * that a server reachable from other hosts never runs without one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError, type ConfigProblem } from './errors';

/** The variables that configure a service's HTTP server (see consumerServiceShape). */
export interface HttpAccessConfig {
  HTTP_HOST: string;
  HTTP_AUTH_TOKEN?: string;
  /** Still accepted while HTTP_AUTH_TOKEN is being rotated. */
  HTTP_AUTH_TOKEN_PREVIOUS?: string;
  /** Opens `/metrics` only (scrapers); HTTP_AUTH_TOKEN opens it too. */
  METRICS_AUTH_TOKEN?: string;
}

/** The credentials a server accepts: `api` for its routes, `metrics` for `/metrics` (api tokens work there too). */
export interface HttpCredentials {
  api: readonly string[];
  metrics: readonly string[];
}

/** What a request's credential amounts to for one scope. */
export type AuthVerdict = 'ok' | 'missing' | 'invalid';

/**
 * True for addresses only this machine can reach: 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z),
 * `localhost`. Anything else, 0.0.0.0 and :: included, counts as reachable from elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) !== 6) return false;
  // The URL parser writes IPv6 in its canonical short form, so ::1 has one spelling.
  const canonical = new URL(`http://[${bare}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** The tokens from the configuration (unset ones dropped). */
export function credentialsOf(config: Omit<HttpAccessConfig, 'HTTP_HOST'>): HttpCredentials {
  const api = [config.HTTP_AUTH_TOKEN, config.HTTP_AUTH_TOKEN_PREVIOUS].filter((t): t is string => t !== undefined && t !== '');
  const metrics = [config.METRICS_AUTH_TOKEN].filter((t): t is string => t !== undefined && t !== '');
  return { api, metrics };
}

/**
 * The problem with binding `host` without credentials, if any: a server that other hosts can
 * reach needs HTTP_AUTH_TOKEN (a metrics token alone does not do).
 */
export function exposureProblem(host: string, credentials: HttpCredentials): ConfigProblem | null {
  if (isLoopbackHost(host) || credentials.api.length > 0) return null;
  return {
    variable: 'HTTP_AUTH_TOKEN',
    reason: `is required because HTTP_HOST=${host} is reachable from other hosts`,
    expected: 'a bearer token of at least 32 characters, set from a Secret (e.g. openssl rand -hex 32); or HTTP_HOST=127.0.0.1 to stay on loopback',
  };
}

/** Throws the ConfigError (exit 78 through runMain) of exposureProblem, before anything connects. */
export function assertSafeExposure(host: string, credentials: HttpCredentials): void {
  const problem = exposureProblem(host, credentials);
  if (problem !== null) throw new ConfigError([problem]);
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

// RFC 6750: `Bearer <token68>`; the scheme name ignores case.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Checks `Authorization: Bearer …` headers against the configured tokens, in constant time. */
export class BearerAuth {
  private readonly api: Buffer[];
  private readonly metrics: Buffer[];

  constructor(credentials: HttpCredentials) {
    this.api = credentials.api.map(digest);
    this.metrics = credentials.metrics.map(digest);
  }

  /** True when `scope` needs a credential at all (some token for it is configured). */
  required(scope: 'api' | 'metrics'): boolean {
    return this.api.length > 0 || (scope === 'metrics' && this.metrics.length > 0);
  }

  /** The verdict on an `Authorization` header for `scope`; `ok` when the scope needs nothing. */
  check(header: string | undefined, scope: 'api' | 'metrics'): AuthVerdict {
    if (!this.required(scope)) return 'ok';
    if (header === undefined || header === '') return 'missing';
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) return 'invalid';
    // Digests have one length, so timingSafeEqual never throws and the time does not depend on
    // how much of a token matched; every candidate is compared, matched or not.
    const presented = digest(token);
    const candidates = scope === 'metrics' ? [...this.api, ...this.metrics] : this.api;
    let match = false;
    for (const candidate of candidates) match = timingSafeEqual(presented, candidate) || match;
    return match ? 'ok' : 'invalid';
  }
}
