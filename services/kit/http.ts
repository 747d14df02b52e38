import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

/** Handles one request; `url` is already parsed (path and query). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface HttpServerOptions {
  /** 0 picks a free port; the real one is returned. */
  port: number;
  host?: string;
  registry: Registry;
  logger: Logger;
  isReady: () => boolean;
  /** Extra routes keyed `"METHOD /path-prefix"`, e.g. `"GET /t/"`; the longest prefix wins. */
  routes?: Record<string, RouteHandler>;
}

export interface HttpServer {
  port: number;
  /** Stops accepting connections and waits for requests in flight. */
  close(): Promise<void>;
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
  const { registry, logger, isReady } = options;
  const routes = parseRoutes(options.routes ?? {});
  // Not ready after having been ready means shutting down; a 503 body says which, so an
  // operator reading a probe failure knows whether to wait or to look for a crash.
  let wasReady = false;
  let closing = false;

  const readiness = (): { ready: boolean; status: 'ready' | 'starting' | 'stopping' } => {
    const ready = !closing && isReady();
    if (ready) wasReady = true;
    return { ready, status: ready ? 'ready' : closing || wasReady ? 'stopping' : 'starting' };
  };

  const builtIns: Record<string, (res: ServerResponse) => Promise<void> | void> = {
    '/metrics': async (res) => {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    },
    '/healthz': (res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': (res) => {
      const { ready, status } = readiness();
      sendJson(res, ready ? 200 : 503, { status });
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing = true;
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}
