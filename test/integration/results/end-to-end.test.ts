/**
 * Issue 13, end to end through the real stack: a 2 x 2 multivariate experiment (subject x
 * offer) with a holdout on cart_abandoned. The renderer sends through the SES emulator with
 * its links pointing at a tracker started here; opens and clicks go through the tracker onto a
 * private behavior.events; purchases are produced there too; the results service (in-process)
 * reads email.outcomes and behavior.events, and its API and CLI show the figures, which must
 * equal the ones this test planned.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { assignArm, experimentOf, parseCampaigns, type ExperimentDesign } from '../../../services/core/campaigns';
import { emptyCounters, type ArmCounters } from '../../../services/core/experiments';
import { behaviorEvent, customerProfile, type BehaviorEvent, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { partitionOf } from '../../../services/kit/partitioner';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { resultsShape, startResults } from '../../../services/results/main';
import { resultsCli } from '../../../services/tools/results';
import { startTracker, trackerShape, type RunningTracker } from '../../../services/tracker/main';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { collect, connectedProducer, createTopics, exited, noonZone, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';
import { emulatorEmails } from '../renderer/ses-proxy';

const PARTITIONS = 3;
const HOUR_MS = 3_600_000;
const SUBJECTS = { plain: 'Your cart is waiting', question: 'Forgot something?' } as const;

const CAMPAIGNS = `campaigns:
  - name: cart_mv
    rules: [cart_abandoned]
    priority: 1
    template: exclusive_offer
    caps:
      quiet_hours: false
      frequency_cap: { max: 10, per: 24h }
    experiment:
      name: subject_and_offer
      holdout: 20%
      variables:
        subject:
          - { name: plain, value: "${SUBJECTS.plain}" }
          - { name: question, value: "${SUBJECTS.question}" }
        offer:
          - { name: no_offer, value: none }
          - { name: ten_off, value: { headline: "Ten percent off your cart", code: CART10, discount_percent: 10 } }
`;

/** What each customer does after the email, and what the results must then say. */
interface Plan {
  open: boolean;
  click: boolean;
  /** A link scanner fetches the pixel: a machine's open, never a unique open. */
  scannerOpen?: boolean;
  /** Purchases (cents) after the send, inside the window. */
  buys: number[];
  /** A purchase an hour before the send: never attributed. */
  boughtBefore?: number;
}

/** Two customers per arm and two in the holdout, each with a plan. */
const PLANS: Record<string, [Plan, Plan]> = {
  'plain+no_offer': [{ open: true, click: true, buys: [4_000] }, { open: false, click: false, buys: [], scannerOpen: true }],
  'plain+ten_off': [{ open: true, click: false, buys: [] }, { open: false, click: false, buys: [], boughtBefore: 9_900 }],
  'question+no_offer': [{ open: true, click: true, buys: [2_500, 1_500] }, { open: true, click: true, buys: [] }],
  // The second one clicks with images blocked (no pixel): the click counts as an open too.
  'question+ten_off': [{ open: true, click: true, buys: [12_000] }, { open: false, click: true, buys: [] }],
  holdout: [{ open: false, click: false, buys: [3_000] }, { open: false, click: false, buys: [] }],
};

/** The counters a plan adds to its arm: one send (virtual for the holdout), per spec of docs/experiments.md. */
function expectedCounters(plans: readonly Plan[]): ArmCounters {
  const counters = emptyCounters();
  for (const plan of plans) {
    const revenue = plan.buys.reduce((sum, cents) => sum + cents, 0);
    counters.sent += 1;
    counters.opened += plan.open || plan.click ? 1 : 0;
    counters.clicked += plan.click ? 1 : 0;
    counters.converted += plan.buys.length > 0 ? 1 : 0;
    counters.conversions += plan.buys.length;
    counters.revenue += revenue;
    counters.revenueSq += revenue * revenue;
    // Every purchase here follows the click (clicks come first), inside the window.
    counters.clickConverted += plan.click && plan.buys.length > 0 ? 1 : 0;
    counters.clickConversions += plan.click ? plan.buys.length : 0;
    counters.clickRevenue += plan.click ? revenue : 0;
  }
  return counters;
}

/** One GET, byte for byte (no redirect following), with a chosen user agent. */
function get(url: string, userAgent: string): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method: 'GET', path: `${target.pathname}${target.search}`, headers: { 'user-agent': userAgent } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

interface ArmBody {
  name: string;
  holdout: boolean;
  counters: ArmCounters;
}
interface CampaignBody {
  experiments: Array<{ id: string; in_config: boolean; holdout_share: number; report: { arms: ArmBody[]; srm: unknown; holdoutLift: unknown; mainEffects: Array<{ variable: string }> } }>;
}

