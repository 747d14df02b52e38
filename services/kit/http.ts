import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { reasonOf, type ReadinessCheck } from './health';
import { assertSafeExposure, BearerAuth, type HttpCredentials } from './http-auth';
import { HttpError } from './http-params';
import type { Logger } from './logger';

/** What the server knows about one request beyond the request itself. */
export interface RequestContext {
  /** Aborted when the client goes away before the answer is sent: loops over Redis stop on it. */
  signal: AbortSignal;
}

/**
 * Handles one request; `url` is already parsed (path and query). A handler throws an
 * HttpError (see http-params.ts) for a client mistake: the server answers its status with a
 * JSON body and logs nothing; any other error is a 500 with a generic body, logged once.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL, context: RequestContext) => void | Promise<void>;

/** The default bind address: loopback, reachable from this machine only. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

export interface HttpServerOptions {
  /** 0 picks a free port; the real one is returned. */
  port: number;
  /**
   * The address to listen on, 127.0.0.1 by default. Any address other hosts can reach
   * (0.0.0.0, ::, a LAN address) needs `credentials.api`, or start-up fails naming HTTP_AUTH_TOKEN.
   */
  host?: string;
  /**
   * Bearer tokens. With an api token every route but `/healthz` and `/readyz` needs one (on
   * loopback too); `/metrics` takes an api or a metrics token. With none, only loopback is allowed.
   */
  credentials?: HttpCredentials;
  registry: Registry;
  logger: Logger;
  /** `/readyz` answers 200 only while every check holds (consumer group joined, Kafka, Redis, ...). */
  readiness: readonly ReadinessCheck[];
  /** Extra routes keyed `"METHOD /path-prefix"`, e.g. `"GET /t/"`; the longest prefix wins. */
  routes?: Record<string, RouteHandler>;
  /**
   * Routes anyone may call, without a bearer token even when one is configured (the tracker's
   * signed links: a mail client carries no token; the link's own signature is its credential).
   * Keyed like `routes`; matched before the credential is checked, so keep their prefixes
   * apart from every private route's (start-up fails when a prefix is both). A request whose
   * path matches a public prefix with another method is a 405 naming the allowed ones. The
   * probes and `/metrics` can never be made public.
   */
  publicRoutes?: Record<string, RouteHandler>;
}

export interface HttpServer {
  port: number;
  /** The address it listens on. */
  host: string;
  /** From now on `/readyz` answers 503 `stopping`, so load balancers drain before the consumer leaves. */
  beginStopping(): void;
  /** Stops accepting connections and waits for requests in flight. */
  close(): Promise<void>;
}

/** The body of `/readyz`; `failing` is absent when ready. */
export interface ReadinessReport {
  status: 'ready' | 'starting' | 'stopping' | 'not_ready';
  failing?: Array<{ check: string; reason: string }>;
}

interface Route {
  method: string;
  prefix: string;
  handler: RouteHandler;
}

