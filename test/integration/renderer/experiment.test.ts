/**
 * An experiment with a holdout through the real renderer: treatment customers get their arm's
 * email in the SES emulator, holdout customers get nothing and an outcome that says holdout
 * (and a virtual send the frequency cap and cooldown count), and a customer keeps their arm.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { assignArm, experimentOf, parseCampaigns, type ExperimentDesign } from '../../../services/core/campaigns';
import { verifyLinkToken } from '../../../services/core/links';
import { customerProfile, type CustomerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { partitionOf } from '../../../services/kit/partitioner';
import { segmentStateKey } from '../../../services/kit/segment-state-key';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import type { RendererHooks } from '../../../services/renderer/renderer';
import { EmulatorSentMailLookup } from '../../../services/renderer/sent-lookup';
import { TEST_LINK_KEYRING, TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { connectedProducer, waitFor } from '../../support/stack';
import { emulatorEmails, startSesProxy, type SesProxy } from './ses-proxy';

const T0 = Date.parse('2026-06-15T12:00:00Z');
const PARTITIONS = 3;

const CAMPAIGNS = `campaigns:
  - name: promo
    rules: [high_interest]
    priority: 1
    template: standard_message
    caps:
      quiet_hours: false
      frequency_cap: { max: 10, per: 24h }
    experiment:
      name: subject_test
      holdout: 30%
      variables:
        subject:
          - { name: plain, value: "Plain: {{product.title}} is still here" }
          - { name: question, value: "Question: still thinking about {{product.title}}?" }
`;
class SimulatedCrash extends Error {}

/** A 2 x 2 on cart_abandoned: subject x recommendation strategy, no holdout. */
const MULTIVARIATE = `
  - name: cart_mv
    rules: [cart_abandoned]
    priority: 1
    template: cart_reminder
    caps:
      quiet_hours: false
      frequency_cap: { max: 10, per: 24h }
    experiment:
      name: subject_and_recs
      variables:
        subject:
          - { name: plain, value: "Your cart is waiting" }
          - { name: question, value: "Forgot something?" }
        recommendations:
          - { name: co_viewed }
          - { name: popular }
`;

const SUBJECTS: Record<string, string> = { plain: 'Plain: sku-42 is still here', question: 'Question: still thinking about sku-42?' };

