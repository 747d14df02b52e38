/**
 * Guarantee 1 with the real-SES SentMailLookup (SENT_MAIL_LOOKUP=ses-events): a renderer
 * killed with SIGKILL between SES accepting the email and the ledger write, replaced by a
 * fresh process, ends with exactly one email, because the replacement waits for the SES Send
 * event (SNS -> tracker -> Redis) instead of sending again. The emulator emits no events, so
 * the test posts the signed Send notification for the emulator's accepted message itself, as
 * SNS would, after the replacement has started waiting. Killed before the SES call, the
 * replacement waits out SENT_MAIL_WAIT without a Send event and then sends, once. A
 * read_committed reader of email.outcomes sees no record twice (guarantee 7).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Registry } from 'prom-client';
import { customerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { triggerId } from '../../../services/core/ids';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { startHttpServer, type HttpServer } from '../../../services/kit/http';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { FeedbackStore, sesFeedbackRoutes, SnsSignatureVerifier } from '../../../services/tracker/feedback';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, repeatedRecords, silentLogger, type TestPipeline } from '../../support/pipeline';
import { sesEvent, startFakeSns, TEST_TOPIC_ARN, type FakeSns } from '../../support/sns';
import { collect, connectedProducer, exited, REDIS_URL, ROOT, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';
import { emulatorEmails } from '../renderer/ses-proxy';

const types = recordTypes();

describe('a renderer killed with SIGKILL around the SES call, with the SES-event lookup', () => {
  let pipeline: TestPipeline;
  let redis: RedisClient;
  let sns: FakeSns;
  let server: HttpServer;
  const children = new Set<ChildProcess>();
  let env: Record<string, string>;

  beforeAll(async () => {
    pipeline = await createTestPipeline('render-kill-ses', 3);
    redis = createRedis({ REDIS_URL });
    sns = await startFakeSns();
    const routes = sesFeedbackRoutes({
      store: new FeedbackStore(redis, pipeline.prefix),
      verifier: new SnsSignatureVerifier(sns.certPattern, 5000),
      settings: {
        topicArns: [TEST_TOPIC_ARN], certUrlPattern: sns.certPattern, subscribeUrlPattern: sns.subscribePattern, maxAgeMs: 3_600_000, fetchTimeoutMs: 5000,
        guard: { complaintRate: 0.001, bounceRate: 0.05, minSends: 1000, windowDays: 7 }, sentRecordTtlMs: 3_600_000,
      },
      publish: async () => undefined,
      logger: silentLogger,
      registry: new Registry(),
      clock: Date.now,
    });
    server = await startHttpServer({ port: 0, registry: new Registry(), logger: silentLogger, readiness: [], routes });
    env = {
      ...pipeline.env,
      SES_ENDPOINT: 'http://127.0.0.1:8005',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      LINK_SIGNING_SECRET: TEST_LINK_SECRET,
      RECOMMENDATIONS_SOURCE: 'static',
      KAFKA_SESSION_TIMEOUT: '6s',
      SENT_MAIL_LOOKUP: 'ses-events',
    };
  });
  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await server?.close();
    await sns?.close();
    redis?.disconnect();
    await pipeline?.close();
  });

  const track = (child: ChildProcess) => {
    children.add(child);
    void exited(child).then(() => children.delete(child));
    return child;
  };

  async function crashOnce(point: 'afterReserve' | 'afterSesSend', customer: string, address: string, wait: string): Promise<TriggerFired> {
    const utcHour = new Date().getUTCHours();
    const timezone = `Etc/GMT${utcHour - 12 >= 0 ? '+' : '-'}${Math.abs(utcHour - 12)}`;
    await pipeline.produceProfiles([customerProfile({ customer_id: customer, email: address, first_name: 'Kim', consent_email: true, timezone, locale: 'en-US', updated_at: Date.now() })]);
    const crashing = track(spawn(process.execPath, [join(ROOT, 'test', 'support', 'renderer-crash.js')], {
      env: { ...process.env, ...env, SENT_MAIL_WAIT: wait, CRASH_AT: point, CRASH_CUSTOMER: customer, LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    const out = collect(crashing.stdout);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    const trigger: TriggerFired = {
      trigger_id: triggerId('cart_abandoned', customer, `${customer}-add`),
      rule: 'cart_abandoned',
      customer_id: customer,
      fired_at: Date.now(),
      cause_event_id: `${customer}-add`,
      context: { product_id: 'sku-1', cart_product_ids: 'sku-1' },
    };
    const producer = await connectedProducer();
    const id = await pipeline.codec.idOf(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    await producer.send({ topic: pipeline.topics.triggers, messages: [{ key: customer, value: pipeline.codec.encode(id, types.TriggerFired, trigger) }] });
    await producer.disconnect();
    const { signal } = await exited(crashing);
    expect({ signal, out: out.text().trim() }).toEqual({ signal: 'SIGKILL', out: `crashing at ${point}` });
    return trigger;
  }

  const finalOutcomes = (trigger: TriggerFired) =>
    waitFor('the final outcome', async () => {
      const found = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.trigger_id === trigger.trigger_id);
      return found.some((o) => o.status !== 'deferred') ? found : undefined;
    }, 90_000);

  /** Once the outboxes are trimmed: the trigger's outcomes read again, and no record of the topic twice. */
  async function expectNoRepeats(trigger: TriggerFired): Promise<void> {
    await pipeline.outboxesDrained();
    const all = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
    expect(all.filter((o) => o.trigger_id === trigger.trigger_id).map((o) => o.status)).toEqual(['sent']);
    expect(repeatedRecords(all)).toBe(0);
  }

  it('killed after SES accepted: the replacement waits for the Send event and records it; exactly one email', async () => {
    const customer = `kill-ses-${randomUUID().slice(0, 6)}`;
    const address = `${customer}@example.com`;
    const trigger = await crashOnce('afterSesSend', customer, address, '10m');
    const accepted = (await emulatorEmails()).filter((e) => e.destination.to.includes(address));
    expect(accepted).toHaveLength(1);

    const replacement = track(spawnNode('services/renderer/main.js', [], { ...env, SENT_MAIL_WAIT: '10m', HTTP_PORT: '0' }));
    const logs = collect(replacement.stdout);
    try {
      // The replacement found the reserved send and is waiting for SES's word on it.
      await waitFor('the replacement to wait for the Send event', () => logs.text().includes('without an SES Send event yet') || undefined, 60_000);
      expect((await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.trigger_id === trigger.trigger_id)).toEqual([]);
      // What SNS would post: the Send event of the accepted message, tagged by the renderer.
      const send = sesEvent('Send', { messageId: accepted[0].messageId, triggerId: trigger.trigger_id, campaign: 'cart_reminder', customerId: customer }, { send: {} });
      const answer = await fetch(`http://127.0.0.1:${server.port}/ses/notifications`, { method: 'POST', body: JSON.stringify(sns.notification(send)) });
      expect(answer.status).toBe(200);

      const outcomes = await finalOutcomes(trigger);
      await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.triggers);
      expect(outcomes.map((o) => o.status)).toEqual(['sent']);
      expect(outcomes[0].ses_message_id).toBe(accepted[0].messageId);
      expect((await emulatorEmails()).filter((e) => e.destination.to.includes(address))).toHaveLength(1);
      await expectNoRepeats(trigger);
    } finally {
      replacement.kill('SIGTERM');
      await exited(replacement);
    }
  });

  it('killed before the SES call: no Send event comes, the replacement sends once after SENT_MAIL_WAIT', async () => {
    const customer = `kill-res-${randomUUID().slice(0, 6)}`;
    const address = `${customer}@example.com`;
    const trigger = await crashOnce('afterReserve', customer, address, '3s');
    expect((await emulatorEmails()).filter((e) => e.destination.to.includes(address))).toHaveLength(0);
    const replacement = track(spawnNode('services/renderer/main.js', [], { ...env, SENT_MAIL_WAIT: '3s', HTTP_PORT: '0' }));
    try {
      const outcomes = await finalOutcomes(trigger);
      await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.triggers);
      expect(outcomes.map((o) => o.status)).toEqual(['sent']);
      const emails = (await emulatorEmails()).filter((e) => e.destination.to.includes(address));
      expect(emails).toHaveLength(1);
      expect(outcomes[0].ses_message_id).toBe(emails[0].messageId);
      await expectNoRepeats(trigger);
    } finally {
      replacement.kill('SIGTERM');
      await exited(replacement);
    }
  });
});