/** Writes a JSON body with the right headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function parseRoutes(routes: Record<string, RouteHandler>): Route[] {
  return Object.entries(routes)
    .map(([key, handler]) => {
      const match = /^([A-Z]+) (\/\S*)$/.exec(key);
      if (match === null) throw new Error(`kairos http: route "${key}" must look like "GET /path-prefix"`);
      return { method: match[1] as string, prefix: match[2] as string, handler };
    })
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

/**
 * Starts the operational HTTP server every service runs: `/metrics`, `/healthz`, `/readyz`,
 * plus any service routes. Resolves once listening. Listens on 127.0.0.1 unless `host` says
 * otherwise, and refuses (ConfigError naming HTTP_AUTH_TOKEN) a host other machines can reach
 * without an api token; with one, every path but the two probes needs it, checked before routing.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry, logger } = options;
  const host = options.host ?? DEFAULT_HTTP_HOST;
  const credentials = options.credentials ?? { api: [], metrics: [] };
  assertSafeExposure(host, credentials);
  const auth = new BearerAuth(credentials);
  const checks = [...options.readiness];
  const routes = parseRoutes(options.routes ?? {});
  const publicRoutes = parseRoutes(options.publicRoutes ?? {});
  assertPublicRoutesApart(publicRoutes, routes);
  const requests = requestCounter(registry);
  // A 503 body says whether the service is still starting, shutting down, or lost something
  // it needs (and what), so an operator reading a probe failure knows whether to wait, or
  // which dependency to look at.
  let wasReady = false;
  let stopping = false;

  const readiness = (): ReadinessReport => {
    const failing = checks.flatMap(({ name, check }) => {
      let reason: string | null;
      try {
        reason = check();
      } catch (error) {
        reason = `check failed: ${reasonOf(error)}`;
      }
      return reason === null ? [] : [{ check: name, reason }];
    });
    if (stopping) return { status: 'stopping', failing };
    if (failing.length > 0) return { status: wasReady ? 'not_ready' : 'starting', failing };
    wasReady = true;
    return { status: 'ready' };
  };

  // The probes stay open: a kubelet or load balancer carries no token, and they tell nothing
  // about customers. Everything else is behind the credential.
  const probes: Record<string, (res: ServerResponse) => void> = {
    '/healthz': (res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': (res) => {
      const report = readiness();
      sendJson(res, report.status === 'ready' ? 200 : 503, report);
    },
  };
  const metrics = async (res: ServerResponse): Promise<void> => {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
  };

  /** Serves one request; sets `counted.route` to the label it is counted under. */
  const handle = async (req: IncomingMessage, res: ServerResponse, context: RequestContext, counted: { route: string }): Promise<void> => {
    const url = parseTarget(req.url);
    if (url === null) {
      counted.route = 'invalid';
      sendJson(res, 400, { error: 'the request target is not a valid path' });
      return;
    }
    const method = req.method ?? 'GET';
    const probe = probes[url.pathname];
    const isMetrics = url.pathname === '/metrics';
    if (probe !== undefined || isMetrics) counted.route = url.pathname;
    if ((probe !== undefined || isMetrics) && method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    if (probe !== undefined) {
      probe(res);
      return;
    }
    // Public routes answer without a credential; their handlers check their own (a link's signature).
    if (!isMetrics) {
      const open = publicRoutes.filter((r) => url.pathname.startsWith(r.prefix));
      if (open.length > 0) {
        const route = open.find((r) => r.method === method);
        if (route === undefined) {
          const longest = (open[0] as Route).prefix;
          counted.route = `public ${longest}`;
          res.setHeader('allow', [...new Set(open.filter((r) => r.prefix === longest).map((r) => r.method))].join(', '));
          sendJson(res, 405, { error: 'method not allowed' });
          return;
        }
        await serveRoute(route, req, res, url, context, counted);
        return;
      }
    }
    // The credential is checked before routing, so an unknown path and a known one answer
    // alike (401) to a caller without it.
    const verdict = auth.check(req.headers.authorization, isMetrics ? 'metrics' : 'api');
    if (verdict !== 'ok') {
      counted.route = 'unauthorized';
      res.setHeader('www-authenticate', verdict === 'missing' ? 'Bearer realm="kairos"' : 'Bearer realm="kairos", error="invalid_token"');
      sendJson(res, 401, {
        error: verdict === 'missing' ? 'unauthorized: send Authorization: Bearer <token>' : 'unauthorized: the bearer token is not valid',
      });
      return;
    }
    if (isMetrics) {
      await metrics(res);
      return;
    }
    const route = routes.find((r) => r.method === method && url.pathname.startsWith(r.prefix));
    if (route === undefined) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    await serveRoute(route, req, res, url, context, counted);
  };

  const server = createServer((req, res) => {
    const controller = new AbortController();
    // 'close' on the response comes when the answer was sent or the connection went away;
    // only the second aborts what the handler is still doing.
    const counted = { route: 'unmatched' };
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client went away'));
      requests.inc({ route: counted.route, status: res.writableFinished ? String(res.statusCode) : 'client_gone' });
    });
    handle(req, res, { signal: controller.signal }, counted).catch((error: unknown) => {
      // The route, not the URL: paths and queries carry customer ids.
      logger.error({ err: error, route: counted.route }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  logger.info({ host: address, port, auth: credentials.api.length > 0 ? 'bearer' : 'none (loopback only)' }, 'http server listening');

  return {
    port,
    host: address,
    beginStopping: () => {
      stopping = true;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        stopping = true;
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}

/** Runs one route's handler; an HttpError becomes its status and JSON body. */
async function serveRoute(route: Route, req: IncomingMessage, res: ServerResponse, url: URL, context: RequestContext, counted: { route: string }): Promise<void> {
  counted.route = `${route.method} ${route.prefix}`;
  try {
    await route.handler(req, res, url, context);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    if (res.headersSent) res.destroy();
    else sendJson(res, error.status, error.parameter === undefined ? { error: error.message } : { error: error.message, parameter: error.parameter });
  }
}

/**
 * Public routes must not shadow or widen a private one, nor the built-ins: a public prefix that
 * a private route's path (or /metrics, /healthz, /readyz) starts with, or the reverse, is refused.
 */
function assertPublicRoutesApart(publicRoutes: readonly Route[], privateRoutes: readonly Route[]): void {
  const privatePrefixes = [...privateRoutes.map((r) => r.prefix), '/metrics', '/healthz', '/readyz'];
  for (const open of publicRoutes) {
    if (open.prefix === '/' || open.prefix.length < 2) throw new Error(`kairos http: public route "${open.method} ${open.prefix}" would open every path`);
    const clash = privatePrefixes.find((prefix) => prefix.startsWith(open.prefix) || open.prefix.startsWith(prefix));
    if (clash !== undefined) throw new Error(`kairos http: public route "${open.method} ${open.prefix}" overlaps the private path "${clash}"; give public routes prefixes of their own`);
  }
}

/** The path and query of a request target, or null when it is none (e.g. `//` or `http://[`). */
function parseTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/**
 * `kairos_http_requests_total{route,status}`: route is a route key, a built-in path, or
 * unmatched/unauthorized/invalid; status the HTTP status, or client_gone when the client left first.
 */
function requestCounter(registry: Registry): Counter<'route' | 'status'> {
  const name = 'kairos_http_requests_total';
  return (
    (registry.getSingleMetric(name) as Counter<'route' | 'status'> | undefined) ??
    new Counter({ name, help: 'HTTP requests by route and status (unauthorized: refused for want of a valid credential)', labelNames: ['route', 'status'] as const, registers: [registry] })
  );
}
