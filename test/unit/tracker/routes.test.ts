/**
 * The tracker's routes over the kit's server on loopback, with a publisher that records (or
 * hangs, or fails) instead of Kafka and an injected clock. The real-stack journey (Kafka, the
 * segmenter, the renderer) is test/integration/tracker/tracker.test.ts.
 */
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { LinkSigner, signLinkToken, type LinkKey, type LinkKeyring } from '../../../services/core/links';
import type { BehaviorEvent } from '../../../services/core/types';
import { startHttpServer, type HttpServer } from '../../../services/kit/http';
import { createTrackerMetrics, formFields, MAX_FORM_BYTES, PIXEL_GIF, trackerRoutes, type EventPublisher } from '../../../services/tracker/routes';
import { capturingLogger, TEST_TOKEN } from '../../support/http-client';

const KEY: LinkKey = { id: 'k2', secret: 'tracker-unit-test-secret-Zq8v1N3xR6tY0pW4mK7j' };
const OLD: LinkKey = { id: 'k1', secret: 'tracker-unit-test-old-secret-Hc5gT2bL9sD1fQ8u' };
const OTHER: LinkKey = { id: 'k2', secret: 'somebody-elses-secret-under-our-key-id-123456' };
const keyring: LinkKeyring = { current: KEY, previous: [OLD] };
const T0 = Date.UTC(2026, 5, 15, 12, 0, 0);
const BASE = 'https://t.example.com';
const context = { customer_id: 'c-1', trigger_id: 'tr-1', campaign: 'standard_message', variant: 'b' };
const TARGET = 'https://shop.example.com/p/sku-1?utm_source=email';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(port: number, method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'user-agent': 'Mozilla/5.0 (test browser)', ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
const form = (body: string) => ({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const path = (url: string) => url.slice(BASE.length);

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the tracker routes', () => {
  const { logger, lines } = capturingLogger('tracker-test');
  let server: HttpServer;
  let now = T0;
  let published: BehaviorEvent[] = [];
  let mode: 'ok' | 'hang' | 'fail' = 'ok';
  const publisher: EventPublisher = {
    publish: (event) => {
      if (mode === 'hang') return new Promise(() => undefined);
      if (mode === 'fail') return Promise.reject(new Error('broker away'));
      published.push(event);
      return Promise.resolve();
    },
  };
  const signer = new LinkSigner(KEY, BASE);
  const registry = new Registry();

  beforeAll(async () => {
    const routes = trackerRoutes({
      keyring,
      publisher,
      clock: () => now,
      policy: { suspectWithinMs: 30_000 },
      publishTimeoutMs: 200,
      logger,
      metrics: createTrackerMetrics(registry),
      helpUrl: 'https://shop.example.com/account/email',
    });
    // With a token configured: the link routes must still answer without one.
    server = await startHttpServer({ port: 0, registry, logger, readiness: [], credentials: { api: [TEST_TOKEN], metrics: [] }, publicRoutes: routes });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    published = [];
    mode = 'ok';
    now = T0;
  });
  const later = () => (now = T0 + 3_600_000);
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('a click redirects to the signed target and publishes an email_click; every click is counted', async () => {
    const url = signer.click(TARGET, context, T0);
    later();
    const first = await send(server.port, 'GET', path(url));
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(TARGET);
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    await send(server.port, 'GET', path(url));
    await settle();
    expect(published).toHaveLength(2);
    expect(published[0]).toEqual(expect.objectContaining({ type: 'email_click', customer_id: 'c-1', campaign_id: 'standard_message', message_id: 'tr-1' }));
    expect(published[0]?.properties).toEqual(expect.objectContaining({ variant: 'b', url: TARGET }));
    expect(published[0]?.properties.suspect).toBeUndefined();
    expect(published[0]?.event_id).not.toBe(published[1]?.event_id);
  });

  it('tampered, swapped, unsigned, foreign-key and expired links get a 4xx page, no redirect, no event', async () => {
    const click = signer.click(TARGET, context, T0);
    const token = path(click).slice(3);
    const [v, id, payload, mac] = token.split('.') as [string, string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), u: 'https://evil.example/' })).toString('base64url');
    const other = signLinkToken({ kind: 'click', ...context, url: 'https://evil.example/' }, OTHER, { nowMs: T0 });
    const cases: Array<[string, string, number]> = [
      ['tampered target', `/c/${v}.${id}.${forgedPayload}.${mac}`, 400],
      ['unsubscribe token on /c/', `/c/${path(signer.unsubscribe(context, T0)).slice(3)}`, 400],
      ['open token on /c/', `/c/${path(signer.open(context, T0)).slice(3)}`, 400],
      ['unsigned', `/c/${v}.${id}.${payload}`, 400],
      ['no token', '/c/', 400],
      ['signed by another secret', `/c/${other}`, 400],
      ['a raw URL', `/c/${encodeURIComponent('https://evil.example/')}`, 400],
      ['extra path', `/c/${token}/x`, 400],
      ['a query', `/c/${token}?u=https://evil.example/`, 400],
    ];
    later();
    for (const [what, target, status] of cases) {
      const answer = await send(server.port, 'GET', target);
      expect([what, answer.status, answer.headers.location]).toEqual([what, status, undefined]);
      expect(String(answer.headers['content-type'])).toContain('text/html');
      expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
      expect(answer.body.toString()).not.toContain('evil.example');
    }
    now = T0 + 366 * 86_400_000;
    const expired = await send(server.port, 'GET', path(click));
    expect([expired.status, expired.headers.location]).toEqual([410, undefined]);
    expect(expired.body.toString()).not.toContain('account/email');
    // An expired unsubscribe link still tells how to unsubscribe.
    const oldUnsubscribe = await send(server.port, 'GET', path(signLinkToken({ kind: 'unsubscribe', ...context }, KEY, { nowMs: T0, ttlMs: 1000 }).replace(/^/, `${BASE}/u/`)));
    expect(oldUnsubscribe.status).toBe(410);
    expect(oldUnsubscribe.body.toString()).toContain('href="https://shop.example.com/account/email"');
    // A retired key still verifies (rotation).
    now = T0 + 60_000;
    expect((await send(server.port, 'GET', path(new LinkSigner(OLD, BASE).click(TARGET, context, T0)))).status).toBe(302);
    await settle();
    expect(published.map((e) => e.type)).toEqual(['email_click']);
  });

  it('the pixel is a no-cache GIF for any token; only a valid open token publishes, once a day', async () => {
    const url = signer.open(context, T0);
    later();
    for (const target of [path(url), path(url), '/o/garbage', `/o/${path(signer.click(TARGET, context, T0)).slice(3)}`]) {
      const answer = await send(server.port, 'GET', target);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('image/gif');
      expect(answer.headers['cache-control']).toContain('no-store');
      expect(answer.body.equals(PIXEL_GIF)).toBe(true);
    }
    await settle();
    expect(published.map((e) => e.type)).toEqual(['email_open', 'email_open']);
    expect(published[0]?.event_id).toBe(published[1]?.event_id);
  });

  it('marks a HEAD prefetch and a click seconds after sending, and still redirects', async () => {
    const url = signer.click(TARGET, context, T0);
    now = T0 + 2_000;
    const head = await send(server.port, 'HEAD', path(url));
    expect(head.status).toBe(302);
    await settle();
    expect(published[0]?.properties).toEqual(expect.objectContaining({ prefetch: 'head', suspect: 'fast_click' }));
  });

  it('GET /u/ shows a form and changes nothing; the RFC 8058 POST unsubscribes; a repeat is the same event', async () => {
    const url = signer.unsubscribe(context, T0);
    later();
    const page = await send(server.port, 'GET', path(url));
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    await settle();
    expect(published).toEqual([]);
    const first = await send(server.port, 'POST', path(url), form('List-Unsubscribe=One-Click'));
    expect(first.status).toBe(200);
    expect(first.body.toString()).toContain('You are unsubscribed');
    // It links the preferences page, signed for the same email.
    const href = /href="\.\.\/p\/([^"]+)"/.exec(first.body.toString())?.[1] ?? '';
    expect((await send(server.port, 'GET', `/p/${href}`)).status).toBe(200);
    await send(server.port, 'POST', path(url), form('List-Unsubscribe=One-Click&source=page'));
    expect(published.map((e) => [e.type, e.properties.via])).toEqual([['unsubscribe', 'one_click'], ['unsubscribe', 'page']]);
    expect(published[0]?.event_id).toBe(published[1]?.event_id);
  });

  it('refuses a POST without the one-click field, of another type, or too big; and an unsubscribe token swapped onto /p/', async () => {
    const url = signer.unsubscribe(context, T0);
    later();
    expect((await send(server.port, 'POST', path(url), form('List-Unsubscribe=Yes'))).status).toBe(400);
    expect((await send(server.port, 'POST', path(url), { body: '{"List-Unsubscribe":"One-Click"}', headers: { 'content-type': 'application/json' } })).status).toBe(415);
    expect((await send(server.port, 'POST', path(url), form(`List-Unsubscribe=One-Click&x=${'a'.repeat(MAX_FORM_BYTES)}`))).status).toBe(413);
    expect((await send(server.port, 'POST', `/p/${path(url).slice(3)}`, form('action=unsubscribe'))).status).toBe(400);
    expect((await send(server.port, 'POST', path(signer.click(TARGET, context, T0)).replace('/c/', '/u/'), form('List-Unsubscribe=One-Click'))).status).toBe(400);
    expect((await send(server.port, 'DELETE', path(url))).status).toBe(405);
    expect(published).toEqual([]);
  });

  it('the preferences page unsubscribes and re-subscribes', async () => {
    const url = signer.preferences(context, T0);
    later();
    expect((await send(server.port, 'GET', path(url))).body.toString()).toContain('name="action" value="resubscribe"');
    expect((await send(server.port, 'POST', path(url), form('action=resubscribe'))).status).toBe(200);
    expect((await send(server.port, 'POST', path(url), form('action=unsubscribe'))).status).toBe(200);
    expect((await send(server.port, 'POST', path(url), form('action=delete'))).status).toBe(400);
    expect(published.map((e) => [e.type, e.properties.via, e.properties.variant])).toEqual([['resubscribe', 'preferences', 'b'], ['unsubscribe', 'preferences', 'b']]);
  });

  it('with Kafka away: a POST answers 503 (retry), a click still redirects, the pixel still loads', async () => {
    later();
    for (const failure of ['hang', 'fail'] as const) {
      mode = failure;
      const post = await send(server.port, 'POST', path(signer.unsubscribe(context, T0)), form('List-Unsubscribe=One-Click'));
      expect([failure, post.status, post.headers['retry-after']]).toEqual([failure, 503, '60']);
      expect((await send(server.port, 'GET', path(signer.click(TARGET, context, T0)))).status).toBe(302);
      expect((await send(server.port, 'GET', path(signer.open(context, T0)))).status).toBe(200);
    }
    const metrics = await registry.metrics();
    expect(metrics).toContain('kairos_tracker_events_total{type="unsubscribe",result="timeout"} 1');
    expect(metrics).toContain('kairos_tracker_events_total{type="unsubscribe",result="failed"} 1');
    expect(metrics).toMatch(/kairos_tracker_events_total\{type="email_click",result="failed"\} 1/);
  });

  it('a client that leaves in the middle of its POST body changes nothing and fails nothing', async () => {
    const url = signer.unsubscribe(context, T0);
    later();
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path: path(url), headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '200' } });
      req.on('error', () => resolve());
      req.write('List-Unsubscribe=One');
      setTimeout(() => req.destroy(), 50);
    });
    await waitUntil(async () => (await registry.metrics()).includes('kairos_http_requests_total{route="POST /u/",status="client_gone"}'));
    expect(published).toEqual([]);
    expect(lines.filter((line) => line.includes('http handler failed'))).toEqual([]);
  });

  it('reads multipart one-click posts too', () => {
    const body = Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n');
    expect(formFields('multipart/form-data; boundary=XyZ', body)?.get('List-Unsubscribe')).toBe('One-Click');
    expect(formFields('text/plain', body)).toBeNull();
  });
});

