import { Writable } from 'node:stream';
import { Registry, Counter } from 'prom-client';
import { startHttpServer, sendJson, type HttpServer } from '../../../services/kit/http';
import { HttpError, intParam, parseQuery } from '../../../services/kit/http-params';
import { rawGet } from '../../support/http-client';
import { createLogger } from '../../../services/kit/logger';

const logLines: string[] = [];
const logger = createLogger({
  service: 'http-test',
  destination: new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});

let slowStarted: () => void = () => undefined;
let slowAborted: () => void = () => undefined;

describe('startHttpServer', () => {
  let server: HttpServer;
  let ready = false;
  const base = (): string => `http://127.0.0.1:${server.port}`;

  beforeEach(async () => {
    ready = false;
    const registry = new Registry();
    new Counter({ name: 'kairos_test_total', help: 'test counter', registers: [registry] }).inc(3);
    server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      logger,
      readiness: [{ name: 'consumer_group', check: () => (ready ? null : 'not a member of the consumer group') }],
      routes: {
        'GET /t/': (_req, res, url) => sendJson(res, 200, { route: 'track', path: url.pathname, q: url.searchParams.get('q') }),
        'GET /t/open/': (_req, res) => sendJson(res, 200, { route: 'open' }),
        'POST /unsubscribe': async (req, res) => {
          let body = '';
          for await (const chunk of req) body += String(chunk);
          sendJson(res, 202, { received: body });
        },
        'GET /boom': async () => {
          throw new Error('handler broke for zed@example.com');
        },
        'GET /typed': (_req, res, url) => sendJson(res, 200, parseQuery(url, { n: intParam(1, 9) })),
        'GET /gone': () => {
          throw new HttpError(410, 'gone for good');
        },
        'GET /slow': async (_req, _res, _url, context) => {
          slowStarted();
          await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
          slowAborted();
        },
      },
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('picks a real port when given 0', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves metrics in the Prometheus text format', async () => {
    const res = await fetch(`${base()}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('kairos_test_total 3');
  });

  it('answers healthz while running', async () => {
    const res = await fetch(`${base()}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('reports readiness: starting, ready, not ready (naming the failing check), then stopping', async () => {
    const failing = [{ check: 'consumer_group', reason: 'not a member of the consumer group' }];
    let res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'starting', failing });
    ready = true;
    res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
    ready = false;
    res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', failing });
    ready = true;
    server.beginStopping();
    res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'stopping', failing: [] });
  });

  it('routes by method and longest path prefix, passing the parsed URL', async () => {
    let res = await fetch(`${base()}/t/click/abc?q=1`);
    expect(await res.json()).toEqual({ route: 'track', path: '/t/click/abc', q: '1' });
    res = await fetch(`${base()}/t/open/xyz`);
    expect(await res.json()).toEqual({ route: 'open' });
    res = await fetch(`${base()}/unsubscribe`, { method: 'POST', body: 'token=1' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ received: 'token=1' });
  });

  it('returns JSON 404 for unknown paths and wrong methods on routes, 405 on built-ins', async () => {
    let res = await fetch(`${base()}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found' });
    res = await fetch(`${base()}/unsubscribe`);
    expect(res.status).toBe(404);
    res = await fetch(`${base()}/metrics`, { method: 'POST' });
    expect(res.status).toBe(405);
    await res.text();
  });

  it('turns a failing handler into a 500 and logs it once, by route, without the address or the URL', async () => {
    const res = await fetch(`${base()}/boom?customer_id=c-secret-42`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal error' });
    const lines = logLines.filter((l) => l.includes('http handler failed'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('handler broke for [email]');
    expect(lines[0]).toContain('"route":"GET /boom"');
    expect(lines[0]).not.toContain('c-secret-42');
  });

  it('answers an HttpError with its status and a JSON body naming the parameter, and logs nothing', async () => {
    const before = logLines.length;
    let res = await fetch(`${base()}/typed?n=12`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'n: is out of range; expected an integer from 1 to 9', parameter: 'n' });
    res = await fetch(`${base()}/typed?n=3`);
    expect(await res.json()).toEqual({ n: 3 });
    res = await fetch(`${base()}/gone`);
    expect(res.status).toBe(410);
    expect(await res.json()).toEqual({ error: 'gone for good' });
    expect(logLines.slice(before).filter((l) => l.includes('"level":50'))).toEqual([]);
  });

  it('aborts the handler\'s signal when the client goes away', async () => {
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    const aborted = new Promise<void>((resolve) => (slowAborted = resolve));
    const client = new AbortController();
    // node:http closes the socket on abort at once (fetch would keep it for reuse a while).
    const request = rawGet(server.port, '/slow', { signal: client.signal }).catch(() => undefined);
    await started;
    client.abort();
    await request;
    await aborted;
  });
});

describe('/readyz with several checks', () => {
  it('lists every failing check with its reason, and one that throws counts as failing', async () => {
    const state: Record<string, string | null> = { kafka: null, redis: null };
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger,
      readiness: [
        { name: 'kafka', check: () => state.kafka },
        { name: 'redis', check: () => state.redis },
        {
          name: 'registry',
          check: () => {
            if (state.kafka === 'boom') throw new Error('check broke');
            return null;
          },
        },
      ],
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      return { code: res.status, body: (await res.json()) as unknown };
    };
    try {
      expect(await readyz()).toEqual({ code: 200, body: { status: 'ready' } });
      state.kafka = 'no answer within 1500 ms';
      state.redis = 'not connected (client reconnecting)';
      expect(await readyz()).toEqual({
        code: 503,
        body: {
          status: 'not_ready',
          failing: [
            { check: 'kafka', reason: 'no answer within 1500 ms' },
            { check: 'redis', reason: 'not connected (client reconnecting)' },
          ],
        },
      });
      state.kafka = 'boom';
      state.redis = null;
      expect(await readyz()).toEqual({
        code: 503,
        body: {
          status: 'not_ready',
          failing: [
            { check: 'kafka', reason: 'boom' },
            { check: 'registry', reason: 'check failed: check broke' },
          ],
        },
      });
      state.kafka = null;
      expect(await readyz()).toEqual({ code: 200, body: { status: 'ready' } });
    } finally {
      await server.close();
    }
  });
});

describe('startHttpServer lifecycle', () => {
  const options = { host: '127.0.0.1', registry: new Registry(), logger, readiness: [] };

  it('rejects a malformed route key early', async () => {
    await expect(startHttpServer({ ...options, port: 0, routes: { '/no-method': () => undefined } })).rejects.toThrow(
      /route "\/no-method" must look like "GET \/path-prefix"/,
    );
  });

  it('rejects when the port is taken, and frees it on close', async () => {
    const first = await startHttpServer({ ...options, port: 0 });
    await expect(startHttpServer({ ...options, port: first.port })).rejects.toThrow(/EADDRINUSE/);
    await fetch(`http://127.0.0.1:${first.port}/healthz`); // leaves an idle keep-alive socket
    await first.close();
    await expect(fetch(`http://127.0.0.1:${first.port}/healthz`)).rejects.toThrow();
  });
});
