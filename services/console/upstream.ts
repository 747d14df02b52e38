/**
 * Calls to the services' HTTP APIs (GET only: the console changes nothing), each with the
 * service's bearer token when one is configured and a timeout. A failure is a value the page
 * shows ("results: unreachable ..."), never a crash of the console.
 */
import { CONSOLE_UPSTREAMS, type ConsoleConfig, type Upstream } from './config';

export type Answer<T> =
  | { ok: true; status: number; body: T }
  /** `status` is the service's HTTP status, or null when it did not answer. */
  | { ok: false; status: number | null; error: string };

export class Upstreams {
  constructor(
    private readonly config: ConsoleConfig,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** The base URL of a service, without a trailing slash. */
  url(service: Upstream): string {
    return (this.config[CONSOLE_UPSTREAMS[service].url] as string).replace(/\/+$/, '');
  }

  private headers(service: Upstream): Record<string, string> {
    const token = this.config[CONSOLE_UPSTREAMS[service].token] as string | undefined;
    return token === undefined ? {} : { authorization: `Bearer ${token}` };
  }

  /** The service's readiness (`/readyz`, open without a token): `ready`, its status, or why it did not answer. */
  async readiness(service: Upstream): Promise<{ service: Upstream; url: string; ready: boolean; status: string }> {
    try {
      const response = await this.fetcher(`${this.url(service)}/readyz`, { signal: AbortSignal.timeout(this.config.CONSOLE_UPSTREAM_TIMEOUT), redirect: 'error' });
      const body = (await response.json().catch(() => ({}))) as { status?: unknown; failing?: Array<{ check?: unknown; reason?: unknown }> };
      const status = typeof body.status === 'string' ? body.status : `HTTP ${response.status}`;
      const failing = (body.failing ?? []).map((f) => `${String(f.check)}: ${String(f.reason)}`).join('; ');
      return { service, url: this.url(service), ready: response.status === 200, status: failing === '' ? status : `${status} (${failing})` };
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.config.CONSOLE_UPSTREAM_TIMEOUT} ms` : 'not reachable';
      return { service, url: this.url(service), ready: false, status: reason };
    }
  }

  /** GET `path` (already percent-encoded) from `service`; JSON unless `text`. */
  async get<T>(service: Upstream, path: string, options: { text?: boolean } = {}): Promise<Answer<T>> {
    let response: Response;
    try {
      response = await this.fetcher(`${this.url(service)}${path}`, { headers: this.headers(service), signal: AbortSignal.timeout(this.config.CONSOLE_UPSTREAM_TIMEOUT), redirect: 'error' });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.config.CONSOLE_UPSTREAM_TIMEOUT} ms` : `unreachable (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)})`;
      return { ok: false, status: null, error: `${service} at ${this.url(service)}: ${reason}` };
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: unknown };
        if (typeof parsed.error === 'string') message = parsed.error;
      } catch {
        // not JSON: the text itself
      }
      const hint = response.status === 401 ? ` (set ${CONSOLE_UPSTREAMS[service].token} to the ${service}'s HTTP_AUTH_TOKEN)` : '';
      return { ok: false, status: response.status, error: `${service} answered HTTP ${response.status}: ${message}${hint}` };
    }
    if (options.text) return { ok: true, status: response.status, body: text as T };
    try {
      return { ok: true, status: response.status, body: JSON.parse(text) as T };
    } catch {
      return { ok: false, status: response.status, error: `${service} answered something that is not JSON` };
    }
  }
}