describe('the tracker routes with a spool, while the broker is away', () => {
  const { logger } = capturingLogger('tracker-spool-test');
  const brokerAway = () => Object.assign(new Error('Connection error: ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
  const signer = new LinkSigner(KEY, BASE);

  /** A tracker whose publisher fails as a broker away does until `up`, over a spool in memory (`room`: whether it keeps). */
  async function start(room: boolean) {
    const state = { attempts: 0, up: false, published: [] as BehaviorEvent[], spooled: new Map<string, BehaviorEvent>() };
    const registry = new Registry();
    const routes = trackerRoutes({
      keyring,
      publisher: {
        publish: async (event) => {
          state.attempts += 1;
          if (!state.up) throw brokerAway();
          state.published.push(event);
        },
      },
      clock: () => T0 + 3_600_000,
      policy: { suspectWithinMs: 30_000 },
      publishTimeoutMs: 200,
      logger,
      metrics: createTrackerMetrics(registry),
      spool: {
        keep: async (event) => room && state.spooled.set(event.event_id, event) !== undefined,
        done: async (eventId) => void state.spooled.delete(eventId),
      },
      spoolAgeMs: 600,
    });
    const server = await startHttpServer({ port: 0, registry, logger, readiness: [], credentials: { api: [TEST_TOKEN], metrics: [] }, publicRoutes: routes });
    const count = async (result: string) => Number(new RegExp(`kairos_tracker_events_total\\{type="email_open",result="${result}"\\} (\\d+)`).exec(await registry.metrics())?.[1] ?? 0);
    return { state, server, count };
  }

  it('a spooled open is retried until it is as old as TRACKER_SPOOL_AGE, then left to the drainers: one publisher per event', async () => {
    const { state, server, count } = await start(true);
    try {
      expect((await send(server.port, 'GET', path(signer.open(context, T0)))).status).toBe(200);
      await waitUntil(async () => (await count('handed_over')) === 1);
      const attempts = state.attempts;
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(state.spooled.size).toBe(1); // for a drainer to publish
      // The request's retries have ended: with the broker back, only a drainer would publish it.
      state.up = true;
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(state.attempts).toBe(attempts);
      expect(state.published).toEqual([]);
      expect(await count('failed')).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('an open the spool could not keep is retried past that age, and published once the broker is back', async () => {
    const { state, server, count } = await start(false);
    try {
      expect((await send(server.port, 'GET', path(signer.open(context, T0)))).status).toBe(200);
      await waitUntil(async () => state.attempts >= 3); // the third try comes 1.5 s in, past the 600 ms age
      state.up = true;
      await waitUntil(async () => (await count('published')) === 1);
      expect(state.published.map((event) => event.type)).toEqual(['email_open']);
      expect(await count('spool_full')).toBe(1);
      expect(await count('handed_over')).toBe(0);
    } finally {
      await server.close();
    }
  });
});
