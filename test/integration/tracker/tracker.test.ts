/**
 * Issue 12, the tracker against the real stack: the renderer sends through the SES emulator
 * with its links pointing at a tracker started here; the segmenter and the renderer read the
 * events the tracker publishes on a private behavior.events topic.
 *
 * - every http(s) link of a sent email goes through the tracker, and the open pixel is there;
 * - an open and a click arrive on behavior.events (campaign_id, message_id, variant) and put the
 *   customer in `engaged`;
 * - a one-click unsubscribe arrives too, and no further marketing email is sent to the customer;
 *   a re-subscribe on the preferences page lets the next one through;
 * - tampered, swapped, unsigned and expired links are refused with 4xx, never redirect, and
 *   publish nothing.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Producer } from 'kafkajs';
import { signLinkToken } from '../../../services/core/links';
import { customerProfile, type BehaviorEvent, type EmailOutcome, type SegmentChange, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { partitionOf } from '../../../services/kit/partitioner';
import { createRedis } from '../../../services/kit/redis';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { startTracker, trackerShape, type RunningTracker } from '../../../services/tracker/main';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { connectedProducer, noonZone, REDIS_URL, waitFor } from '../../support/stack';
import { EMULATOR, emulatorEmails } from '../renderer/ses-proxy';

const PARTITIONS = 3;
const DAY_MS = 86_400_000;
const TEST_KEY = { id: 'k1', secret: TEST_LINK_SECRET };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the tracker, byte for byte (no redirect following). */
function hit(base: string, method: string, path: string, body?: string): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: `${url.pathname}${url.search}`,
        headers: { 'user-agent': 'Mozilla/5.0 (integration test)', ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the tracker against the real stack', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let tracker: RunningTracker;
  let segmenter: RunningService;
  let renderer: RunningRenderer;
  let producer: Producer;
  let triggerSchemaId: number;
  let base: string;
  const types = recordTypes();
  const address = (customer: string) => `${customer}-${run}@example.com`;

  beforeAll(async () => {
    pipeline = await createTestPipeline('tracker', PARTITIONS);
    producer = await connectedProducer();
    triggerSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    tracker = await startTracker(loadConfig(trackerShape, { ...pipeline.env, LINK_SIGNING_SECRET: TEST_LINK_SECRET }), { logger: silentLogger });
    base = `http://127.0.0.1:${tracker.http.port}`;
    segmenter = await startSegmenter(loadConfig(segmenterShape, { ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-segmenter`, TIMER_INTERVAL_MS: '200' }), { logger: silentLogger });
    renderer = await startRenderer(
      loadConfig(rendererShape, {
        ...pipeline.env,
        GROUP_ID: `${pipeline.env.GROUP_ID}-renderer`,
        SES_ENDPOINT: EMULATOR,
        LINK_SIGNING_SECRET: TEST_LINK_SECRET,
        TRACKING_BASE_URL: base,
        RECOMMENDATIONS_SOURCE: 'static',
        FALLBACK_PRODUCT_IDS: 'sku-1,sku-2',
      }),
      { logger: silentLogger },
    );
    await waitFor('the segmenter and the renderer to join their groups', () => segmenter.runner.isReady() && renderer.runner.isReady(), 60_000);
  });
  afterAll(async () => {
    await renderer?.stop();
    await segmenter?.stop();
    await tracker?.stop();
    await producer?.disconnect();
    await pipeline?.close();
  });

  async function givenProfile(customer: string): Promise<void> {
    const profile = customerProfile({ customer_id: customer, email: address(customer), first_name: 'Dana', consent_email: true, locale: 'en-US', timezone: noonZone(Date.now()), updated_at: Date.now() - 60_000 });
    await pipeline.produceProfiles([profile]);
    await waitFor(`the renderer to store ${customer}'s profile`, async () => (await renderer.store.customer(partitionOf(customer, PARTITIONS), customer)).profile !== null);
  }

  /** Produces a cart_abandoned trigger and returns its final outcome. */
  async function cartAbandoned(customer: string): Promise<EmailOutcome> {
    const trigger: TriggerFired = { trigger_id: `${customer}-cart-${randomUUID().slice(0, 8)}`, rule: 'cart_abandoned', customer_id: customer, fired_at: Date.now(), cause_event_id: null, context: { cart_product_ids: 'sku-7,sku-8' } };
    await producer.send({ topic: pipeline.topics.triggers, messages: [{ key: customer, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, trigger) }] });
    return waitFor(`the outcome of ${trigger.trigger_id}`, async () => {
      const outcomes = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
      return outcomes.find((o) => o.trigger_id === trigger.trigger_id && o.status !== 'deferred');
    }, 60_000);
  }

  const emailsTo = async (customer: string) => (await emulatorEmails()).filter((e) => e.destination.to.some((to) => to.includes(address(customer))));
  const eventsOf = async (customer: string) => (await pipeline.readAll<BehaviorEvent>(pipeline.topics.events, 'BehaviorEvent')).filter((e) => e.customer_id === customer);
  const trackerPath = (url: string) => {
    expect(url.startsWith(`${base}/`)).toBe(true);
    return url.slice(base.length);
  };

  it('open, click, unsubscribe and re-subscribe go through the tracker to behavior.events, the segments and the renderer', async () => {
    const customer = `reader-${run}`;
    await givenProfile(customer);
    const first = await cartAbandoned(customer);
    expect(first).toEqual(expect.objectContaining({ status: 'sent', campaign: 'cart_reminder' }));
    const [email] = await emailsTo(customer);
    const html = email?.body.html ?? '';
    const text = email?.body.text ?? '';

    // Every http(s) link of both parts goes through the tracker; the pixel is at the end of the body.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&')).filter((href) => /^https?:/i.test(href));
    expect(hrefs.length).toBeGreaterThanOrEqual(4);
    expect(hrefs.filter((href) => !href.startsWith(`${base}/`))).toEqual([]);
    const textUrls = [...text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]);
    expect(textUrls.length).toBeGreaterThanOrEqual(3);
    expect(textUrls.filter((url) => !url.startsWith(`${base}/`))).toEqual([]);
    const pixel = /<img src="([^"]+\/o\/[^"]+)" width="1" height="1"[^>]*><\/body>/.exec(html)?.[1] ?? '';
    const click = hrefs.find((href) => href.includes('/c/')) ?? '';
    const unsubscribe = hrefs.find((href) => href.includes('/u/')) ?? '';
    const preferences = hrefs.find((href) => href.includes('/p/')) ?? '';
    expect([pixel, click, unsubscribe, preferences].every((url) => url !== '')).toBe(true);

    // Open and click.
    const opened = await hit(base, 'GET', trackerPath(pixel));
    expect([opened.status, opened.headers['content-type']]).toEqual([200, 'image/gif']);
    const clicked = await hit(base, 'GET', trackerPath(click));
    expect(clicked.status).toBe(302);
    expect(String(clicked.headers.location)).toMatch(/^https:\/\/shop\.example\.com\//);
    const events = await waitFor('the open and the click on behavior.events', async () => {
      const found = await eventsOf(customer);
      return found.length >= 2 ? found : undefined;
    });
    expect(events.map((e) => e.type).sort()).toEqual(['email_click', 'email_open']);
    for (const event of events) {
      expect(event).toEqual(expect.objectContaining({ campaign_id: 'cart_reminder', message_id: first.trigger_id }));
      expect(event.properties.source).toBe('tracker');
    }
    expect(events.find((e) => e.type === 'email_click')?.properties.url).toBe(clicked.headers.location);
    // The segmenter puts the customer in engaged.
    await waitFor(`${customer} entering engaged`, async () =>
      (await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange')).some((c) => c.customer_id === customer && c.segment === 'engaged' && c.change === 'entered'),
    );

    // Unsubscribe: the page changes nothing, the one-click POST does.
    expect((await hit(base, 'GET', trackerPath(unsubscribe))).status).toBe(200);
    const done = await hit(base, 'POST', trackerPath(unsubscribe), 'List-Unsubscribe=One-Click');
    expect(done.status).toBe(200);
    expect((await hit(base, 'POST', trackerPath(unsubscribe), 'List-Unsubscribe=One-Click')).status).toBe(200); // a repeat is harmless
    const unsubscribes = await waitFor('the unsubscribe events', async () => {
      const found = (await eventsOf(customer)).filter((e) => e.type === 'unsubscribe');
      return found.length >= 2 ? found : undefined;
    });
    expect(new Set(unsubscribes.map((e) => e.event_id)).size).toBe(1);
    expect(unsubscribes[0]).toEqual(expect.objectContaining({ campaign_id: 'cart_reminder', message_id: first.trigger_id }));
    const partition = partitionOf(customer, PARTITIONS);
    await waitFor('the renderer to learn the unsubscribe', async () => (await renderer.store.customer(partition, customer)).unsubscribedAt !== null);

    // No further marketing email.
    const second = await cartAbandoned(customer);
    expect(second.status).toBe('suppressed');
    expect(second.reason).toMatch(/^unsubscribed/);
    expect(await emailsTo(customer)).toHaveLength(1);

    // The preferences page takes it back; the next email goes out (standard_message: engaged now).
    expect((await hit(base, 'GET', trackerPath(preferences))).status).toBe(200);
    expect((await hit(base, 'POST', trackerPath(preferences), 'action=resubscribe')).status).toBe(200);
    await waitFor('the renderer to learn the re-subscribe', async () => (await renderer.store.customer(partition, customer)).resubscribedAt !== null);
    const third = await cartAbandoned(customer);
    expect(third).toEqual(expect.objectContaining({ status: 'sent', campaign: 'standard_message' }));
    expect(await emailsTo(customer)).toHaveLength(2);
  });

  it('an open whose event Kafka did not take in time is spooled in Redis before the answer; a tracker killed then leaves it there and another publishes it', async () => {
    const customer = `spooled-${run}`;
    const ids = { customer_id: customer, trigger_id: `t-spool-${run}`, campaign: 'standard_message' };
    const config = loadConfig(trackerShape, { ...pipeline.env, LINK_SIGNING_SECRET: TEST_LINK_SECRET, HTTP_PORT: '0', TRACKER_SPOOL_AGE: '0' });
    const spoolKey = `{${pipeline.prefix}:tracker:spool}`;
    const redis = createRedis({ REDIS_URL });
    // A broker that never answers this instance: the open is answered after the wait, its event only in the spool.
    const stuck = await startTracker(config, { logger: silentLogger, publisher: { publish: () => new Promise(() => undefined) } });
    try {
      const answer = await hit(`http://127.0.0.1:${stuck.http.port}`, 'GET', `/o/${signLinkToken({ kind: 'open', ...ids }, TEST_KEY, { nowMs: Date.now() })}`);
      expect(answer.status).toBe(200);
      const spooled = await redis.hgetall(spoolKey);
      expect(Object.values(spooled).map((entry) => (JSON.parse(entry) as { event: BehaviorEvent }).event.customer_id)).toEqual([customer]);
    } finally {
      await stuck.stop(); // what a SIGKILL leaves: the event in the spool, not in Kafka
    }
    expect(await eventsOf(customer)).toEqual([]);
    // Any instance with a working broker drains it (every 5 s, entries older than TRACKER_SPOOL_AGE).
    const other = await startTracker(config, { logger: silentLogger });
    try {
      const events = await waitFor('the spooled open on behavior.events', async () => {
        const found = await eventsOf(customer);
        return found.length > 0 ? found : undefined;
      }, 30_000);
      expect(events.map((e) => e.type)).toEqual(['email_open']);
      await waitFor('the spool to be empty', async () => (await redis.hlen(spoolKey)) === 0);
    } finally {
      await other.stop();
      redis.disconnect();
    }
  });

  it('mounts SES feedback at POST /ses/notifications (among the public routes): an unsigned message is refused by the SNS checks', async () => {
    const answer = await hit(base, 'POST', '/ses/notifications', JSON.stringify({ Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:eu-west-1:123456789012:ses-events' }));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect([401, 404]).not.toContain(answer.status);
  });

  it('refuses tampered, swapped, unsigned and expired links with 4xx, never redirects, and publishes nothing', async () => {
    const customer = `mallory-${run}`;
    const ids = { customer_id: customer, trigger_id: `t-${run}`, campaign: 'standard_message' };
    const now = Date.now();
    const clickToken = signLinkToken({ kind: 'click', ...ids, url: 'https://shop.example.com/p/1' }, TEST_KEY, { nowMs: now });
    const [v, id, payload, mac] = clickToken.split('.') as [string, string, string, string];
    const evil = Buffer.from(JSON.stringify({ ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object), u: 'https://evil.example/' })).toString('base64url');
    const unsubscribeToken = signLinkToken({ kind: 'unsubscribe', ...ids }, TEST_KEY, { nowMs: now });
    const refused: Array<[string, string, string, string | undefined]> = [
      ['tampered target', 'GET', `/c/${v}.${id}.${evil}.${mac}`, undefined],
      ['tampered customer', 'POST', `/u/${v}.${id}.${Buffer.from(JSON.stringify({ ...(JSON.parse(Buffer.from(unsubscribeToken.split('.')[2] as string, 'base64url').toString()) as object), c: 'victim' })).toString('base64url')}.${unsubscribeToken.split('.')[3] as string}`, 'List-Unsubscribe=One-Click'],
      ['unsubscribe token on /c/', 'GET', `/c/${unsubscribeToken}`, undefined],
      ['click token on /u/', 'POST', `/u/${clickToken}`, 'List-Unsubscribe=One-Click'],
      ['click token on /p/', 'POST', `/p/${clickToken}`, 'action=unsubscribe'],
      ['unsigned', 'GET', `/c/${v}.${id}.${payload}`, undefined],
      ['unsigned unsubscribe', 'POST', `/u/${v}.${id}.${payload}`, 'List-Unsubscribe=One-Click'],
      ['a bare URL', 'GET', `/c/${encodeURIComponent('https://evil.example/')}`, undefined],
      ['signed by another secret', 'GET', `/c/${signLinkToken({ kind: 'click', ...ids, url: 'https://evil.example/' }, { id: 'k1', secret: 'not-the-tracker-secret-0123456789abcdef' }, { nowMs: now })}`, undefined],
      ['expired', 'GET', `/c/${signLinkToken({ kind: 'click', ...ids, url: 'https://shop.example.com/p/1' }, TEST_KEY, { nowMs: now - 400 * DAY_MS })}`, undefined],
      ['expired unsubscribe', 'POST', `/u/${signLinkToken({ kind: 'unsubscribe', ...ids }, TEST_KEY, { nowMs: now - 10 * DAY_MS, ttlMs: DAY_MS })}`, 'List-Unsubscribe=One-Click'],
    ];
    for (const [what, method, path, body] of refused) {
      const answer = await hit(base, method, path, body);
      expect([what, answer.status >= 400 && answer.status < 500, answer.headers.location]).toEqual([what, true, undefined]);
      expect(answer.body).not.toContain('evil.example');
    }
    // A valid hit of the same customer afterwards (same key, same partition, produced after the
    // refused ones): once it is on the topic, anything the refused ones had published would be too.
    expect((await hit(base, 'GET', `/o/${signLinkToken({ kind: 'open', ...ids }, TEST_KEY, { nowMs: now })}`)).status).toBe(200);
    const events = await waitFor('the sentinel open', async () => {
      const found = await eventsOf(customer);
      return found.some((e) => e.type === 'email_open') ? found : undefined;
    });
    expect(events.map((e) => e.type)).toEqual(['email_open']);
    expect((await eventsOf('victim')).length).toBe(0);
  });
});