describe('an experiment with a holdout through the renderer', () => {
  const run = randomUUID().slice(0, 8);
  const design = experimentOf(parseCampaigns('campaigns.yaml', CAMPAIGNS)[0]) as ExperimentDesign;
  let pipeline: TestPipeline;
  let proxy: SesProxy;
  let service: RunningRenderer;
  let producer: Producer;
  let triggerSchemaId: number;
  const types = recordTypes();
  const now = T0;

  const email = (customer: string) => `${customer}-${run}@example.com`;
  const assigned = (customer: string) => assignArm(design, { customerId: customer, triggerId: 'any' });

  /** The first `count` customers `<prefix>-0`, `<prefix>-1`, ... whose assignment passes `test`. */
  function customersWhere(prefix: string, count: number, test: (a: ReturnType<typeof assignArm>) => boolean): string[] {
    const found: string[] = [];
    for (let i = 0; found.length < count; i++) if (test(assigned(`${prefix}-${i}`))) found.push(`${prefix}-${i}`);
    return found;
  }

  /** Simulated SIGKILL: once set, the instance does nothing more (no SES, no ledger). */
  let dead = false;
  const hooks: RendererHooks = {};
  let campaignsFile = '';

  async function start(): Promise<RunningRenderer> {
    dead = false;
    const config = loadConfig(rendererShape, {
      ...pipeline.env,
      CAMPAIGNS_FILE: campaignsFile,
      SES_ENDPOINT: proxy.url,
      LINK_SIGNING_SECRET: TEST_LINK_SECRET,
      TIMER_INTERVAL_MS: '60000',
      FROM_ADDRESS: 'Kairos Test <shop@example.com>',
    });
    const alive = () => {
      if (dead) throw new SimulatedCrash('this instance was killed');
    };
    const lookup = new EmulatorSentMailLookup(proxy.url, TEST_LINK_KEYRING, () => now);
    const instance = await startRenderer(config, {
      clock: () => now,
      logger: silentLogger,
      recommendations: {
        recommend: async (request) => request.strategy === 'popular'
          ? { fallback: false, items: [{ product_id: 'best-1', title: 'Best Seller Mug', url: 'https://shop.example.com/p/best-1' }] }
          : { fallback: false, items: [{ product_id: 'rec-1', title: 'Trail Runner Socks', url: 'https://shop.example.com/p/rec-1' }] },
      },
      sentLookup: { findSent: async (id) => (alive(), lookup.findSent(id)) },
      hooks: { afterReserve: async (trigger) => (alive(), hooks.afterReserve?.(trigger)) },
    });
    await waitFor('the renderer to join its group', () => instance.runner.isReady());
    return instance;
  }

  beforeAll(async () => {
    pipeline = await createTestPipeline('renderer-exp', PARTITIONS);
    proxy = await startSesProxy();
    producer = await connectedProducer();
    triggerSchemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    campaignsFile = join(mkdtempSync(join(tmpdir(), 'kairos-exp-')), 'campaigns.yaml');
    writeFileSync(campaignsFile, CAMPAIGNS + MULTIVARIATE);
    service = await start();
  });
  afterAll(async () => {
    await service?.stop();
    await producer?.disconnect();
    await proxy?.close();
    await pipeline?.close();
  });

  const profile = (customer: string): CustomerProfile =>
    customerProfile({ customer_id: customer, updated_at: T0 - 1000, email: email(customer), first_name: 'Dana', locale: 'en-US', timezone: 'UTC', consent_email: true });

  async function givenProfiles(customers: string[], segments: string[]): Promise<void> {
    await pipeline.produceProfiles(customers.map(profile));
    for (const customer of customers) {
      const partition = partitionOf(customer, PARTITIONS);
      await waitFor(`profile ${customer}`, async () => (await service.store.customer(partition, customer)).profile !== null);
      await service.redis.set(segmentStateKey(pipeline.prefix, partition, customer), JSON.stringify({ v: 1, m: [...segments].sort() }));
    }
  }

  function trigger(customer: string, suffix: string): TriggerFired {
    return { trigger_id: `${customer}-${suffix}-${run}`, rule: 'high_interest', customer_id: customer, fired_at: now, cause_event_id: null, context: { product_id: 'sku-42' } };
  }

  async function produceTriggers(triggers: TriggerFired[]): Promise<void> {
    await producer.send({
      topic: pipeline.topics.triggers,
      messages: triggers.map((t) => ({ key: t.customer_id, value: pipeline.codec.encode(triggerSchemaId, types.TriggerFired, t) })),
    });
  }

  async function outcomesOf(triggers: TriggerFired[]): Promise<Map<string, EmailOutcome>> {
    const ids = new Set(triggers.map((t) => t.trigger_id));
    return waitFor(`outcomes of ${ids.size} triggers`, async () => {
      const found = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => ids.has(o.trigger_id));
      return found.length >= ids.size ? new Map(found.map((o) => [o.trigger_id, o])) : undefined;
    });
  }

  const emailsTo = async (customer: string) => (await emulatorEmails()).filter((e) => e.destination.to.some((to) => to.includes(email(customer))));

  it('emails treatment customers their arm and holdout customers nothing; the outcomes say which', async () => {
    const treated = customersWhere('x', 4, (a) => !a.holdout);
    const heldOut = customersWhere('x', 3, (a) => a.holdout);
    await givenProfiles([...treated, ...heldOut], ['engaged', 'frequent_buyer']);
    const triggers = [...treated, ...heldOut].map((customer) => trigger(customer, 'first'));
    await produceTriggers(triggers);
    const outcomes = await outcomesOf(triggers);

    for (const customer of treated) {
      const arm = assigned(customer);
      if (arm.holdout) throw new Error('unreachable');
      const outcome = outcomes.get(trigger(customer, 'first').trigger_id)!;
      expect(outcome).toMatchObject({
        status: 'sent', campaign: 'promo', variant: arm.arm.name, experiment: design.id, holdout: false,
        variables: { subject: arm.arm.name }, segments: ['engaged', 'frequent_buyer'], rule: 'high_interest',
      });
      const sent = await waitFor(`the email to ${customer}`, async () => {
        const list = await emailsTo(customer);
        return list.length === 1 ? list[0] : undefined;
      });
      expect(sent.messageId).toBe(outcome.ses_message_id);
      expect(sent.subject).toBe(SUBJECTS[arm.arm.name]);
      // The links carry the arm as `variant`, for the tracker's opens and clicks.
      const token = /\/o\/([^"]+)"/.exec(sent.body.html ?? '')?.[1] ?? '';
      expect(verifyLinkToken(token, TEST_LINK_KEYRING, now)).toMatchObject({ ok: true, claims: { campaign: 'promo', variant: arm.arm.name } });
    }

    for (const customer of heldOut) {
      const outcome = outcomes.get(trigger(customer, 'first').trigger_id)!;
      expect(outcome).toMatchObject({
        status: 'skipped', campaign: 'promo', variant: null, experiment: design.id, holdout: true, variables: {},
        ses_message_id: null, at: now, segments: ['engaged', 'frequent_buyer'], rule: 'high_interest',
      });
      expect(outcome.reason).toMatch(/^holdout: in the 30% holdout of promo\.subject_test\.[0-9a-f]{8}; no email/);
      // Counted as a send ("as if sent") for the frequency cap and cooldown.
      const sends = (await service.store.customer(partitionOf(customer, PARTITIONS), customer)).sends;
      expect(sends).toEqual([{ campaign: 'promo', triggerId: trigger(customer, 'first').trigger_id, at: now }]);
    }
    // Every treatment email is in; nothing for the holdout.
    for (const customer of heldOut) expect(await emailsTo(customer)).toEqual([]);
    expect(proxy.calls.filter((call) => heldOut.some((customer) => call.to.includes(email(customer))))).toEqual([]);
  });

  it('a customer keeps their arm across two sends', async () => {
    const [customer] = customersWhere('y', 1, (a) => !a.holdout && a.arm.name === 'question');
    const [other] = customersWhere('y', 1, (a) => !a.holdout && a.arm.name === 'plain');
    await givenProfiles([customer, other], []);
    const first = [trigger(customer, 'one'), trigger(other, 'one')];
    await produceTriggers(first);
    await outcomesOf(first);
    const second = [trigger(customer, 'two'), trigger(other, 'two')];
    await produceTriggers(second);
    const outcomes = await outcomesOf([...first, ...second]);
    expect(outcomes.get(trigger(customer, 'one').trigger_id)?.variant).toBe('question');
    expect(outcomes.get(trigger(customer, 'two').trigger_id)?.variant).toBe('question');
    expect(outcomes.get(trigger(other, 'one').trigger_id)?.variant).toBe('plain');
    expect(outcomes.get(trigger(other, 'two').trigger_id)?.variant).toBe('plain');
    const subjects = await waitFor('two emails to each', async () => {
      const [a, b] = [await emailsTo(customer), await emailsTo(other)];
      return a.length >= 2 && b.length >= 2 ? { a: a.map((e) => e.subject), b: b.map((e) => e.subject) } : undefined;
    });
    expect(new Set(subjects.a)).toEqual(new Set([SUBJECTS.question]));
    expect(new Set(subjects.b)).toEqual(new Set([SUBJECTS.plain]));
  });

  it('a send resumed after a crash between reservation and SES sends the reserved arm and records it', async () => {
    const [customer] = customersWhere('z', 1, (a) => !a.holdout && a.arm.name === 'question');
    await givenProfiles([customer], ['engaged']);
    hooks.afterReserve = (t: TriggerFired) => {
      if (t.customer_id !== customer) return;
      dead = true;
      throw new SimulatedCrash('killed after the reservation');
    };
    const t = trigger(customer, 'crash');
    await produceTriggers([t]);
    await waitFor('the crash', () => dead);
    const ledger = await service.store.ledger(partitionOf(customer, PARTITIONS), t.trigger_id);
    expect(ledger).toMatchObject({ state: 'reserved', variant: 'question', tags: { experiment: design.id, holdout: false, variables: { subject: 'question' }, segments: ['engaged'] } });
    hooks.afterReserve = undefined;
    await service.stop();
    service = await start();
    const outcome = (await outcomesOf([t])).get(t.trigger_id);
    expect(outcome).toMatchObject({ status: 'sent', variant: 'question', experiment: design.id, holdout: false, variables: { subject: 'question' }, segments: ['engaged'], rule: 'high_interest' });
    const sent = await waitFor('the resumed email', async () => (await emailsTo(customer))[0]);
    expect(sent.subject).toBe(SUBJECTS.question);
  });

  it('a reserved holdout found after a restart is finished as skipped, without any email', async () => {
    const [customer] = customersWhere('w', 1, (a) => a.holdout);
    await givenProfiles([customer], []);
    const t = trigger(customer, 'held');
    const partition = partitionOf(customer, PARTITIONS);
    // What a renderer killed between the holdout's reservation and its record leaves behind.
    const tags = { experiment: design.id, holdout: true, variables: {}, segments: [] };
    const reserved = await service.store.reserve({
      partition, trigger: t, now, campaign: 'promo', variant: null, cap: { max: 10, perMs: 86_400_000 }, retentionMs: 86_400_000, fromDeferred: false,
      reason: 'holdout: in the 30% holdout (reserved before a crash)', tags, incarnation: (await service.store.stateMarker(partition)) as string,
    });
    expect(reserved).toEqual({ reserved: true });
    await produceTriggers([t]);
    const outcome = (await outcomesOf([t])).get(t.trigger_id);
    expect(outcome).toMatchObject({ status: 'skipped', campaign: 'promo', variant: null, experiment: design.id, holdout: true, ses_message_id: null });
    expect(outcome?.reason).toMatch(/^holdout: /);
    expect(await emailsTo(customer)).toEqual([]);
  });

  it('a 2 x 2 multivariate sends every combination, each email carrying its arm', async () => {
    const mv = experimentOf(parseCampaigns('campaigns.yaml', `campaigns:${MULTIVARIATE}`)[0]) as ExperimentDesign;
    expect(mv.arms.map((arm) => arm.name)).toEqual(['plain+co_viewed', 'plain+popular', 'question+co_viewed', 'question+popular']);
    const byArm = new Map<string, string>();
    for (let i = 0; byArm.size < 4; i++) {
      const a = assignArm(mv, { customerId: `mv-${i}`, triggerId: 'any' });
      if (!a.holdout && !byArm.has(a.arm.name)) byArm.set(a.arm.name, `mv-${i}`);
    }
    await givenProfiles([...byArm.values()], []);
    const triggers = [...byArm.values()].map((customer) => ({ ...trigger(customer, 'cart'), rule: 'cart_abandoned', context: { cart_product_ids: 'sku-7' } }));
    await produceTriggers(triggers);
    const outcomes = await outcomesOf(triggers);
    for (const [armName, customer] of byArm) {
      const [subject, strategy] = armName.split('+');
      const outcome = [...outcomes.values()].find((o) => o.customer_id === customer);
      expect(outcome).toMatchObject({ status: 'sent', campaign: 'cart_mv', variant: armName, experiment: mv.id, variables: { subject, recommendations: strategy }, rule: 'cart_abandoned' });
      const sent = await waitFor(`the email to ${customer}`, async () => (await emailsTo(customer))[0]);
      expect(sent.subject).toBe(subject === 'plain' ? 'Your cart is waiting' : 'Forgot something?');
      expect(sent.body.html).toContain(strategy === 'popular' ? 'Best Seller Mug' : 'Trail Runner Socks');
      expect(sent.body.html).not.toContain(strategy === 'popular' ? 'Trail Runner Socks' : 'Best Seller Mug');
    }
  });
});
