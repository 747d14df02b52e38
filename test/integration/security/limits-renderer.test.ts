/**
 * Limits at the edge, through the real renderer on the real stack (issue 11, "Sizes": a 1 MB
 * first_name became a 1 MB Redis hash; value_cents of -1e15 was accepted). A profile over a
 * limit must reach customer.profiles.dlq with reason `over-limit` and a value-free message,
 * and no Redis key may hold it; a control customer's profile is stored as before. Events with
 * value_cents of -1e15 and 1e15 are dead-lettered the same way. SES is a recording stub.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { behaviorEvent, customerProfile, type CustomerProfile } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { partitionOf } from '../../../services/kit/partitioner';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { NoSentMailLookup } from '../../../services/renderer/sent-lookup';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { readAll, waitCaughtUp, waitFor } from '../../support/stack';

const PARTITIONS = 3;
const NOW = Date.parse('2026-06-15T12:00:00Z');
/** What the over-limit values are made of: the headers, the logs and Redis must not hold it. */
const LEAK = 'Q'.repeat(8);

describe('the renderer and records over the limits at the edge', () => {
  let pipeline: TestPipeline;
  let service: RunningRenderer;
  let logs = '';

  beforeAll(async () => {
    pipeline = await createTestPipeline('limits-renderer', PARTITIONS);
    const config = loadConfig(rendererShape, {
      ...pipeline.env,
      LINK_SIGNING_SECRET: 'integration-test-link-signing-secret-0123456789',
      RECOMMENDATIONS_SOURCE: 'static',
      FALLBACK_PRODUCT_IDS: 'sku-1,sku-2',
      TIMER_INTERVAL_MS: '60000',
    });
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => ((logs += String(chunk)), done()) }));
    service = await startRenderer(config, {
      clock: () => NOW,
      logger,
      emailSender: { send: async () => ({ messageId: 'stub' }) },
      sentLookup: new NoSentMailLookup(),
    });
    await waitFor('the renderer to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
  });

  const profile = (customer: string, fields: Partial<CustomerProfile> = {}) =>
    customerProfile({ customer_id: customer, updated_at: NOW - 60_000, email: `${customer}@example.com`, first_name: 'Dana', consent_email: true, ...fields });

  /** Every DLQ record of `topic` keyed `customer`, waiting until `count` are there. */
  async function deadLettersOf(topic: string, customer: string, count: number) {
    return waitFor(`${count} dead letters of ${customer} on ${dlqTopic(topic)}`, async () => {
      const dead = (await readAll(dlqTopic(topic))).filter((m) => m.key?.toString() === customer);
      return dead.length >= count ? dead : undefined;
    });
  }
  const header = (message: { headers?: Record<string, unknown> }, name: string) => String(message.headers?.[name] ?? '');
  const allHeaders = (message: { headers?: Record<string, unknown> }) => Object.values(message.headers ?? {}).map(String).join('\n');

  it('dead-letters a profile with a 1 MB first_name (over-limit, value-free) and stores nothing of it', async () => {
    const [big, control] = ['limits-big', 'limits-control'];
    const huge = profile(big, { first_name: 'Q'.repeat(1_000_000) });
    await pipeline.produceProfiles([huge, profile(control)]);
    const [dead] = await deadLettersOf(pipeline.topics.profiles, big, 1);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);

    expect(header(dead, DLQ_HEADERS.reason)).toBe('over-limit');
    expect(header(dead, DLQ_HEADERS.service)).toBe('renderer');
    expect(header(dead, DLQ_HEADERS.exceptionMessage)).toBe('first_name is 1000000 characters; at most 256');
    expect(dead.value?.length).toBeGreaterThan(1_000_000); // the original bytes, for a replay after a fix
    expect(allHeaders(dead)).not.toContain(LEAK);

    const stored = (customer: string) => service.store.customer(partitionOf(customer, PARTITIONS), customer);
    expect((await stored(control)).profile).toEqual(profile(control));
    expect((await stored(big)).profile).toBeNull();
    // No key under the run's prefix is large, nor holds the value.
    const keys = await pipeline.redisKeys();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const bytes = Number(await service.redis.memory('USAGE', key));
      expect({ key, small: bytes < 16_384 }).toEqual({ key, small: true });
      const type = await service.redis.type(key);
      if (type === 'hash') expect(JSON.stringify(await service.redis.hgetall(key))).not.toContain(LEAK);
      if (type === 'string') expect(await service.redis.get(key)).not.toContain(LEAK);
    }
    const counted = await service.metrics.recordsDeadLettered.get();
    expect(counted.values.find((v) => v.labels.topic === pipeline.topics.profiles && v.labels.reason === 'over-limit')?.value).toBe(1);
    expect(logs).toContain('record dead-lettered');
    expect(logs).not.toContain(LEAK);
  });

  it('dead-letters value_cents of -1e15 and 1e15, naming the bound and not the value', async () => {
    const customer = 'limits-money';
    const purchase = (id: string, cents: number) =>
      behaviorEvent({ event_id: id, customer_id: customer, type: 'purchase', occurred_at: NOW - 60_000, value_cents: cents, currency: 'EUR' });
    await pipeline.produceEvents([purchase('minus', -1e15), purchase('plus', 1e15), purchase('fine', 4599)]);
    const dead = await deadLettersOf(pipeline.topics.events, customer, 2);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    expect(dead.map((m) => [header(m, DLQ_HEADERS.reason), header(m, DLQ_HEADERS.exceptionMessage)])).toEqual([
      ['over-limit', 'value_cents is below 0; it must be 0 to 100000000000'],
      ['over-limit', 'value_cents is above 100000000000; it must be 0 to 100000000000'],
    ]);
    for (const m of dead) expect(allHeaders(m)).not.toContain('1000000000000000');
    expect(logs).not.toContain('1000000000000000');
  });
});
