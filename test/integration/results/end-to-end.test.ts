/**
 * A 2 x 2 multivariate experiment with a holdout through the real stack: the renderer sends
 * each combination (SES emulator), opens and clicks go through the tracker to behavior.events,
 * purchases follow on behavior.events, and the results API and CLI show every arm's figures.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { assignArm, experimentOf, parseCampaigns, type ExperimentDesign } from '../../../services/core/campaigns';
import { behaviorEvent, customerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { partitionOf } from '../../../services/kit/partitioner';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import type { CampaignResults } from '../../../services/results/figures';
import { resultsShape, startResults } from '../../../services/results/main';
import { resultsCli } from '../../../services/tools/results';
import { startTracker, trackerShape, type RunningTracker } from '../../../services/tracker/main';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { connectedProducer, createTopics, waitFor } from '../../support/stack';
import { EMULATOR, emulatorEmails } from '../renderer/ses-proxy';

const PARTITIONS = 3;
const CAMPAIGNS = `campaigns:
  - name: cart_mv
    rules: [cart_abandoned]
    priority: 1
    template: cart_reminder
    caps:
      quiet_hours: false
      frequency_cap: { max: 10, per: 24h }
    experiment:
      name: subject_and_recs
      holdout: 20%
      variables:
        subject:
          - { name: plain, value: "Your cart is waiting" }
          - { name: question, value: "Forgot something?" }
        recommendations:
          - { name: co_viewed }
          - { name: popular }
`;

/** One GET to the tracker as a mail client would make it (no redirect following). */
function get(url: string): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method: 'GET', path: `${target.pathname}${target.search}`, headers: { 'user-agent': 'Mozilla/5.0 (integration test)' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a 2 x 2 experiment end to end: renderer, SES, tracker, behavior.events, results', () => {
  const run = randomUUID().slice(0, 8);
  const design = experimentOf(parseCampaigns('campaigns.yaml', CAMPAIGNS)[0]!) as ExperimentDesign;
  let pipeline: TestPipeline;
  let tracker: RunningTracker;
  let renderer: RunningRenderer;
  let results: RunningService;
  let producer: Producer;
  let campaignsFile: string;
  const address = (customer: string) => `${customer}-${run}@example.com`;

  beforeAll(async () => {
    campaignsFile = join(mkdtempSync(join(tmpdir(), 'kairos-e2e-')), 'campaigns.yaml');
    writeFileSync(campaignsFile, CAMPAIGNS);
    pipeline = await createTestPipeline('results-e2e', PARTITIONS);
    await createTopics([`${pipeline.topics.outcomes}.dlq`], PARTITIONS);
    producer = await connectedProducer();
    // Hits seconds after the render would be marked suspect (fast_open): a person is slower.
    tracker = await startTracker(loadConfig(trackerShape, { ...pipeline.env, LINK_SIGNING_SECRET: TEST_LINK_SECRET, TRACKER_SUSPECT_WITHIN: '0ms' }), { logger: silentLogger });
    renderer = await startRenderer(
      loadConfig(rendererShape, {
        ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-renderer`, CAMPAIGNS_FILE: campaignsFile, SES_ENDPOINT: EMULATOR,
        LINK_SIGNING_SECRET: TEST_LINK_SECRET, TRACKING_BASE_URL: `http://127.0.0.1:${tracker.http.port}`,
      }),
      {
        logger: silentLogger,
        recommendations: {
          recommend: async (req) => req.strategy === 'popular'
            ? { fallback: false, items: [{ product_id: 'best-1', title: 'Best Seller Mug', url: 'https://shop.example.com/p/best-1' }] }
            : { fallback: false, items: [{ product_id: 'rec-1', title: 'Trail Runner Socks', url: 'https://shop.example.com/p/rec-1' }] },
        },
      },
    );
    results = await startResults(loadConfig(resultsShape, { ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-results`, CAMPAIGNS_FILE: campaignsFile }), { logger: silentLogger });
    await waitFor('the renderer and the results service to join their groups', () => renderer.runner.isReady() && results.runner.isReady(), 60_000);
  });
  afterAll(async () => {
    await results?.stop();
    await renderer?.stop();
    await tracker?.stop();
    await producer?.disconnect();
    await pipeline?.close();
  });

  it('shows each combination and the holdout with its opens, clicks and purchases in the API and the CLI', async () => {
    // One customer per arm, and one in the holdout.
    const byArm = new Map<string, string>();
    for (let i = 0; byArm.size < 5; i += 1) {
      const customer = `e2e-${run}-${i}`;
      const a = assignArm(design, { customerId: customer, triggerId: 'any' });
      const arm = a.holdout ? 'holdout' : a.arm.name;
      if (!byArm.has(arm)) byArm.set(arm, customer);
    }
    const customers = [...byArm.values()];
    await pipeline.produceProfiles(customers.map((c) => customerProfile({ customer_id: c, email: address(c), first_name: 'Dana', consent_email: true, locale: 'en-US', timezone: 'UTC', updated_at: Date.now() - 60_000 })));
    for (const c of customers) await waitFor(`the profile of ${c}`, async () => (await renderer.store.customer(partitionOf(c, PARTITIONS), c)).profile !== null);
    const triggerType = recordTypes().TriggerFired;
    const schemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    const triggers: TriggerFired[] = customers.map((c) => ({ trigger_id: `${c}-cart`, rule: 'cart_abandoned', customer_id: c, fired_at: Date.now(), cause_event_id: null, context: { cart_product_ids: 'sku-7' } }));
    await producer.send({ topic: pipeline.topics.triggers, messages: triggers.map((t) => ({ key: t.customer_id, value: pipeline.codec.encode(schemaId, triggerType, t) })) });
    const outcomes = await waitFor('the five outcomes', async () => {
      const all = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => customers.includes(o.customer_id) && o.status !== 'deferred');
      return all.length >= 5 ? all : undefined;
    }, 60_000);
    expect(outcomes.map((o) => [o.customer_id, o.holdout ? 'holdout' : o.variant]).sort()).toEqual([...byArm].map(([arm, c]) => [c, arm]).sort());

    // Every treated customer opens; the plain+* ones also click; question+popular and the holdout buy.
    for (const [arm, customer] of byArm) {
      if (arm === 'holdout') continue;
      const email = await waitFor(`the email to ${customer}`, async () => (await emulatorEmails()).find((e) => e.destination.to.some((to) => to.includes(address(customer)))));
      const html = email.body.html ?? '';
      const pixel = /<img src="([^"]+\/o\/[^"]+)" width="1"/.exec(html)?.[1] ?? '';
      const click = [...html.matchAll(/href="([^"]*\/c\/[^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&'))[0] ?? '';
      expect(await get(pixel)).toBe(200);
      if (arm.startsWith('plain+')) expect(await get(click)).toBe(302);
    }
    const now = Date.now();
    await pipeline.produceEvents([
      behaviorEvent({ event_id: `buy-${run}-1`, customer_id: byArm.get('question+popular')!, type: 'purchase', occurred_at: now, value_cents: 2500, currency: 'EUR' }),
      behaviorEvent({ event_id: `buy-${run}-2`, customer_id: byArm.get('holdout')!, type: 'purchase', occurred_at: now, value_cents: 1200, currency: 'EUR' }),
    ]);

    const expected = (arm: string) => ({
      sent: 1,
      opened: arm === 'holdout' ? 0 : 1,
      clicked: arm.startsWith('plain+') ? 1 : 0,
      converted: arm === 'question+popular' || arm === 'holdout' ? 1 : 0,
      revenue: arm === 'question+popular' ? 2500 : arm === 'holdout' ? 1200 : 0,
    });
    const figures = (body: CampaignResults) =>
      Object.fromEntries(body.experiments[0]!.report.arms.map((a) => [a.name, { sent: a.counters.sent, opened: a.counters.opened, clicked: a.counters.clicked, converted: a.counters.converted, revenue: a.counters.revenue }]));
    const want = Object.fromEntries([...design.arms.map((a) => a.name), 'holdout'].map((arm) => [arm, expected(arm)]));
    const body = await waitFor('every arm in the results API', async () => {
      const response = await fetch(`http://127.0.0.1:${results.http.port}/results/campaigns/cart_mv`);
      const current = (await response.json()) as CampaignResults;
      return JSON.stringify(figures(current)) === JSON.stringify(want) ? current : undefined;
    }, 60_000).catch(async (error: Error) => {
      const response = await fetch(`http://127.0.0.1:${results.http.port}/results/campaigns/cart_mv`);
      expect(figures((await response.json()) as CampaignResults)).toEqual(want);
      throw error;
    });
    expect(body.experiments[0]).toMatchObject({ id: design.id, in_config: true, holdout_share: 0.2 });
    expect(body.experiments[0]!.report.mainEffects.map((m) => m.variable)).toEqual(['subject', 'recommendations']);

    const text = await resultsCli(['--campaign', 'cart_mv'], { ...process.env, ...pipeline.env, CAMPAIGNS_FILE: campaignsFile });
    for (const arm of [...design.arms.map((a) => a.name), 'holdout']) expect(text).toMatch(new RegExp(`^${arm.replace('+', '\\+')}\\s+1\\s`, 'm'));
    expect(text).toContain('Main effect of recommendations');
  });
});
