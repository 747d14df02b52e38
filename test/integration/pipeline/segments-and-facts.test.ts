/**
 * The segmenter, the trigger service and the renderer together against the real stack (Kafka,
 * the registry, Redis, the SES emulator), on one injected clock: high_interest and
 * re_engagement membership, the facts an upsell email shows, and what becomes of every
 * high_interest trigger of a shop's traffic.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecommendationSource } from '../../../services/core/recommendations';
import { behaviorEvent, customerProfile, type BehaviorEvent, type CustomerProfile, type EmailOutcome, type SegmentChange, type TriggerFired } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { partitionOf } from '../../../services/kit/partitioner';
import { rendererShape, startRenderer, type RunningRenderer } from '../../../services/renderer/main';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { shopTraffic } from '../../../services/tools/synthetic';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { waitCaughtUp, waitFor } from '../../support/stack';
import { EMULATOR, emulatorEmails } from '../renderer/ses-proxy';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 12:00 UTC: outside the default quiet hours in UTC. */
const T0 = Date.parse('2026-06-15T12:00:00Z');
const PARTITIONS = 3;

const picks: RecommendationSource = {
  recommend: async () => ({ fallback: false, items: [{ product_id: 'rec-1', title: 'Trail Runner Socks', url: 'https://shop.example.com/p/rec-1' }] }),
};

