/**
 * The renderer against the real stack: Kafka topics and Redis prefix of its own, the SES
 * emulator behind a recording proxy (which can also play SES throttling and rejections), an
 * injected clock, and recommendation sources that are plain objects.
 */
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { verifyLinkToken } from '../../../services/core/links';
import type { RecommendationSource } from '../../../services/core/recommendations';
import { behaviorEvent, customerProfile, type CustomerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { partitionOf } from '../../../services/kit/partitioner';
import { segmentStateKey } from '../../../services/kit/segment-state-key';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { RendererKeys } from '../../../services/renderer/keys';
import type { RendererHooks } from '../../../services/renderer/renderer';
import type { SentMailLookup } from '../../../services/renderer/sent-lookup';
import { EmulatorSentMailLookup } from '../../../services/renderer/sent-lookup';
import { SesEmailSender, createSesClient, type EmailSender } from '../../../services/renderer/ses';
import { TEST_LINK_KEYRING, TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { committedOffsets, connectedProducer, waitFor } from '../../support/stack';
import { emulatorEmails, startSesProxy, type SesProxy } from './ses-proxy';

const T0 = Date.parse('2026-06-15T12:00:00Z');
const HOUR = 3_600_000;
const RATE = 5;
const PARTITIONS = 3;

const picks: RecommendationSource = {
  recommend: async () => ({
    fallback: false,
    items: [
      { product_id: 'rec-1', title: 'Trail Runner Socks', url: 'https://shop.example.com/p/rec-1' },
      { product_id: 'rec-2', title: 'Merino Beanie', url: 'https://shop.example.com/p/rec-2', price_cents: 2500, currency: 'EUR' },
    ],
  }),
};
/** What the recommender's client resolves with when the recommender is down (its own fallback). */
const down: RecommendationSource = {
  recommend: async () => ({ fallback: true, items: [{ product_id: 'best-1', title: 'Best Seller Mug', url: 'https://shop.example.com/p/best-1' }] }),
};

class SimulatedCrash extends Error {}

describe('the renderer against the real stack', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let proxy: SesProxy;
  let service: RunningRenderer;
  let producer: Producer;
  let triggerSchemaId: number;
  const types = recordTypes();
  let now = T0;
  let recommendations: RecommendationSource = picks;
  /** Simulated SIGKILL: once set, the instance does nothing more (no SES, no lookup, no ledger). */
  let dead = false;
  const hooks: RendererHooks = {};
  const sendStarts: Array<{ at: number; triggerId: string }> = [];
  /** The shared rate limiter's admissions (Redis server clock), as it granted them. */
  const admissions: number[] = [];

  const email = (customer: string) => `${customer}-${run}@example.com`;

  async function start(env: Record<string, string> = {}): Promise<RunningRenderer> {
    dead = false;
    const config = loadConfig(rendererShape, {
      ...pipeline.env,
      SES_ENDPOINT: proxy.url,
      LINK_SIGNING_SECRET: TEST_LINK_SECRET,
      SES_MAX_SEND_RATE: String(RATE),
      SES_RETRY_BASE: '50',
      SES_RETRY_MAX: '400',
      TIMER_INTERVAL_MS: '60000', // timers are fired by the tests, on the injected clock
      FROM_ADDRESS: 'Kairos Test <shop@example.com>',
      // Off by default (no inbound mail handler); on here to check the mailto: variant too.
      LIST_UNSUBSCRIBE_MAILTO: 'true',
      ...env,
    });
    const ses = new SesEmailSender(createSesClient({ region: 'us-east-1', endpoint: proxy.url, requestTimeoutMs: 5000 }), 'kairos-test');
    const lookup = new EmulatorSentMailLookup(proxy.url, TEST_LINK_KEYRING, () => now);
    const alive = () => {
      if (dead) throw new SimulatedCrash('this instance was killed');
    };
    // Called the moment the rate limit admitted an attempt: the client-side send timestamps.
    const emailSender: EmailSender = { send: async (mail) => (alive(), sendStarts.push({ at: Date.now(), triggerId: mail.triggerId }), ses.send(mail)) };
    const sentLookup: SentMailLookup = { findSent: async (id) => (alive(), lookup.findSent(id)) };
    const instance = await startRenderer(config, {
      clock: () => now,
      logger: silentLogger,
      recommendations: { recommend: (request) => recommendations.recommend(request) },
      emailSender,
      rateLimiter: (limiter) => ({ acquire: async () => (alive(), admissions.push(await limiter.acquire()), admissions[admissions.length - 1] as number) }),
      sentLookup,
      hooks: {
        beforeTrigger: async (trigger) => hooks.beforeTrigger?.(trigger),
        afterReserve: async (trigger) => (alive(), hooks.afterReserve?.(trigger)),
        afterSesSend: async (trigger, id) => (alive(), hooks.afterSesSend?.(trigger, id)),
      },
    });
    await waitFor('the renderer to join its group', () => instance.runner.isReady());
    return instance;
  }

  beforeAll(async () => {
    pipeline = await createTestPipeline('renderer', PARTITIONS);
    proxy = await startSesProxy();
    producer = await connectedProducer();
    triggerSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    service = await start();
  });
  afterAll(async () => {
    await service?.stop();
    await producer?.disconnect();
    await proxy?.close();
    await pipeline?.close();
  });

  const profile = (customer: string, fields: Partial<CustomerProfile> = {}) =>
    customerProfile({ customer_id: customer, updated_at: T0 - HOUR, email: email(customer), first_name: 'Dana', last_name: 'Tester', locale: 'en-US', timezone: 'UTC', consent_email: true, ...fields });

  /** Produces profiles and waits until the renderer has stored them. */
  async function givenProfiles(profiles: CustomerProfile[], segments: Record<string, string[]> = {}): Promise<void> {
    await pipeline.produceProfiles(profiles);
    for (const p of profiles) {
      const partition = partitionOf(p.customer_id, PARTITIONS);
      await waitFor(`profile ${p.customer_id}`, async () => (await service.store.customer(partition, p.customer_id)).profile?.updated_at === p.updated_at);
    }
    for (const [customer, list] of Object.entries(segments)) {
      // A version-1 segment state holding only what segmentMembershipView reads.
      await service.redis.set(segmentStateKey(pipeline.prefix, partitionOf(customer, PARTITIONS), customer), JSON.stringify({ v: 1, m: [...list].sort() }));
    }
  }

  function trigger(customer: string, rule: string, context: Record<string, string> = { product_id: 'sku-42' }, id = `${customer}-${rule}-${randomUUID().slice(0, 6)}`): TriggerFired {
    return { trigger_id: id, rule, customer_id: customer, fired_at: now, cause_event_id: null, context };
  }

  async function produceTriggers(triggers: TriggerFired[]): Promise<void> {
    await producer.send({
      topic: pipeline.topics.triggers,
      messages: triggers.map((t) => ({ key: t.customer_id, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, t) })),
    });
  }

  async function outcomesOf(triggerId: string, atLeast = 1): Promise<EmailOutcome[]> {
    return waitFor(`outcome of ${triggerId}`, async () => {
      const found = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.trigger_id === triggerId);
      return found.length >= atLeast ? found : undefined;
    });
  }

  const emailsTo = async (customer: string) => (await emulatorEmails()).filter((e) => e.destination.to.some((to) => to.includes(email(customer))));

  it('sends one email with subject, preheader, name, product and recommendations; the outcome carries the SES message id', async () => {
    await givenProfiles([profile('full')], { full: ['engaged', 'frequent_buyer'] });
    const t = trigger('full', 'high_interest');
    await produceTriggers([t]);
    const [outcome] = await outcomesOf(t.trigger_id);
    expect(outcome).toEqual(expect.objectContaining({ status: 'sent', campaign: 'exclusive_offer', customer_id: 'full' }));
    // Priority: both case-study campaigns answer high_interest for this customer; 20 beats 10.
    expect(outcome.reason).toContain('priority 20 beats standard_message (10)');
    const [sent] = await emailsTo('full');
    expect(sent.messageId).toBe(outcome.ses_message_id);
    expect(sent.subject).toBe('Dana, an exclusive offer for you: 15% off');
    const html = sent.body.html ?? '';
    expect(html).toMatch(/<div style="display:none;[^"]*">15% off your next order - a thank-you/); // the hidden preheader
    expect(html).toContain('Hi Dana,');
    expect(html).toContain('sku-42');
    expect(html).toContain('Picked for you');
    expect(html).toContain('Trail Runner Socks');
    expect(html).toContain('THANKYOU15');
    // Shop links are wrapped in signed click-tracking links; no raw shop URL is left in the HTML.
    expect(html).not.toContain('href="https://shop.example.com/p/rec-1"');
    expect(html).toMatch(/href="http:\/\/127\.0\.0\.1:8094\/c\/v2\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"/);
    // Every http(s) link goes through the tracker, and the open pixel closes the body.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string).filter((href) => /^https?:/i.test(href));
    expect(hrefs.length).toBeGreaterThan(3);
    expect(hrefs.filter((href) => !href.startsWith('http://127.0.0.1:8094/'))).toEqual([]);
    expect(html).toMatch(/<img src="http:\/\/127\.0\.0\.1:8094\/o\/v2\.k1\.[^"]+" width="1" height="1"[^>]*><\/body>/);
    expect(html).toMatch(/href="http:\/\/127\.0\.0\.1:8094\/p\/v2\.k1\.[^"]+"[^>]*>Email preferences</);
    // The raw MIME SES was given (the emulator keeps no headers of raw mail, the proxy saw it).
    const raw = proxy.calls.find((c) => c.to.includes(email('full')))?.raw ?? '';
    // Long headers are folded (RFC 5322); unfold the header block before reading it.
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const listUnsubscribe = /^List-Unsubscribe: <(https?:\/\/[^>]+)>, <(mailto:[^>]+)>\r?$/m.exec(head);
    expect(listUnsubscribe).not.toBeNull();
    const [, oneClick, mailto] = listUnsubscribe as RegExpExecArray;
    const token = /\/u\/([^/]+)$/.exec(oneClick)?.[1] ?? '';
    expect(oneClick.startsWith('http://127.0.0.1:8094/u/')).toBe(true);
    expect(verifyLinkToken(token, TEST_LINK_KEYRING, now)).toEqual({ ok: true, claims: expect.objectContaining({ kind: 'unsubscribe', customer_id: 'full', trigger_id: t.trigger_id, campaign: 'exclusive_offer', key_id: 'k1' }) });
    expect(mailto).toBe(`mailto:unsubscribe@example.com?subject=unsubscribe%20${token}`);
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    expect(head).toMatch(new RegExp(`^X-Kairos-Trigger-Id: ${t.trigger_id}\\r?$`, 'mi'));
    expect(head).toMatch(/^From: Kairos Test <shop@example\.com>\r?$/m);
    expect(html).toContain(`href="${oneClick}"`); // the visible footer link is the same URL
    expect(raw).toMatch(/Content-Type: multipart\/alternative/);
  });

  it('with no first name and the recommender down it still renders, with fallbacks, in time', async () => {
    recommendations = down;
    try {
      await givenProfiles([profile('noname', { first_name: null, last_name: null })], { noname: ['engaged'] });
      const t = trigger('noname', 'high_interest');
      const started = Date.now();
      await produceTriggers([t]);
      const [outcome] = await outcomesOf(t.trigger_id);
      expect(outcome.status).toBe('sent');
      expect(outcome.campaign).toBe('standard_message');
      expect(Date.now() - started).toBeLessThan(10_000);
      const [sent] = await emailsTo('noname');
      expect(sent.body.html).toContain('Hi there,');
      expect(sent.body.html).toContain('Popular right now');
      expect(sent.body.html).toContain('Best Seller Mug');
      expect(sent.body.text).toContain('Hi there,');
      expect(`${sent.subject}${sent.body.html}${sent.body.text}`).not.toMatch(/undefined|\{\{|null/);
    } finally {
      recommendations = picks;
    }
  });

  it('escapes a <script> first name in the HTML', async () => {
    await givenProfiles([profile('xss', { first_name: '<script>alert(1)</script>' })], { xss: ['engaged'] });
    const t = trigger('xss', 'high_interest');
    await produceTriggers([t]);
    expect((await outcomesOf(t.trigger_id))[0].status).toBe('sent');
    const [sent] = await emailsTo('xss');
    expect(sent.body.html).toContain('Hi &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(sent.body.html).not.toContain('<script>');
  });

  it('previews a campaign for a stored customer over HTTP without sending', async () => {
    await givenProfiles([profile('preview', { first_name: 'Robin' })]);
    const base = `http://127.0.0.1:${service.http.port}/preview`;
    const before = (await emailsTo('preview')).length;
    const json = await fetch(`${base}?campaign=standard_message&customer_id=preview&product_id=sku-9`);
    expect(json.status).toBe(200);
    const body = (await json.json()) as { subject: string; html: string; text: string };
    expect(body.text).toContain('Robin');
    expect(body.html).toContain('Robin');
    // Previews sign with a throw-away key: no link a preview shows verifies with the renderer's keys.
    const tokens = [...`${body.html}\n${body.text}`.matchAll(/\/[cou]\/(v2\.[A-Za-z0-9_.-]+)/g)].map((m) => m[1]);
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((token) => verifyLinkToken(token, TEST_LINK_KEYRING, now))).toEqual(tokens.map(() => ({ ok: false, reason: 'unknown key' })));
    const html = await fetch(`${base}?campaign=standard_message&customer_id=preview&format=html`);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${base}?campaign=standard_message&customer_id=nobody`)).status).toBe(404);
    expect((await fetch(`${base}?campaign=nope&customer_id=preview`)).status).toBe(404);
    expect((await fetch(`${base}?customer_id=preview`)).status).toBe(400);
    expect(await emailsTo('preview')).toHaveLength(before); // nothing was sent
  });

  it('records each suppression reason and sends nothing', async () => {
    await givenProfiles(
      [
        profile('unsub'),
        profile('bounced'),
        profile('complained'),
        profile('noconsent', { consent_email: false }),
        profile('noemail', { email: null }),
      ],
      { unsub: ['engaged'], bounced: ['engaged'], complained: ['engaged'], noconsent: ['engaged'], noemail: ['engaged'] },
    );
    await pipeline.produceEvents([behaviorEvent({ event_id: `unsub-${run}`, customer_id: 'unsub', type: 'unsubscribe', occurred_at: T0 - 60_000 })]);
    await waitFor('the unsubscribe to be stored', async () => (await service.store.customer(partitionOf('unsub', PARTITIONS), 'unsub')).unsubscribedAt !== null);
    await service.store.suppress(email('bounced'), 'bounced');
    await service.store.suppress(email('complained'), 'complained');
    const cases = { unsub: 'unsubscribed', bounced: 'bounced', complained: 'complained', noconsent: 'no_consent', noemail: 'no_email', noprofile: 'no_email' };
    const triggers = Object.keys(cases).map((customer) => trigger(customer, 'high_interest'));
    await produceTriggers(triggers);
    for (const t of triggers) {
      const [outcome] = await outcomesOf(t.trigger_id);
      expect(outcome.status).toBe('suppressed');
      expect(outcome.reason?.split(':')[0]).toBe(cases[t.customer_id as keyof typeof cases]);
      expect(outcome.ses_message_id).toBeNull();
    }
    expect(proxy.calls.filter((c) => Object.keys(cases).some((customer) => c.to.includes(email(customer))))).toEqual([]);
  });

  it('skips for cooldown and for the frequency cap, with the reason', async () => {
    await givenProfiles([profile('cool'), profile('capped')], { cool: ['engaged'], capped: ['engaged'] });
    const first = trigger('cool', 'high_interest');
    const second = trigger('cool', 'high_interest');
    await produceTriggers([first, second]);
    expect((await outcomesOf(first.trigger_id))[0].status).toBe('sent');
    const [cooling] = await outcomesOf(second.trigger_id);
    expect(cooling).toEqual(expect.objectContaining({ status: 'skipped', campaign: 'standard_message' }));
    expect(cooling.reason).toMatch(/^cooldown: in cooldown: standard_message \(cooldown 24h/);

    // Three sends of other campaigns in the last 24 h: the default cap (3 per 24 h) is reached.
    const sends = `{${pipeline.prefix}:renderer:${partitionOf('capped', PARTITIONS)}}:sends:capped`;
    await service.redis.zadd(sends, now - 3 * HOUR, 'other|a', now - 2 * HOUR, 'other|b', now - HOUR, 'other|c');
    const capped = trigger('capped', 'high_interest');
    await produceTriggers([capped]);
    const [outcome] = await outcomesOf(capped.trigger_id);
    expect(outcome.status).toBe('skipped');
    expect(outcome.reason).toMatch(/^frequency_cap: 3 sends in the last 24h \(max 3\)/);
    expect(await emailsTo('capped')).toEqual([]);
  });

  it('defers a send in quiet hours (customer time zone) and sends it when they end, also after a restart', async () => {
    // 12:00 UTC is 21:00 in Tokyo: inside the default quiet hours 21:00-08:00.
    await givenProfiles([profile('night', { timezone: 'Asia/Tokyo' })], { night: ['engaged'] });
    const t = trigger('night', 'high_interest');
    await produceTriggers([t]);
    const [deferred] = await outcomesOf(t.trigger_id);
    expect(deferred.status).toBe('deferred');
    expect(deferred.reason).toContain('until 2026-06-15T23:00:00.000Z'); // 08:00 in Tokyo
    const partition = partitionOf('night', PARTITIONS);

    now = Date.parse('2026-06-15T22:59:00Z');
    await service.renderer.fireDue(partition);
    expect(await emailsTo('night')).toEqual([]);

    // Restarted meanwhile: a partition no new record reaches still fires its deferred sends.
    await service.stop();
    service = await start();
    now = Date.parse('2026-06-15T23:00:01Z');
    await service.renderer.fireDue(partition);
    const outcomes = await outcomesOf(t.trigger_id, 2);
    expect(outcomes.map((o) => o.status)).toEqual(['deferred', 'sent']);
    expect(await emailsTo('night')).toHaveLength(1);
    now = T0;
  });

  it('sends one email for the same trigger record delivered three times', async () => {
    await givenProfiles([profile('thrice')], { thrice: ['engaged'] });
    const t = trigger('thrice', 'high_interest');
    await produceTriggers([t]);
    await outcomesOf(t.trigger_id);
    await produceTriggers([t, t]);
    const marker = trigger('thrice', 'no_such_rule'); // a later record of the same partition
    await produceTriggers([marker]);
    await outcomesOf(marker.trigger_id);
    expect(await emailsTo('thrice')).toHaveLength(1);
    expect((await outcomesOf(t.trigger_id)).map((o) => o.status)).toEqual(['sent']);
  });

  it('retries SES throttling with backoff and never exceeds the send rate; a permanent error is a failed outcome', async () => {
    const customers = Array.from({ length: 12 }, (_, i) => `burst${i}`);
    admissions.length = 0;
    await givenProfiles([...customers.map((c) => profile(c)), profile('rejected')], Object.fromEntries([...customers, 'rejected'].map((c) => [c, ['engaged']])));
    proxy.setFaults(({ to, attemptOfRecipient }) => {
      if (to.includes(email('rejected'))) return { status: 400, errorType: 'MessageRejected', message: 'Email address is not verified.' };
      // The first two attempts for a third of the customers are throttled, as SES does.
      if (/burst[0369]-/.test(to) && attemptOfRecipient <= 2) return { status: 429, errorType: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' };
      return null;
    });
    try {
      const triggers = customers.map((c) => trigger(c, 'high_interest'));
      const rejected = trigger('rejected', 'high_interest');
      await produceTriggers([...triggers, rejected]);
      for (const t of triggers) expect((await outcomesOf(t.trigger_id))[0].status).toBe('sent');
      const [failed] = await outcomesOf(rejected.trigger_id);
      expect(failed.status).toBe('failed');
      expect(failed.reason).toMatch(/^ses_error: MessageRejected/);

      const calls = proxy.calls.filter((c) => [...customers, 'rejected'].some((customer) => c.to.includes(email(customer))));
      expect(calls.filter((c) => c.answered === 429)).toHaveLength(8);
      expect(calls.filter((c) => c.answered === 400)).toHaveLength(1);
      expect(calls.filter((c) => c.answered === 200)).toHaveLength(12);
      for (const customer of customers) expect(await emailsTo(customer)).toHaveLength(1);
      // The limiter's guarantee, checked exactly: no rolling 1.1 s window of its admissions (on
      // the Redis server clock, which decides them) holds more than RATE. When the calls then
      // reach SES depends on the event loop and the network of a busy host, so the client's and
      // the proxy's own timings are printed, not asserted.
      const busiest = (times: number[], windowMs: number) =>
        Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + windowMs).length));
      expect(admissions).toHaveLength(21);
      const admitted = [...admissions].sort((a, b) => a - b);
      expect(busiest(admitted, 1100)).toBeLessThanOrEqual(RATE);
      // 21 admissions at 5 per 1.1 s cannot span less than 4 windows.
      expect(admitted[admitted.length - 1] - admitted[0]).toBeGreaterThanOrEqual(4 * 1100);
      const ids = new Set([...triggers, rejected].map((t) => t.trigger_id));
      const starts = sendStarts.filter((s) => ids.has(s.triggerId)).map((s) => s.at).sort((a, b) => a - b);
      expect(starts).toHaveLength(21);
      const times = calls.map((c) => c.at).sort((a, b) => a - b);
      process.stdout.write(`renderer rate test: 21 SES calls admitted over ${admitted[admitted.length - 1] - admitted[0]} ms; busiest rolling second ${busiest(starts, 1000)} at the client, ${busiest(times, 1000)} at the proxy (limit ${RATE} per 1.1 s admitted)\n`);
    } finally {
      proxy.setFaults(null);
    }
  });

  it.each([
    ['between the ledger write and the SES call', 'afterReserve' as const],
    ['right after the SES call', 'afterSesSend' as const],
  ])('a renderer killed %s sends exactly one email after restart', async (_label, point) => {
    const customer = `crash-${point}`;
    await givenProfiles([profile(customer)], { [customer]: ['engaged'] });
    hooks[point] = (t: TriggerFired) => {
      if (t.customer_id !== customer) return;
      dead = true;
      throw new SimulatedCrash(`killed ${point}`);
    };
    const t = trigger(customer, 'high_interest');
    await produceTriggers([t]);
    await waitFor('the crash', () => dead);
    const ledger = await service.store.ledger(partitionOf(customer, PARTITIONS), t.trigger_id);
    expect(ledger?.state).toBe('reserved');
    expect(await emailsTo(customer)).toHaveLength(point === 'afterReserve' ? 0 : 1);
    hooks[point] = undefined;
    await service.stop();
    service = await start();
    const outcomes = await outcomesOf(t.trigger_id);
    expect(outcomes.map((o) => o.status)).toEqual(['sent']);
    const emails = await emailsTo(customer);
    expect(emails).toHaveLength(1);
    expect(outcomes[0].ses_message_id).toBe(emails[0].messageId);
    const resumed = (await service.rendererMetrics.resumed.get()).values.find((v) => v.labels.result === (point === 'afterReserve' ? 'sending' : 'found_sent'));
    expect(resumed?.value).toBe(1);
  });

  /** FLUSHALL, as far as this partition's state goes (profiles, ledger, sends, marker, outbox). */
  const losePartitionState = async (partition: number) => {
    const keys = await service.redis.keys(`${new RendererKeys(pipeline.prefix).tag(partition)}*`);
    if (keys.length > 0) await service.redis.del(...keys);
  };

  /** Whether the running instance stopped one of the partition's topics for a reason like `pattern`. */
  const stoppedWith = (partition: number, pattern: RegExp) => [...service.runner.stopped()].some(([key, reason]) => key.endsWith(`:${partition}`) && pattern.test(reason));

  // Stops a partition of the shared instance (the next test restarts it).
  it('takes a long batch of triggers in slices of TRIGGER_BATCH_MAX_TIME: each slice is committed and the rest read again at once, every trigger decided once', async () => {
    const partition = 0;
    const customers = Array.from({ length: 80 }, (_, i) => `slice-${run}-${i}`).filter((c) => partitionOf(c, PARTITIONS) === partition).slice(0, 6);
    await givenProfiles(customers.map((c) => profile(c)), Object.fromEntries(customers.map((c) => [c, ['engaged']])));
    await service.stop();
    service = await start({ TRIGGER_BATCH_MAX_TIME: '500ms' });
    const triggers = customers.map((c) => trigger(c, 'high_interest'));
    const before = Math.max(0, (await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition) ?? 0); // -1: none yet
    // 300 ms per trigger: a slice takes two (the third would start after 600 ms).
    hooks.beforeTrigger = async (t) => {
      if (triggers.some((x) => x.trigger_id === t.trigger_id)) await new Promise((resolve) => setTimeout(resolve, 300));
    };
    const commits: number[] = [];
    try {
      await produceTriggers(triggers); // one produce request: one record batch, fetched together
      await waitFor('every trigger of the batch committed', async () => {
        const offset = (await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition) ?? 0;
        if (commits.at(-1) !== offset) commits.push(offset);
        return offset >= before + triggers.length;
      }, 60_000);
    } finally {
      hooks.beforeTrigger = undefined;
      await service.stop();
      service = await start();
    }
    // Committed in slices (a commit between the first and the last), not once at the batch's end.
    expect(commits.some((offset) => offset > before && offset < before + triggers.length)).toBe(true);
    for (const t of triggers) expect((await outcomesOf(t.trigger_id)).map((o) => o.status)).toEqual(['sent']);
    for (const c of customers) expect(await emailsTo(c)).toHaveLength(1);
  });

  it('Redis lost between the state check and a decision: nothing decided against the empty state is recorded; the partition stops at that trigger', async () => {
    const partition = 2;
    const customers = Array.from({ length: 60 }, (_, i) => `race-${run}-${i}`).filter((c) => partitionOf(c, PARTITIONS) === partition).slice(0, 3);
    await givenProfiles(customers.map((c) => profile(c)), Object.fromEntries(customers.map((c) => [c, ['engaged']])));
    const triggers = customers.map((c) => trigger(c, 'high_interest'));
    const before = Math.max(0, (await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition) ?? 0); // -1: none yet
    hooks.beforeTrigger = async (t) => {
      if (t.trigger_id !== triggers[1]?.trigger_id) return;
      await losePartitionState(partition); // after the batch checked the marker, before this trigger reads its ledger and profile
    };
    try {
      await produceTriggers(triggers);
      await waitFor('the partition to stop', () => stoppedWith(partition, /vanished from Redis/), 60_000);
    } finally {
      hooks.beforeTrigger = undefined;
    }
    // The first was sent before the loss; the second, decided against the empty state ("no
    // profile"), was not recorded, and it and the third wait, uncommitted, for the rebuild.
    expect((await outcomesOf(triggers[0].trigger_id)).map((o) => o.status)).toEqual(['sent']);
    const outcomes = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
    expect(outcomes.filter((o) => triggers.slice(1).some((t) => t.trigger_id === o.trigger_id))).toEqual([]);
    expect((await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition)).toBe(before + 1);
  });

  // Last: it stops a partition of the shared instance.
  it('Redis lost in the middle of a batch of triggers: none is decided against the empty state; the partition stops at the first it did not take, and its next owner refuses it too', async () => {
    const partition = 1;
    const customers = Array.from({ length: 60 }, (_, i) => `mid-${run}-${i}`).filter((c) => partitionOf(c, PARTITIONS) === partition).slice(0, 6);
    await givenProfiles(customers.map((c) => profile(c)), Object.fromEntries(customers.map((c) => [c, ['engaged']])));
    const triggers = customers.map((c) => trigger(c, 'high_interest'));
    const before = Math.max(0, (await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition) ?? 0); // -1: none yet
    const sent: string[] = [];
    hooks.afterSesSend = async (t) => {
      if (!customers.includes(t.customer_id)) return;
      sent.push(t.trigger_id);
      if (sent.length !== 3) return;
      await losePartitionState(partition);
    };
    try {
      await produceTriggers(triggers);
      await waitFor('the partition to stop', () => stoppedWith(partition, /vanished from Redis/), 60_000);
    } finally {
      hooks.afterSesSend = undefined;
    }
    // The first two finished before the flush (their outcomes relayed, or still in the lost outbox
    // and then produced from memory); the third was sent before it and finished after it (no
    // ledger left; produced from memory). Each has its one `sent` outcome in Kafka.
    expect(sent).toEqual(triggers.slice(0, 3).map((t) => t.trigger_id));
    for (const t of triggers.slice(0, 3)) expect((await outcomesOf(t.trigger_id)).map((o) => o.status)).toEqual(['sent']);
    // The rest were neither sent nor decided ("no profile") against the empty state, and wait, uncommitted, for the rebuild.
    const outcomes = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
    expect(outcomes.filter((o) => triggers.slice(3).some((t) => t.trigger_id === o.trigger_id))).toEqual([]);
    expect((await committedOffsets(pipeline.env.GROUP_ID, pipeline.topics.triggers)).get(partition)).toBe(before + 3);

    // An instance that takes the partition next (a restart here; a rebalance alike) has never seen
    // its marker: the group's commits name the lost state, so it refuses too instead of starting
    // a fresh marker and deciding the rest against the empty state.
    await service.stop();
    service = await start();
    await waitFor('the new instance to refuse the partition', () => stoppedWith(partition, /Redis holds no state for this partition/), 60_000);
    expect(await service.store.stateMarker(partition)).toBeNull();
    const after = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
    expect(after.filter((o) => triggers.slice(3).some((t) => t.trigger_id === o.trigger_id))).toEqual([]);
  });
});
