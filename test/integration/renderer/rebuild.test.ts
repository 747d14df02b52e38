/**
 * `state rebuild --service renderer` after Redis lost the renderer's state: the profiles, the
 * unsubscribes and the send ledger come back from customer.profiles, behavior.events and the
 * renderer's own email.outcomes, so a trigger that was emailed before the loss is not emailed
 * again, cooldowns still count the sends, and what the renderer refused stays out.
 */
import { randomUUID } from 'node:crypto';
import { behaviorEvent, customerProfile, type EmailOutcome } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { partitionOf } from '../../../services/kit/partitioner';
import { createRedis, type RedisClient } from '../../../services/kit/redis';
import { RendererKeys } from '../../../services/renderer/keys';
import { RendererStore } from '../../../services/renderer/store';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { connectedProducer, REDIS_URL, runNode } from '../../support/stack';

const PARTITIONS = 3;
const T = Date.parse('2026-11-30T09:00:00Z');

describe('state rebuild --service renderer', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let redis: RedisClient;

  beforeAll(async () => {
    pipeline = await createTestPipeline('renderer-rebuild', PARTITIONS);
    redis = createRedis({ REDIS_URL });
  });
  afterAll(async () => {
    redis?.disconnect();
    await pipeline?.close();
  });

  const outcome = (customer: string, trigger: string, fields: Partial<EmailOutcome>): EmailOutcome => ({
    trigger_id: trigger, customer_id: customer, campaign: 'cart_reminder', variant: null, status: 'sent', ses_message_id: `ses-${trigger}`,
    reason: 'rule cart_abandoned', at: T, experiment: null, holdout: false, variables: {}, segments: [], rule: 'cart_abandoned', ...fields,
  });

  const stateTool = (args: string[]) => runNode('services/tools/state.js', args, { ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-renderer` });

  it('brings back profiles, unsubscribes and the ledger, and leaves out what the renderer refuses', async () => {
    const [ann, bob, cy] = ['ann', 'bob', 'cy'].map((name) => `${name}-${run}`) as [string, string, string];
    await pipeline.produceProfiles([ann, bob, cy].map((id) =>
      customerProfile({ customer_id: id, updated_at: T - 3_600_000, email: `${id}@example.com`, first_name: 'Dana', locale: 'en-US', timezone: 'UTC', consent_email: true })));
    await pipeline.produceEvents([behaviorEvent({ event_id: `unsub-${bob}`, customer_id: bob, type: 'unsubscribe', occurred_at: T - 60_000 })]);
    const producer = await connectedProducer();
    try {
      const id = await pipeline.codec.register(valueSubject(pipeline.topics.outcomes), readSchema('EmailOutcome'));
      const encode = (o: EmailOutcome) => ({ key: o.customer_id, value: pipeline.codec.encode(id, recordTypes().EmailOutcome, o) });
      await producer.send({
        topic: pipeline.topics.outcomes,
        messages: [
          encode(outcome(ann, 't-ann', { status: 'deferred', ses_message_id: null, reason: 'quiet hours' })),
          encode(outcome(ann, 't-ann', { at: T + 1000 })), // the deferred send went out later: the last outcome wins
          encode(outcome(bob, 't-bob', { status: 'skipped', ses_message_id: null, holdout: true, experiment: 'cart_reminder.subject.0a1b2c3d', reason: 'holdout: cart_reminder.subject.0a1b2c3d' })),
          encode(outcome(cy, 't-cy', { status: 'deferred', ses_message_id: null, reason: 'quiet hours' })),
          { key: cy, value: Buffer.from('not avro at all') }, // refused by the renderer: left out
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const rebuilt = await stateTool(['rebuild', '--service', 'renderer']);
    expect(rebuilt.err).toBe('');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.out).toMatch(/Restored 3 profiles \(0 erased\), 1 unsubscribes\/resubscribes and 2 ledger entries; 1 records the renderer refuses were left out/);
    expect(rebuilt.out).toMatch(/Not restored: 1 deferred sends/);

    const store = new RendererStore(redis, new RendererKeys(pipeline.prefix), 86_400_000);
    const at = (customer: string) => partitionOf(customer, PARTITIONS);
    expect((await store.ledger(at(ann), 't-ann'))).toMatchObject({ state: 'sent', messageId: 'ses-t-ann', at: T + 1000 });
    expect((await store.ledger(at(bob), 't-bob'))).toMatchObject({ state: 'skipped', tags: { holdout: true } });
    expect(await store.ledger(at(cy), 't-cy')).toBeNull();
    const annState = await store.customer(at(ann), ann);
    expect(annState.profile?.email).toBe(`${ann}@example.com`);
    expect(annState.sends).toEqual([{ campaign: 'cart_reminder', triggerId: 't-ann', at: T + 1000 }]);
    const bobState = await store.customer(at(bob), bob);
    expect(bobState.unsubscribedAt).toBe(T - 60_000);
    expect(bobState.sends.map((s) => s.triggerId)).toEqual(['t-bob']); // a holdout's virtual send counts
    expect((await store.customer(at(cy), cy)).sends).toEqual([]);
  });

  it('names a service it does not know, and the ones it does', async () => {
    const unknown = await stateTool(['rebuild', '--service', 'mailer']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(/--service: "mailer" keeps no state to rebuild; expected one of segmenter, trigger, recommender, results, renderer/);
  });
});
