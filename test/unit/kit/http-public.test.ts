/**
 * Public routes of the kit's HTTP server (the tracker's signed links): served without a bearer
 * token even when one is configured, while /metrics and every private route still need it; a
 * wrong method on a public path is a 405 naming the allowed ones; a public prefix may not
 * overlap a private route or a built-in.
 */
import { Registry } from 'prom-client';
import { sendJson, startHttpServer, type HttpServer, type RouteHandler } from '../../../services/kit/http';
import { capturingLogger, rawGet, TEST_TOKEN } from '../../support/http-client';

const { logger } = capturingLogger('http-public-test');
const ok = (name: string): RouteHandler => (_req, res) => sendJson(res, 200, { route: name });

describe('startHttpServer with public routes', () => {
  let server: HttpServer;

  beforeAll(async () => {
    server = await startHttpServer({
      port: 0,
      registry: new Registry(),
      logger,
      readiness: [],
      credentials: { api: [TEST_TOKEN], metrics: [] },
      routes: { 'GET /admin/': ok('admin') },
      publicRoutes: { 'GET /c/': ok('click'), 'HEAD /c/': ok('click'), 'POST /u/': ok('unsubscribe') },
    });
  });
  afterAll(() => server.close());

  it('serves a public route without a token, and with one', async () => {
    expect(await rawGet(server.port, '/c/abc')).toEqual(expect.objectContaining({ status: 200, body: '{"route":"click"}' }));
    expect((await rawGet(server.port, '/c/abc', { token: TEST_TOKEN })).status).toBe(200);
    expect((await rawGet(server.port, '/u/abc', { method: 'POST' })).status).toBe(200);
  });

  it('keeps private routes, unknown paths and /metrics behind the token', async () => {
    expect((await rawGet(server.port, '/admin/x')).status).toBe(401);
    expect((await rawGet(server.port, '/nowhere')).status).toBe(401);
    expect((await rawGet(server.port, '/metrics')).status).toBe(401);
    expect((await rawGet(server.port, '/admin/x', { token: TEST_TOKEN })).status).toBe(200);
    expect((await rawGet(server.port, '/metrics', { token: TEST_TOKEN })).status).toBe(200);
  });

  it('answers 405 with Allow for another method on a public path, without a token', async () => {
    const put = await rawGet(server.port, '/c/abc', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(put.body)).toEqual({ error: 'method not allowed' });
    expect((await rawGet(server.port, '/u/abc')).headers.allow).toBe('POST');
  });

  it('counts public hits under their route', async () => {
    const server2 = await startHttpServer({ port: 0, registry: new Registry(), logger, readiness: [], publicRoutes: { 'GET /o/': ok('open') } });
    try {
      await rawGet(server2.port, '/o/x');
      const metrics = await rawGet(server2.port, '/metrics');
      expect(metrics.body).toContain('kairos_http_requests_total{route="GET /o/",status="200"} 1');
    } finally {
      await server2.close();
    }
  });

  it('refuses at start-up a public prefix that overlaps a private route or a built-in, or opens every path', async () => {
    const start = (publicRoutes: Record<string, RouteHandler>, routes: Record<string, RouteHandler> = {}) =>
      startHttpServer({ port: 0, registry: new Registry(), logger, readiness: [], routes, publicRoutes });
    await expect(start({ 'GET /admin': ok('x') }, { 'GET /admin/': ok('admin') })).rejects.toThrow(/overlaps the private path "\/admin\/"/);
    await expect(start({ 'GET /c/x/': ok('x') }, { 'GET /c/': ok('admin') })).rejects.toThrow(/overlaps/);
    await expect(start({ 'GET /metrics': ok('x') })).rejects.toThrow(/overlaps the private path "\/metrics"/);
    await expect(start({ 'GET /': ok('x') })).rejects.toThrow(/would open every path/);
  });
});