describe('segments, facts and the upsell through the real pipeline', () => {
  const run = randomUUID().slice(0, 8);
  let pipeline: TestPipeline;
  let segmenter: RunningService;
  let trigger: RunningService;
  let renderer: RunningRenderer;
  let now = T0;
  let n = 0;

  beforeAll(async () => {
    pipeline = await createTestPipeline('segfacts', PARTITIONS);
    const catalog = join(mkdtempSync(join(tmpdir(), 'kairos-catalog-')), 'catalog.json');
    writeFileSync(catalog, JSON.stringify({ 'sku-beanie': { title: 'Merino Beanie' }, 'sku-boots': { title: 'Trail Boots' } }));
    const env = (service: string) => ({ ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-${service}` });
    const clock = () => now;
    segmenter = await startSegmenter(loadConfig(segmenterShape, { ...env('segmenter'), TIMER_INTERVAL_MS: '60000' }), { clock, logger: silentLogger });
    // Timers tick once a minute at most: the tests fire the segmenter's themselves; cart reminders may add emails.
    trigger = await startTrigger(loadConfig(triggerShape, { ...env('trigger'), TIMER_INTERVAL_MS: '60000' }), { clock, logger: silentLogger });
    renderer = await startRenderer(
      loadConfig(rendererShape, {
        ...env('renderer'),
        SES_ENDPOINT: EMULATOR,
        LINK_SIGNING_SECRET: TEST_LINK_SECRET,
        SES_MAX_SEND_RATE: '50',
        TIMER_INTERVAL_MS: '60000',
        CATALOG_FILE: catalog,
      }),
      { clock, logger: silentLogger, recommendations: picks },
    );
    await waitFor('the services to join their groups', () => segmenter.runner.isReady() && trigger.runner.isReady() && renderer.runner.isReady());
  });
  afterAll(async () => {
    await renderer?.stop();
    await trigger?.stop();
    await segmenter?.stop();
    await pipeline?.close();
  });

  const customer = (name: string) => `${name}-${run}`;
  const email = (id: string) => `${id}@example.com`;
  const profile = (id: string, fields: Partial<CustomerProfile> = {}) =>
    customerProfile({ customer_id: id, updated_at: T0 - DAY, email: email(id), first_name: 'Dana', locale: 'en-US', timezone: 'UTC', consent_email: true, ...fields });
  const event = (id: string, type: string, at: number, fields: Partial<BehaviorEvent> = {}) =>
    behaviorEvent({ event_id: `${id}-${type}-${(n += 1)}`, customer_id: id, type, occurred_at: at, ...fields });
  const fourViews = (id: string, product: string) => [4, 3, 2, 1].map((minutes) => event(id, 'product_view', now - minutes * MINUTE, { product_id: product }));

  async function segmenterCaughtUp(): Promise<void> {
    await waitCaughtUp(`${pipeline.env.GROUP_ID}-segmenter`, pipeline.topics.events);
    await waitCaughtUp(`${pipeline.env.GROUP_ID}-segmenter`, pipeline.topics.profiles);
  }
  async function fireSegmenterTimers(): Promise<void> {
    await segmenterCaughtUp();
    for (let p = 0; p < PARTITIONS; p += 1) await segmenter.processor.fireDue(p);
  }
  async function changesOf(id: string, segment: string): Promise<string[]> {
    const all = await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange');
    return all.filter((c) => c.customer_id === id && c.segment === segment).map((c) => c.change);
  }
  /** The email SES took for this outcome (a customer may also get a cart reminder). */
  const emailOf = async (outcome: EmailOutcome) => waitFor(`the email of ${outcome.trigger_id}`, async () => (await emulatorEmails()).find((e) => e.messageId === outcome.ses_message_id));

  it('enters high_interest on the 4th view of a product within 24 h and leaves when the views age out', async () => {
    const id = customer('viewer');
    await pipeline.produceEvents([...fourViews(id, 'sku-boots').slice(0, 3)]);
    await segmenterCaughtUp();
    expect(await changesOf(id, 'high_interest')).toEqual([]);
    await pipeline.produceEvents([fourViews(id, 'sku-boots')[3]]);
    await waitFor('high_interest entered', async () => (await changesOf(id, 'high_interest')).length === 1);
    expect(await changesOf(id, 'high_interest')).toEqual(['entered']);
    // The first view was 4 minutes before T0: 24 h + 1 ms later only 3 remain.
    const saved = now;
    now = T0 - 4 * MINUTE + DAY;
    await fireSegmenterTimers();
    expect(await changesOf(id, 'high_interest')).toEqual(['entered']);
    now = T0 - 4 * MINUTE + DAY + 1;
    await fireSegmenterTimers();
    expect(await changesOf(id, 'high_interest')).toEqual(['entered', 'exited']);
    now = saved;
  });

  it('enters re_engagement 15 minutes after an add to the cart and leaves on the purchase', async () => {
    const id = customer('cart');
    await pipeline.produceEvents([event(id, 'add_to_cart', now, { product_id: 'sku-boots' })]);
    await fireSegmenterTimers();
    expect(await changesOf(id, 're_engagement')).toEqual([]);
    const saved = now;
    now += 15 * MINUTE;
    await fireSegmenterTimers();
    expect(await changesOf(id, 're_engagement')).toEqual(['entered']);
    await pipeline.produceEvents([event(id, 'purchase', now, { order_id: `o-${run}`, value_cents: 1000, currency: 'EUR' })]);
    await waitFor('re_engagement exited', async () => (await changesOf(id, 're_engagement')).length === 2);
    expect(await changesOf(id, 're_engagement')).toEqual(['entered', 'exited']);
    now = saved;
  });

  it('sends the upsell with the last purchased product and the 30-day block, each branch and fallback', async () => {
    const recent = customer('recent'); // bought the beanie 3 days ago
    const untitled = customer('untitled'); // bought a product the catalogue does not name, 2 days ago
    const lapsed = customer('lapsed'); // bought the beanie 40 days ago
    const fresh = customer('fresh'); // never bought anything
    const ids = [recent, untitled, lapsed, fresh];
    await pipeline.produceProfiles(ids.map((id) => profile(id)));
    await pipeline.produceEvents([
      event(recent, 'purchase', T0 - 3 * DAY, { product_id: 'sku-beanie', order_id: 'o-1', value_cents: 2500, currency: 'EUR' }),
      event(untitled, 'purchase', T0 - 2 * DAY, { product_id: 'sku-mystery', order_id: 'o-2', value_cents: 2500, currency: 'EUR' }),
      // A purchase that names no product: the product last added to the cart is what was bought.
      event(lapsed, 'add_to_cart', T0 - 40 * DAY - MINUTE, { product_id: 'sku-beanie' }),
      event(lapsed, 'purchase', T0 - 40 * DAY, { order_id: 'o-3', value_cents: 2500, currency: 'EUR' }),
    ]);
    await segmenterCaughtUp();
    await waitFor('the renderer to store the profiles', async () => {
      const stored = await Promise.all(ids.map(async (id) => (await renderer.store.customer(partitionOfTest(id), id)).profile));
      return stored.every((p) => p !== null);
    });
    await pipeline.produceEvents(ids.flatMap((id) => fourViews(id, 'sku-boots')));
    const triggers = await waitFor('four high_interest triggers', async () => {
      const all = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => ids.includes(t.customer_id) && t.rule === 'high_interest');
      return all.length === 4 ? all : undefined;
    });
    const outcomes = await waitFor('their outcomes', async () => {
      const all = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => triggers.some((t) => t.trigger_id === o.trigger_id));
      return all.length === 4 ? all : undefined;
    });
    expect(outcomes.map((o) => [o.status, o.campaign])).toEqual(ids.map(() => ['sent', 'upsell']));
    const emailTo = (id: string) => emailOf(outcomes.find((o) => o.customer_id === id) as EmailOutcome);

    const recentMail = await emailTo(recent);
    expect(recentMail.subject).toBe('Dana, still thinking about Trail Boots?');
    expect(recentMail.body.html).toMatch(/<div style="display:none;[^"]*">Exclusive deal for Merino Beanie fans: 10% off the one you keep coming back to\.<\/div>/);
    expect(recentMail.body.text).toContain("Thank you for your recent purchase of Merino Beanie! Here's a special offer just for you.");

    const untitledMail = await emailTo(untitled);
    expect(untitledMail.body.html).toContain('>An exclusive deal for you: 10% off the one you keep coming back to.</div>');
    expect(untitledMail.body.text).toContain("Thank you for your recent purchase! Here's a special offer just for you.");

    const lapsedMail = await emailTo(lapsed);
    expect(lapsedMail.body.html).toContain('>Exclusive deal for Merino Beanie fans: 10% off the one you keep coming back to.</div>');
    expect(lapsedMail.body.text).toContain("We miss you! Come back and see what's new.");
    expect(lapsedMail.body.text).not.toContain('Thank you for your recent purchase');

    const freshMail = await emailTo(fresh);
    expect(freshMail.body.html).toContain('>An exclusive deal for you: 10% off the one you keep coming back to.</div>');
    expect(freshMail.body.text).toContain("We miss you! Come back and see what's new.");
    for (const mail of [recentMail, untitledMail, lapsedMail, freshMail]) {
      expect(`${mail.subject}${mail.body.html}${mail.body.text}`).not.toMatch(/undefined|\{\{|null/);
    }
  });

  it('ends every high_interest trigger of an emailable customer in an email or a cap, cooldown or quiet-hours reason', async () => {
    const prefix = `shop-${run}`;
    const events = shopTraffic({ total: 3000, customers: 120, products: 25, seed: 11, from: T0 - 6 * HOUR, to: T0, run: prefix });
    const customers = [...new Set(events.map((e) => e.customer_id))].sort();
    const zones = ['UTC', 'Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];
    // Every fifth customer has no consent, every seventh no address; some live where it is night.
    const profiles = customers.map((id, i) => profile(id, { consent_email: i % 5 !== 0, email: i % 7 === 0 ? null : email(id), timezone: zones[i % zones.length] }));
    await pipeline.produceProfiles(profiles);
    await waitFor('the renderer to store the profiles', async () => {
      const stored = await Promise.all(customers.map(async (id) => (await renderer.store.customer(partitionOfTest(id), id)).profile));
      return stored.every((p) => p !== null);
    });
    await pipeline.produceEvents(events);
    await waitCaughtUp(`${pipeline.env.GROUP_ID}-trigger`, pipeline.topics.events);
    const triggers = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => t.customer_id.startsWith(prefix) && t.rule === 'high_interest');
    expect(triggers.length).toBeGreaterThan(30);
    const ids = new Set(triggers.map((t) => t.trigger_id));
    const outcomes = await finalOutcomesOf(ids);
    const byTrigger = new Map<string, EmailOutcome[]>();
    for (const outcome of outcomes) byTrigger.set(outcome.trigger_id, [...(byTrigger.get(outcome.trigger_id) ?? []), outcome]);
    const profileOf = new Map(profiles.map((p) => [p.customer_id, p]));
    const counts: Record<string, number> = {};
    for (const t of triggers) {
      const list = byTrigger.get(t.trigger_id) ?? [];
      const p = profileOf.get(t.customer_id) as CustomerProfile;
      const code = (o: EmailOutcome) => `${o.status}:${(o.reason ?? '').split(':')[0]}`;
      for (const o of list) counts[code(o)] = (counts[code(o)] ?? 0) + 1;
      if (!p.consent_email || p.email === null) {
        expect(list.map((o) => o.status)).toEqual(['suppressed']);
        continue;
      }
      // One outcome, or a quiet-hours deferral and nothing more yet (its send waits for morning).
      const [first, ...rest] = list;
      expect(rest).toEqual([]);
      expect({ trigger: t.trigger_id, outcome: code(first) }).toEqual({ trigger: t.trigger_id, outcome: expect.stringMatching(/^(sent:chosen|skipped:cooldown|skipped:frequency_cap|deferred:quiet_hours)$/) });
    }
    expect(counts['sent:chosen']).toBeGreaterThan(0);
    expect(counts['deferred:quiet_hours']).toBeGreaterThan(0);
    process.stdout.write(`pipeline high_interest outcomes (${triggers.length} triggers): ${JSON.stringify(counts)}\n`);
  });

  /** The outcomes of these triggers, once each has one (deferred ones count: their send waits for a timer). */
  async function finalOutcomesOf(ids: Set<string>): Promise<EmailOutcome[]> {
    return waitFor(`outcomes of ${ids.size} triggers`, async () => {
      const all = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => ids.has(o.trigger_id));
      return new Set(all.map((o) => o.trigger_id)).size === ids.size ? all : undefined;
    }, 120_000);
  }

  function partitionOfTest(id: string): number {
    return partitionOf(id, PARTITIONS);
  }
});
