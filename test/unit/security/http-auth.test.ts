/**
 * Issue 11, HTTP surfaces: every service's server listened on 0.0.0.0 and asked nobody who
 * was calling. Now it binds loopback unless told otherwise, refuses to start elsewhere
 * without a token, and checks the token before routing.
 */
import { Registry } from 'prom-client';
import { loadConfig, runMain } from '../../../services/kit/config';
import { consumerServiceShape } from '../../../services/kit/consumer-service';
import { ConfigError } from '../../../services/kit/errors';
import { startHttpServer, sendJson, type HttpServer } from '../../../services/kit/http';
import { assertSafeExposure, BearerAuth, credentialsOf, isLoopbackHost } from '../../../services/kit/http-auth';
import { capturingLogger, nonLoopbackAddress, rawGet, TEST_METRICS_TOKEN, TEST_TOKEN } from '../../support/http-client';

const { logger } = capturingLogger('http-auth-test');
const lan = nonLoopbackAddress();

const routes = { 'GET /segments': (_req: unknown, res: Parameters<typeof sendJson>[0]) => sendJson(res, 200, { segments: [] }) };

async function start(options: { host?: string; api?: string[]; metrics?: string[] } = {}): Promise<HttpServer> {
  return startHttpServer({
    port: 0,
    ...(options.host !== undefined ? { host: options.host } : {}),
    credentials: { api: options.api ?? [], metrics: options.metrics ?? [] },
    registry: new Registry(),
    logger,
    readiness: [],
    routes,
  });
}

async function call(url: string, token?: string): Promise<{ status: number; body: unknown; authenticate: string | null }> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // metrics are text
  }
  return { status: res.status, body, authenticate: res.headers.get('www-authenticate') };
}

