import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { reasonOf, type ReadinessCheck } from './health';
import type { Logger } from './logger';

/** Handles one request; `url` is already parsed (path and query). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface HttpServerOptions {
  /** 0 picks a free port; the real one is returned. */
  port: number;
  host?: string;
  registry: Registry;
  logger: Logger;
  /** `/readyz` answers 200 only while every check holds (consumer group joined, Kafka, Redis, ...). */
  readiness: readonly ReadinessCheck[];
  /** Extra routes keyed `"METHOD /path-prefix"`, e.g. `"GET /t/"`; the longest prefix wins. */
  routes?: Record<string, RouteHandler>;
}

export interface HttpServer {
  port: number;
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
 * plus any service routes. Resolves once listening.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry, logger } = options;
  const checks = [...options.readiness];
  const routes = parseRoutes(options.routes ?? {});
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

  const builtIns: Record<string, (res: ServerResponse) => Promise<void> | void> = {
    '/metrics': async (res) => {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    },
    '/healthz': (res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': (res) => {
      const report = readiness();
      sendJson(res, report.status === 'ready' ? 200 : 503, report);
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const builtIn = builtIns[url.pathname];
    if (builtIn !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        sendJson(res, 405, { error: 'method not allowed' });
        return;
      }
      await builtIn(res);
      return;
    }
    const route = routes.find((r) => r.method === method && url.pathname.startsWith(r.prefix));
    if (route === undefined) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    await route.handler(req, res, url);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'http server listening');

  return {
    port,
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
