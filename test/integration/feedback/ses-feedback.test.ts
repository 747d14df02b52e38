/**
 * SES feedback against the real stack: signed SNS messages posted to the tracker's
 * /ses/notifications routes (served here on loopback without a token; the tracker mounts them
 * as public), a renderer in-process on the same topics and Redis prefix, SES stubbed.
 * The certificate is a self-signed one made at test time, served from loopback and allow-listed
 * by pattern; the production default stays SNS's own hosts.
 */
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { customerProfile, type BehaviorEvent, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { parseMailbox } from '../../../services/core/recipients';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { FeedbackKeys } from '../../../services/kit/feedback-keys';
import { startHttpServer, type HttpServer } from '../../../services/kit/http';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { NoSentMailLookup } from '../../../services/renderer/sent-lookup';
import type { OutgoingEmail } from '../../../services/renderer/ses';
import { FeedbackStore, kafkaEventPublisher, sesFeedbackRoutes, SnsSignatureVerifier, type SesFeedbackSettings } from '../../../services/tracker/feedback';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { sesEvent, startFakeSns, type FakeSns } from '../../support/sns';
import { connectedProducer, exited, REDIS_URL, spawnNode, waitFor, collect } from '../../support/stack';

const PARTITIONS = 3;
const T0 = Date.parse('2026-06-15T12:00:00Z'); // noon UTC: no quiet hours for a UTC customer

describe('SES feedback through SNS (signed notifications, real stack)', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let renderer: RunningRenderer;
  let producer: Producer;
  let redis: RedisClient;
  let sns: FakeSns;
  let server: HttpServer;
  let triggerSchemaId: number;
  const types = recordTypes();
  const sent: OutgoingEmail[] = [];
  let settings: SesFeedbackSettings;
  let confirmations = 0;

  beforeAll(async () => {
    pipeline = await createTestPipeline('ses-feedback', PARTITIONS);
    producer = await connectedProducer();
    redis = createRedis({ REDIS_URL });
    sns = await startFakeSns();
    triggerSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    settings = {
      topicArns: ['arn:aws:sns:eu-west-1:123456789012:kairos-ses-events'],
      certUrlPattern: sns.certPattern,
      subscribeUrlPattern: sns.subscribePattern,
      maxAgeMs: 3_600_000,
      fetchTimeoutMs: 5000,
      guard: { complaintRate: 0.001, bounceRate: 0.05, minSends: 5, windowDays: 7 },
      sentRecordTtlMs: 3_600_000,
    };
    const routes = sesFeedbackRoutes({
      store: new FeedbackStore(redis, pipeline.prefix),
      verifier: new SnsSignatureVerifier(settings.certUrlPattern, settings.fetchTimeoutMs),
      settings,
      publish: await kafkaEventPublisher(producer, pipeline.codec, pipeline.topics.events),
      logger: silentLogger,
      registry: new Registry(),
      clock: Date.now,
      confirmSubscription: async (url) => {
        confirmations += 1;
        const response = await fetch(url);
        if (!response.ok) throw new Error(`confirmation answered ${response.status}`);
      },
    });
    server = await startHttpServer({ port: 0, registry: new Registry(), logger: silentLogger, readiness: [], routes });
    const config = loadConfig(rendererShape, { ...pipeline.env, LINK_SIGNING_SECRET: TEST_LINK_SECRET, RECOMMENDATIONS_SOURCE: 'static', FALLBACK_PRODUCT_IDS: 'sku-1', TIMER_INTERVAL_MS: '60000' });
    renderer = await startRenderer(config, {
      clock: () => T0,
      logger: silentLogger,
      emailSender: { send: async (email) => (sent.push(email), { messageId: `stub-${sent.length}-${run}` }) },
      sentLookup: new NoSentMailLookup(),
    });
    await waitFor('the renderer to join its group', () => renderer.runner.isReady());
  });
  afterAll(async () => {
    await renderer?.stop();
    await server?.close();
    await sns?.close();
    await producer?.disconnect();
    redis?.disconnect();
    await pipeline?.close();
  });

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/ses/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const suppressionOf = async (address: string) => {
    const parsed = parseMailbox(address);
    if (!parsed.ok) throw new Error('bad test address');
    return renderer.store.suppression(parsed.mailbox);
  };
  const rawSuppression = async (address: string) => {
    const parsed = parseMailbox(address);
    if (!parsed.ok) throw new Error('bad test address');
    return redis.get(renderer.store.keys.suppression(parsed.mailbox.address));
  };
  const eventsOf = async (customer: string) => (await pipeline.readAll<BehaviorEvent>(pipeline.topics.events, 'BehaviorEvent')).filter((e) => e.customer_id === customer);

  async function outcomeOf(customer: string, id: string): Promise<EmailOutcome> {
    const trigger: TriggerFired = { trigger_id: id, rule: 'cart_abandoned', customer_id: customer, fired_at: T0, cause_event_id: null, context: { product_id: 'sku-42', cart_product_ids: 'sku-42' } };
    await producer.send({ topic: pipeline.topics.triggers, messages: [{ key: customer, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, trigger) }] });
    return waitFor(`the outcome of ${id}`, async () => (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).find((o) => o.trigger_id === id));
  }
  async function profile(customer: string, email: string): Promise<void> {
    await pipeline.produceProfiles([customerProfile({ customer_id: customer, email, first_name: 'Dana', locale: 'en-US', timezone: 'UTC', consent_email: true, updated_at: T0 - 1000 })]);
    await waitFor(`${customer}'s profile at the renderer`, async () => (await renderer.store.customer(0, customer)).profile !== null || (await renderer.store.customer(1, customer)).profile !== null || (await renderer.store.customer(2, customer)).profile !== null);
  }

  it('confirms a signed SubscriptionConfirmation by visiting its SubscribeURL, and only then', async () => {
    const before = confirmations;
    expect(await post(sns.confirmation())).toEqual({ status: 200, body: { status: 'confirmed' } });
    expect(confirmations).toBe(before + 1);
    // A SubscribeURL off the allow-list is not visited, even when the message is signed.
    const evil = await post(sns.confirmation({ SubscribeURL: 'https://evil.example/?Action=ConfirmSubscription' }));
    expect(evil.status).toBe(403);
    // A topic not on SNS_TOPIC_ARNS is refused before its certificate is fetched.
    const hits = sns.hits.length;
    const other = await post(sns.confirmation({ TopicArn: 'arn:aws:sns:eu-west-1:123456789012:someone-else' }));
    expect(other.status).toBe(403);
    expect(confirmations).toBe(before + 1);
    expect(sns.hits.length).toBe(hits);
  });

  it('refuses a bad signature, an unsigned message, a certificate URL off the allow-list (not fetched) and a stale one; none has an effect', async () => {
    const customer = `refused-${run}`;
    const address = `${customer}@example.com`;
    const bounce = sesEvent('Bounce', { messageId: `m-${customer}`, campaign: 'cart_reminder', customerId: customer }, { bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: address }], timestamp: new Date().toISOString(), feedbackId: `f-${customer}` } });
    const good = sns.notification(bounce);
    const tampered = { ...good, Message: good.Message.replace('Permanent', 'Transient') };
    expect((await post(tampered)).status).toBe(403);
    const otherKey = (await import('../../support/sns')).selfSignedCertificate('other').key;
    expect((await post(sns.sign({ ...good }, otherKey))).status).toBe(403);
    const { Signature: _dropped, ...unsigned } = good;
    expect((await post(unsigned)).status).toBe(400);
    const hits = sns.hits.length;
    const offList = sns.notification(bounce, { SigningCertURL: 'https://attacker.example/cert.pem' });
    expect((await post(offList)).status).toBe(403);
    const sameHostWrongPath = sns.notification(bounce, { SigningCertURL: `${sns.url}/cert.pem?x=.pem` });
    expect((await post(sameHostWrongPath)).status).toBe(403);
    expect(sns.hits.length).toBe(hits); // neither was fetched
    const stale = sns.notification(bounce, { Timestamp: new Date(Date.now() - 2 * 3_600_000).toISOString() });
    expect((await post(stale)).status).toBe(400);
    expect((await post('not json')).status).toBe(400);
    expect((await post({ Type: 'Notification' })).status).toBe(400);
    expect(await suppressionOf(address)).toBeNull();
    expect(await eventsOf(customer)).toEqual([]);
  });

  it('acts on each SES event type: Send records the trigger, hard bounce and complaint suppress, every one becomes a BehaviorEvent', async () => {
    const customer = `types-${run}`;
    const bounced = `bounced-${run}@example.com`;
    const soft = `soft-${run}@example.com`;
    const complained = `complained-${run}@Example.COM`;
    const triggerId = `trigger-${run}`;
    const mail = { messageId: `ses-${run}`, triggerId, campaign: 'standard_message', customerId: customer };
    const now = new Date().toISOString();
    const events = [
      sesEvent('Send', mail, { send: {} }),
      sesEvent('Delivery', mail, { delivery: { timestamp: now, recipients: [bounced], processingTimeMillis: 500, smtpResponse: '250 ok' } }),
      sesEvent('Bounce', mail, { bounce: { bounceType: 'Transient', bounceSubType: 'MailboxFull', bouncedRecipients: [{ emailAddress: soft }], timestamp: now, feedbackId: `soft-${run}` } }),
      sesEvent('Bounce', mail, { bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: bounced, diagnosticCode: `550 ${bounced} unknown` }], timestamp: now, feedbackId: `hard-${run}` } }),
      sesEvent('Complaint', mail, { complaint: { complainedRecipients: [{ emailAddress: complained }], timestamp: now, feedbackId: `c-${run}`, complaintFeedbackType: 'abuse' } }),
      sesEvent('Reject', mail, { reject: { reason: 'Bad content' } }),
      sesEvent('DeliveryDelay', mail, { deliveryDelay: { timestamp: now, delayType: 'TransientCommunicationFailure', delayedRecipients: [{ emailAddress: bounced }] } }),
      sesEvent('Rendering Failure', mail, { failure: { errorMessage: 'Attribute missing', templateName: 't' } }),
    ];
    const messages = events.map((event) => sns.notification(event));
    for (const message of messages) {
      const answer = await post(message, { 'x-amz-sns-message-type': 'Notification' });
      expect(answer).toEqual({ status: 200, body: expect.objectContaining({ status: 'applied' }) });
    }
    // A second delivery of the same SNS message is not acted on again.
    expect((await post(messages[4])).body).toEqual({ status: 'duplicate' });

    expect(await redis.get(new FeedbackKeys(pipeline.prefix).sent(triggerId))).toBe(`ses-${run}`);
    expect(await suppressionOf(bounced)).toBe('bounced');
    expect(await suppressionOf(`complained-${run}@example.com`)).toBe('complained');
    expect(await suppressionOf(soft)).toBeNull();
    expect(await rawSuppression(bounced)).toMatch(/^bounced\|\d{13}$/);

    const published = await waitFor('the feedback events on behavior.events', async () => {
      const found = await eventsOf(customer);
      return found.length >= 8 ? found : undefined;
    });
    expect(published.map((e) => e.type).sort()).toEqual(['email_bounced', 'email_bounced', 'email_complained', 'email_delayed', 'email_delivered', 'email_rejected', 'email_rendering_failed', 'email_sent']);
    for (const event of published) {
      expect(event).toMatchObject({ campaign_id: 'standard_message', message_id: `ses-${run}`, properties: expect.objectContaining({ source: 'ses', trigger_id: triggerId }) });
      expect(JSON.stringify(event)).not.toContain('@'); // no address travels in an event
    }
    expect(published.find((e) => e.type === 'email_complained')?.properties.feedback_type).toBe('abuse');
    expect(new Set(published.map((e) => e.event_id)).size).toBe(8);
  });

  it('a hard-bounced address is suppressed by the renderer', async () => {
    const customer = `hard-${run}`;
    const address = `${customer}@example.com`;
    await profile(customer, address);
    const event = sesEvent('Bounce', { messageId: `m-${customer}` }, { bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: address }], timestamp: new Date().toISOString(), feedbackId: `f-${customer}` } });
    expect((await post(sns.notification(event))).status).toBe(200);
    const outcome = await outcomeOf(customer, `t-${customer}`);
    expect(outcome).toMatchObject({ status: 'suppressed', reason: expect.stringMatching(/^bounced:/) });
    expect(sent.some((email) => email.to.address === address)).toBe(false);
  });

  it('a complaint burst pauses the campaign (renderer: skipped campaign_paused, GET /campaigns/paused); resume restarts it', async () => {
    const campaign = 'cart_reminder';
    for (let i = 0; i < 5; i += 1) {
      expect((await post(sns.notification(sesEvent('Send', { messageId: `burst-${run}-${i}`, campaign, triggerId: `burst-${i}` }, { send: {} })))).status).toBe(200);
    }
    const pausedNow = async () => (await fetch(`http://127.0.0.1:${renderer.http.port}/campaigns/paused`)).json() as Promise<{ paused: Array<{ campaign: string; reason: string }> }>;
    expect((await pausedNow()).paused).toEqual([]);
    const complaint = sesEvent('Complaint', { messageId: `burst-${run}-0`, campaign }, { complaint: { complainedRecipients: [{ emailAddress: `burst-${run}@example.com` }], timestamp: new Date().toISOString(), feedbackId: `burst-c-${run}` } });
    expect((await post(sns.notification(complaint))).status).toBe(200);
    expect((await pausedNow()).paused).toEqual([expect.objectContaining({ campaign, reason: 'complaint_rate' })]);
    const metrics = await (await fetch(`http://127.0.0.1:${renderer.http.port}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`kairos_campaign_paused\\{campaign="${campaign}"[^}]*\\} 1`));

    const customer = `paused-${run}`;
    await profile(customer, `${customer}@example.com`);
    expect(await outcomeOf(customer, `t1-${customer}`)).toMatchObject({ status: 'skipped', campaign, reason: expect.stringMatching(/^campaign_paused:/) });

    const tool = spawnNode('services/tools/campaigns.js', ['resume', campaign], { REDIS_KEY_PREFIX: pipeline.prefix, REDIS_URL });
    const out = collect(tool.stdout);
    expect((await exited(tool)).code).toBe(0);
    expect(out.text()).toContain(`Resumed ${campaign}`);
    expect((await pausedNow()).paused).toEqual([]);
    expect(await outcomeOf(customer, `t2-${customer}`)).toMatchObject({ status: 'sent', campaign });
  });
});
