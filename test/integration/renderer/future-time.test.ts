/**
 * Profiles (and unsubscribes) dated in the future must not poison the renderer's copy of a
 * customer (issue 9, item 3). Customer X gets a record dated year 3000 and then the same real
 * records as a control customer Y: X must end exactly like Y, the renderer must never store the
 * future time, and the future record must be in its topic's DLQ with reason `future-time`.
 * SES is a recording stub: what matters here is the outcome the renderer decides.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaMessage, Producer } from 'kafkajs';
import { behaviorEvent, customerProfile, type CustomerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { partitionOf } from '../../../services/kit/partitioner';
import { segmentStateKey } from '../../../services/kit/segment-state-key';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { NoSentMailLookup } from '../../../services/renderer/sent-lookup';
import type { OutgoingEmail } from '../../../services/renderer/ses';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { connectedProducer, readAll, waitCaughtUp, waitFor } from '../../support/stack';

const PARTITIONS = 3;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// 12:00 UTC: 21:00 in Tokyo, inside the default quiet hours, so a send there would be deferred.
const T0 = Date.parse('2026-06-15T12:00:00Z');
const YEAR_3000 = Date.parse('3000-01-01T00:00:00Z');

describe('the renderer and times from the future (injected clock)', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let service: RunningRenderer;
  let producer: Producer;
  let triggerSchemaId: number;
  const types = recordTypes();
  const now = T0;
  const sent: OutgoingEmail[] = [];

  beforeAll(async () => {
    pipeline = await createTestPipeline('future-renderer', PARTITIONS);
    producer = await connectedProducer();
    triggerSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    const config = loadConfig(rendererShape, {
      ...pipeline.env,
      LINK_SIGNING_SECRET: TEST_LINK_SECRET,
      RECOMMENDATIONS_SOURCE: 'static',
      FALLBACK_PRODUCT_IDS: 'sku-1,sku-2',
      TIMER_INTERVAL_MS: '60000', // nothing here waits for a deferral
    });
    service = await startRenderer(config, {
      clock: () => now,
      logger: silentLogger,
      emailSender: { send: async (email) => (sent.push(email), { messageId: `stub-${sent.length}` }) },
      sentLookup: new NoSentMailLookup(),
    });
    await waitFor('the renderer to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await producer?.disconnect();
    await pipeline?.close();
  });

  const profile = (customer: string, updatedAt: number, fields: Partial<CustomerProfile> = {}) =>
    customerProfile({ customer_id: customer, updated_at: updatedAt, email: `${customer}-${run}@example.com`, first_name: 'Dana', locale: 'en-US', timezone: 'UTC', consent_email: true, ...fields });
  const stored = (customer: string) => service.store.customer(partitionOf(customer, PARTITIONS), customer);

  /** Produces a trigger for `customer` and waits for its outcome. cart_abandoned: cart_reminder answers it for everyone. */
  async function outcomeOf(customer: string, rule: 'high_interest' | 'cart_abandoned' = 'high_interest'): Promise<EmailOutcome> {
    const context: Record<string, string> = rule === 'cart_abandoned' ? { product_id: 'sku-42', cart_product_ids: 'sku-42' } : { product_id: 'sku-42' };
    const trigger: TriggerFired = { trigger_id: `${customer}-${run}`, rule, customer_id: customer, fired_at: now, cause_event_id: null, context };
    await producer.send({
      topic: pipeline.topics.triggers,
      messages: [{ key: customer, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, trigger) }],
    });
    return waitFor(`the outcome of ${customer}'s trigger`, async () =>
      (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).find((o) => o.trigger_id === trigger.trigger_id),
    );
  }
  /** The dead letter of `customer`'s future record on `topic`; the renderer committed past it, so it is there. */
  async function deadLetterOf(topic: string, customer: string, field: string): Promise<KafkaMessage> {
    const dead = (await readAll(dlqTopic(topic))).filter((m) => m.key?.toString() === customer);
    expect(dead).toHaveLength(1);
    const header = (name: string) => dead[0].headers?.[name]?.toString();
    expect(header(DLQ_HEADERS.reason)).toBe('future-time');
    expect(header(DLQ_HEADERS.service)).toBe('renderer');
    expect(header(DLQ_HEADERS.exceptionMessage)).toMatch(
      new RegExp(`^${field} 3000-01-01T00:00:00\\.000Z is \\d+d \\d+h ahead of this service's clock \\(2026-06-15T12:00:00\\.000Z\\), more than MAX_CLOCK_SKEW \\(5m\\)`),
    );
    return dead[0];
  }

  it('after a profile with updated_at in year 3000, a real consent withdrawal counts: suppressed (no_consent), as for the control', async () => {
    const [x, y] = ['consent-x', 'consent-y'];
    await pipeline.produceProfiles([
      profile(x, YEAR_3000, { timezone: 'Asia/Tokyo' }),
      profile(y, now - 2 * MINUTE, { timezone: 'Asia/Tokyo' }),
      profile(x, now - MINUTE, { timezone: 'Asia/Tokyo', consent_email: false }),
      profile(y, now - MINUTE, { timezone: 'Asia/Tokyo', consent_email: false }),
    ]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    for (const c of [x, y]) {
      // In `engaged` (the segmenter's key layout), so standard_message would answer high_interest.
      await service.redis.set(segmentStateKey(pipeline.prefix, partitionOf(c, PARTITIONS), c), JSON.stringify({ v: 1, m: ['engaged'] }));
    }
    for (const c of [x, y]) {
      // With the future profile kept, X's came out `deferred (quiet_hours)`: the withdrawal looked stale.
      const outcome = await outcomeOf(c);
      expect({ customer: c, status: outcome.status, reason: outcome.reason?.split(':')[0] }).toEqual({ customer: c, status: 'suppressed', reason: 'no_consent' });
    }
    for (const c of [x, y]) {
      const { profile: kept } = await stored(c);
      expect({ customer: c, updated_at: kept?.updated_at, consent: kept?.consent_email }).toEqual({ customer: c, updated_at: now - MINUTE, consent: false });
    }
    expect(sent).toEqual([]);
    await deadLetterOf(pipeline.topics.profiles, x, 'updated_at');
  });

  it('after an unsubscribe dated year 3000, a real unsubscribe and a later re-consent send again, as for the control', async () => {
    const [x, y] = ['resub-x', 'resub-y'];
    await pipeline.produceProfiles([profile(x, now - HOUR), profile(y, now - HOUR)]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    const unsubscribe = (c: string, at: number) => behaviorEvent({ event_id: `${c}-unsub-${at}`, customer_id: c, type: 'unsubscribe', occurred_at: at });
    await pipeline.produceEvents([unsubscribe(x, YEAR_3000), unsubscribe(x, now - 30 * MINUTE), unsubscribe(y, now - 30 * MINUTE)]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    for (const c of [x, y]) expect({ customer: c, unsubscribedAt: (await stored(c)).unsubscribedAt }).toEqual({ customer: c, unsubscribedAt: now - 30 * MINUTE });
    // A profile granting consent after the unsubscribe is a re-subscription.
    await pipeline.produceProfiles([profile(x, now - 10 * MINUTE), profile(y, now - 10 * MINUTE)]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    for (const c of [x, y]) {
      const outcome = await outcomeOf(c, 'cart_abandoned');
      expect({ customer: c, status: outcome.status, campaign: outcome.campaign }).toEqual({ customer: c, status: 'sent', campaign: 'cart_reminder' });
    }
    await deadLetterOf(pipeline.topics.events, x, 'occurred_at');
  });

  it('dead-letters a trigger whose fired_at is beyond the tolerance, and no real record', async () => {
    const c = 'fired-future';
    await pipeline.produceProfiles([profile(c, now - HOUR)]);
    const trigger: TriggerFired = { trigger_id: `${c}-${run}`, rule: 'high_interest', customer_id: c, fired_at: YEAR_3000, cause_event_id: null, context: {} };
    await producer.send({ topic: pipeline.topics.triggers, messages: [{ key: c, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, trigger) }] });
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.triggers);
    expect((await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.customer_id === c)).toEqual([]);
    await deadLetterOf(pipeline.topics.triggers, c, 'fired_at');
    // Only the three future records were refused, each once.
    const keys = async (topic: string) => (await readAll(dlqTopic(topic))).map((m) => m.key?.toString());
    expect([...(await keys(pipeline.topics.profiles)), ...(await keys(pipeline.topics.events)), ...(await keys(pipeline.topics.triggers))].sort()).toEqual(['consent-x', 'fired-future', 'resub-x']);
  });
});