describe('a 2 x 2 experiment with a holdout, end to end: renderer, SES emulator, tracker, behavior.events, results API and CLI', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let tracker: RunningTracker;
  let renderer: RunningRenderer;
  let results: RunningService;
  let producer: Producer;
  let design: ExperimentDesign;
  let campaignsFile: string;
  const types = recordTypes();
  const address = (customer: string) => `${customer}-${run}@example.com`;
  /** arm name ("holdout" too) -> its two customers. */
  const customers = new Map<string, string[]>();

  beforeAll(async () => {
    pipeline = await createTestPipeline('experiment-e2e', PARTITIONS);
    await createTopics([`${pipeline.topics.outcomes}.dlq`], PARTITIONS);
    producer = await connectedProducer();
    campaignsFile = join(mkdtempSync(join(tmpdir(), 'kairos-e2e-')), 'campaigns.yaml');
    writeFileSync(campaignsFile, CAMPAIGNS);
    design = experimentOf(parseCampaigns('campaigns.yaml', CAMPAIGNS)[0]) as ExperimentDesign;
    for (let i = 0; [...customers.values()].flat().length < 10; i++) {
      const customer = `mv-${run}-${i}`;
      const assigned = assignArm(design, { customerId: customer, triggerId: 'unused' });
      const arm = assigned.holdout ? 'holdout' : assigned.arm.name;
      const list = customers.get(arm) ?? [];
      if (list.length < 2) customers.set(arm, [...list, customer]);
    }
    // The tracker marks a hit within TRACKER_SUSPECT_WITHIN of the render as a machine's; the
    // test opens right away, so that window is made 1 ms (a scanner's user agent still counts as one).
    tracker = await startTracker(loadConfig(trackerShape, { ...pipeline.env, LINK_SIGNING_SECRET: TEST_LINK_SECRET, TRACKER_SUSPECT_WITHIN: '1ms' }), { logger: silentLogger });
    const base = `http://127.0.0.1:${tracker.http.port}`;
    renderer = await startRenderer(
      loadConfig(rendererShape, {
        ...pipeline.env,
        GROUP_ID: `${pipeline.env.GROUP_ID}-renderer`,
        CAMPAIGNS_FILE: campaignsFile,
        SES_ENDPOINT: 'http://127.0.0.1:8005',
        LINK_SIGNING_SECRET: TEST_LINK_SECRET,
        TRACKING_BASE_URL: base,
        RECOMMENDATIONS_SOURCE: 'static',
        FALLBACK_PRODUCT_IDS: 'sku-1,sku-2',
      }),
      { logger: silentLogger },
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

  it('every combination is emailed, the holdout is not, and opens, clicks and purchases appear per arm in the API and the CLI', async () => {
    expect([...customers.keys()].sort()).toEqual(['holdout', ...design.arms.map((arm) => arm.name)].sort());
    const everyone = [...customers.values()].flat();

    // Profiles, then one cart_abandoned trigger each.
    const profiles = everyone.map((customer) => customerProfile({ customer_id: customer, email: address(customer), first_name: 'Dana', consent_email: true, locale: 'en-US', timezone: noonZone(Date.now()), updated_at: Date.now() - 60_000 }));
    await pipeline.produceProfiles(profiles);
    for (const customer of everyone) {
      await waitFor(`the renderer to store ${customer}'s profile`, async () => (await renderer.store.customer(partitionOf(customer, PARTITIONS), customer)).profile !== null);
    }
    const schemaId = await pipeline.codec.register(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    const triggers: TriggerFired[] = everyone.map((customer) => ({ trigger_id: `${customer}-cart`, rule: 'cart_abandoned', customer_id: customer, fired_at: Date.now(), cause_event_id: null, context: { cart_product_ids: 'sku-7' } }));
    await producer.send({ topic: pipeline.topics.triggers, messages: triggers.map((t) => ({ key: t.customer_id, value: pipeline.codec.encode(schemaId, types.TriggerFired, t) })) });
    const outcomes = await waitFor('every outcome', async () => {
      const all = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.status !== 'deferred');
      return all.length >= everyone.length ? new Map(all.map((o) => [o.customer_id, o])) : undefined;
    }, 60_000);

    // The emails: each arm's combination, the holdout none.
    const emails = await emulatorEmails();
    const emailOf = (customer: string) => emails.filter((e) => e.destination.to.some((to) => to.includes(address(customer))));
    const sentAt = new Map<string, number>();
    const links = new Map<string, { pixel: string; click: string }>();
    for (const [arm, list] of customers) {
      for (const customer of list) {
        const outcome = outcomes.get(customer) as EmailOutcome;
        expect(outcome).toMatchObject({ campaign: 'cart_mv', experiment: design.id, holdout: arm === 'holdout' });
        sentAt.set(customer, outcome.at);
        if (arm === 'holdout') {
          expect(outcome).toMatchObject({ status: 'skipped', variant: null });
          expect(emailOf(customer)).toEqual([]);
          continue;
        }
        const [subject, offer] = arm.split('+') as ['plain' | 'question', string];
        expect(outcome).toMatchObject({ status: 'sent', variant: arm, variables: { subject, offer } });
        const received = await waitFor(`the email to ${customer}`, async () => (await emulatorEmails()).find((e) => e.destination.to.some((to) => to.includes(address(customer)))));
        expect(received.subject).toBe(SUBJECTS[subject]);
        const html = received.body.html ?? '';
        expect(html.includes('Ten percent off your cart')).toBe(offer === 'ten_off');
        const pixel = /<img src="([^"]+\/o\/[^"]+)" width="1" height="1"/.exec(html)?.[1] ?? '';
        const click = [...html.matchAll(/href="([^"]*\/c\/[^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&'))[0] ?? '';
        expect([pixel, click].every((url) => url !== '')).toBe(true);
        links.set(customer, { pixel, click });
      }
    }

    // Engagement through the tracker, purchases through behavior.events.
    const purchases: BehaviorEvent[] = [];
    for (const [arm, list] of customers) {
      for (const [index, customer] of list.entries()) {
        const plan = PLANS[arm]?.[index] as Plan;
        const link = links.get(customer);
        if (plan.open && link) expect(await get(link.pixel, BROWSER)).toBe(200);
        if (plan.scannerOpen && link) expect(await get(link.pixel, 'Barracuda Sentinel (EE)')).toBe(200);
        if (plan.click && link) expect(await get(link.click, BROWSER)).toBe(302);
        const at = sentAt.get(customer) as number;
        plan.buys.forEach((cents, n) => purchases.push(behaviorEvent({ event_id: `buy-${customer}-${n}`, customer_id: customer, type: 'purchase', occurred_at: Date.now() + n, value_cents: cents, currency: 'EUR', order_id: `o-${customer}-${n}` })));
        if (plan.boughtBefore !== undefined) {
          purchases.push(behaviorEvent({ event_id: `buy-${customer}-before`, customer_id: customer, type: 'purchase', occurred_at: at - HOUR_MS, value_cents: plan.boughtBefore, currency: 'EUR', order_id: `o-${customer}-before` }));
        }
      }
    }
    await pipeline.produceEvents(purchases);

    // The API shows exactly the planned figures per arm.
    const expected = new Map([...Object.entries(PLANS)].map(([arm, plans]) => [arm, expectedCounters(plans)]));
    const url = `http://127.0.0.1:${results.http.port}/results/campaigns/cart_mv`;
    const body = await waitFor('the results API to show every planned figure', async () => {
      const answer = (await (await fetch(url)).json()) as CampaignBody;
      const report = answer.experiments.find((e) => e.id === design.id)?.report;
      const arms = new Map((report?.arms ?? []).map((a) => [a.holdout ? 'holdout' : a.name, a.counters]));
      return [...expected].every(([arm, counters]) => JSON.stringify(pick(arms.get(arm))) === JSON.stringify(pick(counters))) ? answer : undefined;
    }, 60_000);
    const report = body.experiments.find((e) => e.id === design.id)?.report;
    for (const arm of report?.arms ?? []) expect(pick(arm.counters)).toEqual(pick(expected.get(arm.holdout ? 'holdout' : arm.name)));
    expect(body.experiments.find((e) => e.id === design.id)).toMatchObject({ in_config: true, holdout_share: 0.2 });
    expect(report?.srm).toBeDefined();
    expect(report?.holdoutLift).toBeDefined();
    expect(report?.mainEffects.map((m) => m.variable)).toEqual(['subject', 'offer']);
    // email.outcomes is written in transactions: the results group still commits past the last
    // markers (its fence moved along), so its lag reaches 0.
    await waitCaughtUp(`${pipeline.env.GROUP_ID}-results`, pipeline.topics.outcomes);

    // The CLI, as an operator runs it, reads the same counters from Redis: one table row per arm
    // ("<arm>  <sent> ..."), and its --json equals the API's arms.
    const cli = spawnNode('services/tools/results.js', ['--campaign', 'cart_mv'], { ...pipeline.env, CAMPAIGNS_FILE: campaignsFile });
    const out = collect(cli.stdout);
    const err = collect(cli.stderr);
    expect(await exited(cli)).toEqual({ code: 0, signal: null });
    expect(err.text()).toBe('');
    for (const [arm, counters] of expected) expect(out.text()).toMatch(new RegExp(`^${arm.replace('+', '\\+')}\\s+${counters.sent}\\s`, 'm'));
    expect(out.text()).toContain('Main effect of offer');
    const printed = JSON.parse(await resultsCli(['--campaign', 'cart_mv', '--json'], { ...process.env, ...pipeline.env, CAMPAIGNS_FILE: campaignsFile })) as CampaignBody;
    const cliArms = printed.experiments.find((e) => e.id === design.id)?.report.arms ?? [];
    expect(new Map(cliArms.map((a) => [a.name, pick(a.counters)]))).toEqual(new Map((report?.arms ?? []).map((a) => [a.name, pick(a.counters)])));
  });
});

/** The counters this test plans (delivery, bounce, unsubscribe and complaint stay 0 here). */
function pick(counters: ArmCounters | undefined): Partial<ArmCounters> | undefined {
  if (counters === undefined) return undefined;
  const { sent, opened, clicked, converted, conversions, revenue, revenueSq, clickConverted, clickConversions, clickRevenue, delivered, bounced, unsubscribed, complained } = counters;
  return { sent, opened, clicked, converted, conversions, revenue, revenueSq, clickConverted, clickConversions, clickRevenue, delivered, bounced, unsubscribed, complained };
}