describe('where the HTTP server listens', () => {
  it('binds 127.0.0.1 when no host is given (it bound 0.0.0.0)', async () => {
    const server = await start();
    try {
      expect(server.host).toBe('127.0.0.1');
      expect((await call(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
      if (lan === undefined) {
        process.stdout.write('no non-loopback IPv4 address on this machine: reachability from outside not checked\n');
        return;
      }
      // From the machine's own LAN address the port is closed.
      await expect(fetch(`http://${lan}:${server.port}/healthz`)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('every consuming service defaults HTTP_HOST to 127.0.0.1', () => {
    const config = loadConfig(consumerServiceShape({ httpPort: 8091, groupId: 'g', timerIntervalMs: 1000 }), {});
    expect(config.HTTP_HOST).toBe('127.0.0.1');
    expect(config.HTTP_AUTH_TOKEN).toBeUndefined();
  });

  it('reads HTTP_HOST and the tokens strictly, never echoing a token', () => {
    const shape = consumerServiceShape({ httpPort: 8091, groupId: 'g', timerIntervalMs: 1000 });
    const short = 'short-token-value';
    const spaced = `${'a'.repeat(32)} b`;
    let error: unknown;
    try {
      loadConfig(shape, { HTTP_HOST: 'not a host!', HTTP_AUTH_TOKEN: short, METRICS_AUTH_TOKEN: spaced });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.variable).sort()).toEqual(['HTTP_AUTH_TOKEN', 'HTTP_HOST', 'METRICS_AUTH_TOKEN']);
    const text = (error as ConfigError).message;
    expect(text).toContain('HTTP_AUTH_TOKEN: (value hidden) is too short');
    expect(text).toContain('METRICS_AUTH_TOKEN: (value hidden) has characters a bearer token cannot carry');
    expect(text).not.toContain(short);
    expect(text).not.toContain(spaced);
    expect(loadConfig(shape, { HTTP_HOST: '::', HTTP_AUTH_TOKEN: TEST_TOKEN }).HTTP_HOST).toBe('::');
  });

  it.each(['0.0.0.0', '::', '192.0.2.10', 'kairos.internal'])('refuses to start on %s without HTTP_AUTH_TOKEN, naming the variable', async (host) => {
    const error: unknown = await start({ host }).then(
      async (server) => {
        await server.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.objectContaining({ variable: 'HTTP_AUTH_TOKEN' })]);
    expect((error as ConfigError).message).toContain(`HTTP_HOST=${host}`);
  });

  it('a metrics token alone does not make an exposed server acceptable', () => {
    expect(() => assertSafeExposure('0.0.0.0', credentialsOf({ METRICS_AUTH_TOKEN: TEST_METRICS_TOKEN }))).toThrow(/HTTP_AUTH_TOKEN/);
    expect(() => assertSafeExposure('0.0.0.0', credentialsOf({ HTTP_AUTH_TOKEN: TEST_TOKEN }))).not.toThrow();
  });

  it('a service process exits 78 naming HTTP_AUTH_TOKEN (runMain), without echoing any token', async () => {
    let stderr = '';
    let code = -1;
    await runMain('segmenter', async () => assertSafeExposure('0.0.0.0', credentialsOf({ METRICS_AUTH_TOKEN: TEST_METRICS_TOKEN })), {
      stderr: {
        write: (text: string, done?: () => void) => {
          stderr += text;
          done?.();
          return true;
        },
      },
      exit: (c) => (code = c),
    });
    expect(code).toBe(78);
    expect(stderr).toContain('HTTP_AUTH_TOKEN');
    expect(stderr).not.toContain(TEST_METRICS_TOKEN);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['::ffff:10.0.0.1', false],
    ['10.0.0.5', false],
    ['localhost.evil.example', false],
    ['128.0.0.1', false],
  ])('isLoopbackHost(%s) is %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('who may call', () => {
  const exposedHost = lan !== undefined ? '0.0.0.0' : '127.0.0.1';
  const via = lan ?? '127.0.0.1';
  let server: HttpServer;
  const url = (path: string) => `http://${via}:${server.port}${path}`;

  beforeAll(async () => {
    server = await start({ host: exposedHost, api: [TEST_TOKEN, `${TEST_TOKEN}-previous`], metrics: [TEST_METRICS_TOKEN] });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers 401 with WWW-Authenticate: Bearer and a JSON body to a route called without a credential', async () => {
    const res = await call(url('/segments'));
    expect(res.status).toBe(401);
    expect(res.authenticate).toMatch(/^Bearer /);
    expect(res.body).toEqual({ error: expect.stringContaining('Bearer') });
  });

  it('checks the credential before routing: an unknown path is 401 too, not a 404 oracle', async () => {
    expect((await call(url('/customers/c-1/segments'))).status).toBe(401);
    expect((await call(url('/no-such-route'))).status).toBe(401);
    expect((await call(url('/no-such-route'), TEST_TOKEN)).status).toBe(404);
  });

  it('refuses a wrong, malformed or differently spelled token (error="invalid_token")', async () => {
    for (const header of [`Bearer ${TEST_TOKEN}x`, `Bearer ${TEST_TOKEN.slice(0, -1)}`, 'Bearer', `Basic ${TEST_TOKEN}`, `Bearer ${TEST_TOKEN} extra`, 'Bearer a']) {
      const res = await fetch(url('/segments'), { headers: { authorization: header } });
      expect([res.status, header]).toEqual([401, header]);
      await res.text();
    }
    const wrong = await call(url('/segments'), 'x'.repeat(40));
    expect(wrong.authenticate).toContain('error="invalid_token"');
  });

  it('accepts the token (and the previous one during rotation); the scheme name ignores case', async () => {
    expect((await call(url('/segments'), TEST_TOKEN)).status).toBe(200);
    expect((await call(url('/segments'), `${TEST_TOKEN}-previous`)).status).toBe(200);
    const res = await fetch(url('/segments'), { headers: { authorization: `bearer ${TEST_TOKEN}` } });
    expect(res.status).toBe(200);
    await res.text();
  });

  it('keeps /healthz and /readyz open, and puts /metrics behind the api or the metrics token', async () => {
    expect((await call(url('/healthz'))).status).toBe(200);
    expect((await call(url('/readyz'))).status).toBe(200);
    expect((await call(url('/metrics'))).status).toBe(401);
    expect((await call(url('/metrics'), TEST_METRICS_TOKEN)).status).toBe(200);
    expect((await call(url('/metrics'), TEST_TOKEN)).status).toBe(200);
    // The metrics token opens nothing else.
    expect((await call(url('/segments'), TEST_METRICS_TOKEN)).status).toBe(401);
  });

  it('counts refusals in kairos_http_requests_total{route="unauthorized"}', async () => {
    await call(url('/segments'));
    const metrics = (await call(url('/metrics'), TEST_TOKEN)).body as string;
    expect(metrics).toMatch(/kairos_http_requests_total\{route="unauthorized",status="401"\} [1-9]/);
  });
});

describe('a token on loopback', () => {
  it('is required there too once configured', async () => {
    const server = await start({ host: '127.0.0.1', api: [TEST_TOKEN] });
    try {
      expect((await call(`http://127.0.0.1:${server.port}/segments`)).status).toBe(401);
      expect((await call(`http://127.0.0.1:${server.port}/segments`, TEST_TOKEN)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('without any token, loopback stays open (local development)', async () => {
    const server = await start();
    try {
      expect((await call(`http://127.0.0.1:${server.port}/segments`)).status).toBe(200);
      expect((await call(`http://127.0.0.1:${server.port}/metrics`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('BearerAuth', () => {
  const auth = new BearerAuth({ api: [TEST_TOKEN], metrics: [] });

  it('never throws on tokens of another length and compares whole tokens', () => {
    expect(auth.check(`Bearer ${TEST_TOKEN}`, 'api')).toBe('ok');
    expect(auth.check(`Bearer ${'a'.repeat(5000)}`, 'api')).toBe('invalid');
    expect(auth.check(`Bearer ${TEST_TOKEN.slice(0, 10)}`, 'api')).toBe('invalid');
    expect(auth.check(undefined, 'api')).toBe('missing');
    expect(auth.check('', 'metrics')).toBe('missing');
  });
});

describe('a request target that is no path', () => {
  it('is a JSON 400, not a 500 (new URL threw on "//")', async () => {
    const server = await start();
    try {
      const { status, body } = await rawGet(server.port, '//');
      expect(status).toBe(400);
      expect(JSON.parse(body)).toEqual({ error: expect.any(String) });
    } finally {
      await server.close();
    }
  });
});
