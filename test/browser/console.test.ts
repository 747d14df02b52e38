/**
 * The console in a real browser: Debian's Chromium (headless) driven by playwright-core,
 * against a small synthetic shop day run through the real segmenter, trigger, renderer and
 * results services (started here from dist/ on free ports, with topics and a Redis prefix of
 * their own) and the shared stack (Kafka, registry, Redis, SES emulator).
 *
 * Every page is loaded, its charts drawn by Chart.js, and the figures it shows compared with
 * what the services' APIs (or the topics themselves) answer; one screenshot per page goes to
 * test-results/console/. The walk segment -> customer -> email preview is done by clicking.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { customerProfile, type CustomerProfile, type EmailOutcome, type SegmentChange, type TriggerFired } from '../../services/core/types';
import { experimentVerdict } from '../../services/core/experiments/verdict';
import type { ExperimentReport } from '../../services/core/experiments';
import { syntheticShop } from '../../services/tools/synthetic';
import { formatP } from '../../services/console/render';
import { TEST_LINK_SECRET } from '../support/link-keys';
import { createTestPipeline, type TestPipeline } from '../support/pipeline';
import { collect, exited, freePort, noonZone, ROOT, spawnNode, waitCaughtUp, waitFor, withAdmin } from '../support/stack';

jest.setTimeout(240_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results', 'console');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SERVICES = ['segmenter', 'trigger', 'renderer', 'results'] as const;
type Service = (typeof SERVICES)[number];
const HOSTILE_ID = 'c-hostile';
const HOSTILE_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';


async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const countBy = <T>(items: readonly T[], key: (item: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
};

describe('the console in headless Chromium, against a synthetic day through the real services', () => {
  let pipeline: TestPipeline;
  const children: Array<{ name: string; child: ChildProcess; logs: () => string }> = [];
  const ports = {} as Record<Service | 'console', number>;
  const url = (service: Service | 'console', path: string) => `http://127.0.0.1:${ports[service]}${path}`;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let triggers: TriggerFired[] = [];
  let outcomes: EmailOutcome[] = [];
  const groups = {} as Record<Service, string>;

  function start(name: string, script: string, env: Record<string, string>): void {
    const child = spawnNode(script, [], { ...pipeline.env, LOG_LEVEL: 'warn', ...env });
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    children.push({ name, child, logs: () => `${out.text().slice(-1500)}${err.text().slice(-1500)}` });
  }

  function running(): true {
    for (const { name, child, logs } of children) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the ${name} exited (${child.exitCode ?? child.signalCode}): ${logs()}`);
    }
    return true;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pipeline = await createTestPipeline('console', 3);
    for (const name of [...SERVICES, 'console'] as const) ports[name] = await freePort();
    for (const service of SERVICES) groups[service] = `${pipeline.env.GROUP_ID}-${service}`;

    // A small day; every customer lives where it is about noon, so no quiet hours defer a send.
    const now = Date.now() - 30 * 60_000;
    const shop = syntheticShop({ customers: 60, events: 2500, now, seed: 15 });
    const zone = noonZone(Date.now());
    const profiles: CustomerProfile[] = shop.profiles.map((p) => ({ ...p, timezone: zone }));
    profiles.push(customerProfile({ customer_id: HOSTILE_ID, email: 'hostile@example.com', first_name: HOSTILE_NAME, last_name: '"><svg onload=alert(1)>', consent_email: true, timezone: zone, locale: 'en-US', updated_at: now }));
    await pipeline.produceProfiles(profiles);
    await pipeline.produceEvents(shop.events);

    // The shipped campaigns, with an A/B test of the standard message's subject and a 20% holdout.
    const campaigns = parseYaml(readFileSync(join(ROOT, 'config', 'campaigns.yaml'), 'utf8')) as { campaigns: Array<Record<string, unknown>> };
    const standard = campaigns.campaigns.find((c) => c.name === 'standard_message') as Record<string, unknown>;
    standard.experiment = {
      name: 'subject_ab',
      holdout: '20%',
      variables: { subject: [{ name: 'plain', value: 'Picked for you' }, { name: 'question', value: 'Still thinking it over?' }] },
    };
    const campaignsFile = join(mkdtempSync(join(tmpdir(), 'kairos-console-')), 'campaigns.yaml');
    writeFileSync(campaignsFile, stringifyYaml(campaigns));
    const base = { CAMPAIGNS_FILE: campaignsFile, SES_ENDPOINT: 'http://127.0.0.1:8005', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
    start('segmenter', 'services/segmenter/main.js', { GROUP_ID: groups.segmenter, HTTP_PORT: String(ports.segmenter) });
    start('trigger', 'services/trigger/main.js', { GROUP_ID: groups.trigger, HTTP_PORT: String(ports.trigger), TIMER_INTERVAL_MS: '200' });
    start('renderer', 'services/renderer/main.js', {
      ...base, GROUP_ID: groups.renderer, HTTP_PORT: String(ports.renderer), LINK_SIGNING_SECRET: TEST_LINK_SECRET, RECOMMENDATIONS_SOURCE: 'static', SES_MAX_SEND_RATE: '200',
    });
    start('results', 'services/results/main.js', { CAMPAIGNS_FILE: campaignsFile, GROUP_ID: groups.results, HTTP_PORT: String(ports.results) });

    await waitFor('the segmenter to read the day', async () => running() && (await waitCaughtUp(groups.segmenter, pipeline.topics.events, 1000).then(() => true, () => false)), 120_000);
    await waitFor('the trigger service to read the day', async () => running() && (await waitCaughtUp(groups.trigger, pipeline.topics.events, 1000).then(() => true, () => false)), 120_000);
    // Cart timers fire once the trigger service is caught up: wait until the triggers stop growing.
    let last = -1;
    await waitFor('the triggers to settle', async () => {
      running();
      const now = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).length;
      const settled = now === last && now > 0;
      last = now;
      if (!settled) await new Promise((r) => setTimeout(r, 1000));
      return settled;
    }, 60_000);
    await waitFor('the renderer to answer every trigger', async () => running() && (await waitCaughtUp(groups.renderer, pipeline.topics.triggers, 1000).then(() => true, () => false)), 120_000);
    triggers = await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired');
    await waitFor('an outcome for every trigger', async () => {
      running();
      outcomes = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
      return new Set(outcomes.map((o) => o.trigger_id)).size >= new Set(triggers.map((t) => t.trigger_id)).size;
    }, 120_000);
    await waitFor('the results service to count every outcome', async () => running() && (await waitCaughtUp(groups.results, pipeline.topics.outcomes, 1000).then(() => true, () => false)), 120_000);

    start('console', 'services/console/main.js', {
      HTTP_PORT: String(ports.console),
      SEGMENTER_URL: url('segmenter', ''), TRIGGER_URL: url('trigger', ''), RENDERER_URL: url('renderer', ''), RESULTS_URL: url('results', ''),
      // Not started here: a port nothing listens on (not the shared stack's 8094 / 8095).
      TRACKER_URL: `http://127.0.0.1:${await freePort()}`, RECOMMENDER_URL: `http://127.0.0.1:${await freePort()}`,
      CONSOLE_CONSUMER_GROUPS: SERVICES.map((s) => `${s}=${groups[s]}`).join(','),
      CONSOLE_SAMPLE_INTERVAL: '1s',
      CONSOLE_LOOKBACK: '48h',
    });
    await waitFor('the console to have read the topics', async () => running() && (await fetch(url('console', '/readyz'))).status === 200, 60_000);

    userDataDir = mkdtempSync(join(tmpdir(), 'kairos-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
  }, 230_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
    for (const { child } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    for (const { child } of children) await exited(child);
    await pipeline?.close();
  });

  /** Loads `path`, waits until every chart is drawn, and fails on a page error. */
  async function load(path: string): Promise<void> {
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on('pageerror', onError);
    try {
      const response = await page.goto(url('console', path));
      expect(response?.status()).toBe(200);
      await page.waitForSelector('html[data-charts-drawn="true"]');
      expect(await page.locator('canvas[data-drawn="failed"]').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      page.off('pageerror', onError);
    }
  }

  const texts = (selector: string) => page.locator(selector).allTextContents();
  const number = (text: string) => Number(text.replace(/,/g, ''));
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it('overview: triggers per rule, emails per outcome, DLQs and lag as the topics and the broker have them', async () => {
    expect(triggers.length).toBeGreaterThan(0);
    const rules = countBy(triggers, (t) => t.rule);
    const statuses = countBy(outcomes, (o) => o.status);
    // The console samples every second: wait for a sample taken after the services caught up (lag 0).
    await waitFor('the console to show every service caught up', async () => {
      await load('/');
      const lags = await texts('[data-figure="lag"]');
      return lags.length === SERVICES.length && lags.every((l) => l === '0');
    }, 30_000);
    const shown = async (figure: string, attribute: string) => {
      const out: Record<string, number> = {};
      for (const cell of await page.locator(`[data-figure="${figure}"]`).all()) out[(await cell.getAttribute(attribute)) as string] = number((await cell.textContent()) ?? '');
      return out;
    };
    expect(await shown('triggers', 'data-rule')).toEqual(rules);
    expect(await shown('outcomes', 'data-status')).toEqual(statuses);
    expect(number((await texts('[data-figure="triggers-total"]'))[0] as string)).toBe(triggers.length);
    const published = await withAdmin(async (admin) => (await admin.fetchTopicOffsets(pipeline.topics.events)).reduce((sum, p) => sum + Number(p.high), 0));
    expect(number((await texts('[data-figure="events-total"]'))[0] as string)).toBe(published);
    const dlqs = await shown('dlq', 'data-topic');
    const expected = await withAdmin(async (admin) => {
      const out: Record<string, number> = {};
      for (const topic of [pipeline.topics.events, pipeline.topics.profiles, pipeline.topics.triggers].map((t) => `${t}.dlq`)) {
        out[topic] = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      }
      return out;
    });
    for (const [topic, records] of Object.entries(expected)) expect(dlqs[topic]).toBe(records);
    // Readiness as each service's /readyz says (the tracker and recommender are not started here).
    for (const service of SERVICES) {
      const ready = await fetch(url(service, '/readyz'));
      expect([service, (await page.locator(`[data-figure="readiness"][data-service="${service}"]`).innerText()).startsWith('ready')]).toEqual([service, ready.status === 200]);
    }
    const paused = await getJson<{ paused: unknown[] }>(url('renderer', '/campaigns/paused'));
    expect(paused.paused).toEqual([]);
    expect(await page.locator('[data-figure="paused-none"]').count()).toBe(1);
    expect(await page.locator('canvas[data-drawn="true"]').count()).toBe(4);
    await shot('overview');
  });

  it('segments: sizes as the segmenter answers, and a segment page with its members', async () => {
    await load('/segments');
    const api = await getJson<{ segments: Array<{ name: string; size: number }> }>(url('segmenter', '/segments'));
    const shown: Record<string, number> = {};
    for (const cell of await page.locator('[data-figure="segment-size"]').all()) shown[(await cell.getAttribute('data-segment')) as string] = number((await cell.textContent()) ?? '');
    expect(shown).toEqual(Object.fromEntries(api.segments.map((s) => [s.name, s.size])));
    await shot('segments');
  });

  it('campaigns and an experiment: figures, p-values and the verdict as the results API has them', async () => {
    await load('/campaigns');
    const list = await getJson<{ campaigns: Array<{ campaign: string; totals: { sent: number }; experiments: Array<{ id: string; sent: number }> }> }>(url('results', '/results/campaigns'));
    for (const c of list.campaigns) {
      expect(number(await page.locator(`[data-figure="campaign-sent"][data-campaign="${c.campaign}"]`).innerText())).toBe(c.totals.sent);
    }
    await shot('campaigns');

    // The campaign whose experiment has the most sends.
    const best = list.campaigns.flatMap((c) => c.experiments.filter((e) => e.id !== '-').map((e) => ({ campaign: c.campaign, ...e }))).sort((a, b) => b.sent - a.sent)[0];
    expect(best).toBeDefined();
    expect(best!.sent).toBeGreaterThan(0);
    await page.click(`a[data-campaign-link="${best!.campaign}"]`);
    await page.waitForSelector('html[data-charts-drawn="true"]');
    const detail = await getJson<{ experiments: Array<{ id: string; report: ExperimentReport }> }>(url('results', `/results/campaigns/${encodeURIComponent(best!.campaign)}`));
    for (const experiment of detail.experiments) {
      const section = page.locator(`section[data-experiment="${experiment.id}"]`);
      expect(await section.locator('[data-figure="verdict"]').innerText()).toBe(experimentVerdict(experiment.report).headline);
      for (const arm of experiment.report.arms) {
        const row = section.locator(`table.arms tr[data-arm="${arm.name}"]`);
        expect(number(await row.locator('[data-figure="sent"]').innerText())).toBe(arm.counters.sent);
        expect(number(await row.locator('[data-figure="opened"]').innerText())).toBe(arm.counters.opened);
        expect(number(await row.locator('[data-figure="clicked"]').innerText())).toBe(arm.counters.clicked);
        expect(number(await row.locator('[data-figure="converted"]').innerText())).toBe(arm.counters.converted);
      }
      for (const comparison of experiment.report.comparisons) {
        const row = section.locator(`table.comparisons tr[data-metric="${comparison.metric}"][data-arm="${comparison.arm}"]`);
        expect(await row.locator('[data-figure="p"]').innerText()).toBe(formatP(comparison.p));
        expect(await row.locator('[data-figure="adjustedP"]').innerText()).toBe(formatP(comparison.adjustedP));
      }
    }
    expect(await page.locator('section[data-experiment] canvas[data-drawn="true"]').count()).toBe(2 * detail.experiments.length);
    await shot('experiment');
  });

  it('click-through: a segment, one of its customers, and a preview of an email sent to them', async () => {
    // A customer with a sent email, in some segment.
    const sent = outcomes.filter((o) => o.status === 'sent' && o.campaign !== null);
    expect(sent.length).toBeGreaterThan(0);
    let target: { customer: string; segment: string } | undefined;
    for (const outcome of sent) {
      const { segments } = await getJson<{ segments: string[] }>(url('segmenter', `/customers/${encodeURIComponent(outcome.customer_id)}/segments`));
      if (segments.length > 0) {
        target = { customer: outcome.customer_id, segment: segments[0] as string };
        break;
      }
    }
    expect(target).toBeDefined();
    const { customer, segment } = target!;

    await load('/segments');
    await page.click(`a[data-segment-link="${segment}"]`);
    await page.waitForSelector('html[data-charts-drawn="true"]');
    const api = await getJson<{ size: number }>(url('segmenter', `/segments/${encodeURIComponent(segment)}`));
    expect(number(await page.locator('[data-figure="segment-size"]').innerText())).toBe(api.size);
    // Entries and exits of the current UTC day, as segment.changes has them.
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const changes = (await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange')).filter((c) => c.segment === segment && c.at >= day);
    expect(number(await page.locator('[data-figure="entered-today"]').innerText())).toBe(changes.filter((c) => c.change === 'entered').length);
    expect(number(await page.locator('[data-figure="exited-today"]').innerText())).toBe(changes.filter((c) => c.change === 'exited').length);
    const members = await getJson<{ members: string[] }>(url('segmenter', `/segments/${encodeURIComponent(segment)}/members?limit=100`));
    expect((await page.locator('[data-member]').allTextContents()).sort()).toEqual([...members.members].sort());
    await shot('segment');

    // Follow the member links page by page until the customer shows up.
    for (let pages = 0; (await page.locator(`a[data-member="${customer}"]`).count()) === 0; pages += 1) {
      expect(pages).toBeLessThan(20);
      await page.click('a[rel="next"]');
      await page.waitForSelector('html[data-charts-drawn="true"]');
    }
    await page.click(`a[data-member="${customer}"]`);
    await page.waitForSelector('[data-figure="customer-id"]');
    expect(await page.locator('[data-figure="customer-id"]').innerText()).toBe(customer);
    const current = await getJson<{ segments: string[] }>(url('segmenter', `/customers/${encodeURIComponent(customer)}/segments`));
    expect((await page.locator('[data-figure="customer-segments"] li').allTextContents()).sort()).toEqual([...current.segments].sort());
    const mine = outcomes.filter((o) => o.customer_id === customer);
    expect(await page.locator('table.emails tr[data-trigger]').count()).toBe(mine.length);
    // Every email carries a visible unsubscribe link at its foot: the frame has loaded.
    await page.frameLocator('iframe.email').locator('a').last().waitFor();
    await shot('customer');

    const row = page.locator('table.emails tr[data-status="sent"]').first();
    const trigger = (await row.getAttribute('data-trigger')) as string;
    const outcome = mine.find((o) => o.trigger_id === trigger) as EmailOutcome;
    await row.locator('a[data-email-preview]').click();
    await page.waitForSelector('[data-figure="subject"]');
    const href = new URL(page.url());
    expect(href.pathname).toBe('/preview');
    expect(href.searchParams.get('campaign')).toBe(outcome.campaign);
    const params = new URLSearchParams(href.searchParams);
    params.set('format', 'json');
    const preview = await getJson<{ subject: string; preheader: string; text: string }>(url('renderer', `/preview?${params.toString()}`));
    expect(await page.locator('[data-figure="subject"]').innerText()).toBe(preview.subject);
    expect(await page.locator('[data-figure="preheader"]').innerText()).toBe(preview.preheader);
    // Each preview signs its links with a fresh throw-away key and nonce: compare the rest.
    const unsigned = (text: string) => text.replace(/\/[cup]\/v2\.preview\.[A-Za-z0-9._-]+/g, '/<signed link>').trim();
    expect(unsigned(await page.locator('[data-figure="text"]').innerText())).toBe(unsigned(preview.text));
    // The HTML part, framed (sandboxed) from the console: the same greeting as the text part.
    const greeting = preview.text.split('\n').find((line) => line.startsWith('Hi ')) as string;
    await page.frameLocator('iframe[data-figure="html"]').getByText(greeting.trim()).first().waitFor();
    await shot('preview');
  });

  it('shows customer data as text: markup in a profile never runs', async () => {
    await load(`/customers/${HOSTILE_ID}`);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('dl.profile').innerText()).toContain(HOSTILE_NAME);
    expect(await page.locator('main script:not([type="application/json"])').count()).toBe(0);
  });

  it('refuses to listen beyond loopback without a credential, and asks for it when one is set', async () => {
    const exposed = spawnNode('services/console/main.js', [], { HTTP_HOST: '0.0.0.0', HTTP_PORT: '0' });
    const said = collect(exposed.stderr);
    expect((await exited(exposed)).code).toBe(78);
    expect(said.text()).toContain('HTTP_AUTH_TOKEN');

    const token = 'console-browser-test-token-0123456789abcdef';
    const port = await freePort();
    const second = spawnNode('services/console/main.js', [], {
      ...pipeline.env, HTTP_PORT: String(port), HTTP_AUTH_TOKEN: token, CONSOLE_USER: 'ops',
      SEGMENTER_URL: url('segmenter', ''), RENDERER_URL: url('renderer', ''), RESULTS_URL: url('results', ''),
    });
    const secondLogs = collect(second.stderr);
    const guarded = `http://127.0.0.1:${port}`;
    try {
      await waitFor('the guarded console', async () => {
        if (second.exitCode !== null) throw new Error(`the second console exited (${second.exitCode}): ${secondLogs.text()}`);
        return (await fetch(`${guarded}/healthz`)).status === 200;
      }, 60_000);
      const without = await fetch(`${guarded}/segments`);
      expect(without.status).toBe(401);
      expect(without.headers.get('www-authenticate')).toMatch(/^Basic realm="Kairos console"/);
      const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
      expect((await fetch(`${guarded}/segments`, { headers: basic('ops', 'wrong') })).status).toBe(401);
      expect((await fetch(`${guarded}/segments`, { headers: basic('ops', token) })).status).toBe(200);
      expect((await fetch(`${guarded}/segments`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      // The browser, given the user and password, answers the Basic challenge; the page's
      // script and Chart.js load with the same credential and draw its chart.
      const tab = await context.newPage();
      try {
        expect((await tab.goto(`http://ops:${token}@127.0.0.1:${port}/segments`))?.status()).toBe(200);
        await tab.waitForSelector('html[data-charts-drawn="true"]');
        expect(await tab.locator('canvas[data-drawn="true"]').count()).toBe(1);
      } finally {
        await tab.close();
      }
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
  });

  it('answers bad parameters with a 4xx naming them', async () => {
    const cases: Array<[string, number, string]> = [
      ['/customers/%01x', 400, 'customer_id'],
      [`/customers/${'x'.repeat(300)}`, 400, 'customer_id'],
      ['/segments/no_such_segment', 404, 'unknown segment'],
      ['/segments/engaged?cursor=%3Cscript%3E', 400, 'cursor'],
      ['/campaigns/no_such_campaign', 404, 'unknown campaign'],
      ['/preview?campaign=upsell', 400, 'customer'],
      ['/?limit=5', 400, 'limit'],
    ];
    for (const [path, status, words] of cases) {
      const response = await fetch(url('console', path));
      expect([path, response.status]).toEqual([path, status]);
      expect(await response.text()).toContain(words);
    }
    expect((await fetch(url('console', '/'), { method: 'POST' })).status).toBe(405);
  });
});
