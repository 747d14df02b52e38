import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { experimentOf, parseCampaigns, type ExperimentDesign } from '../../../services/core/campaigns';
import { emptyCounters, type ArmCounters } from '../../../services/core/experiments/model';
import { behaviorEvent, type BehaviorEvent, type EmailOutcome } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { loadConfig } from '../../../services/kit/config';
import { DLQ_HEADERS } from '../../../services/kit/dlq';
import type { RunningService } from '../../../services/kit/partition-service';
import { createRedis } from '../../../services/kit/redis';
import { resultsShape, startResults } from '../../../services/results/main';
import type { CampaignResults } from '../../../services/results/figures';
import { ResultsStore } from '../../../services/results/store';
import { resultsCli } from '../../../services/tools/results';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { collect, connectedProducer, createTopics, exited, readMessages, REDIS_URL, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';

const MIN = 60_000;
const HOUR = 60 * MIN;
// Four days ago: every event time (the latest is 80 h after T) is in the past for MAX_CLOCK_SKEW.
const T = Math.floor((Date.now() - 4 * 24 * HOUR) / 1000) * 1000;
const CAMPAIGN = 'standard_message';
const CAMPAIGNS_YAML = `campaigns:
  - name: ${CAMPAIGN}
    rules: [high_interest]
    priority: 10
    template: standard_message
    experiment:
      name: subject_test
      holdout: 20%
      variables:
        subject:
          - { name: plain, weight: 1, value: "Still in stock" }
          - { name: question, weight: 1, value: "Still thinking about it?" }
`;

describe('the results service against the real stack', () => {
  let pipeline: TestPipeline;
  let service: RunningService;
  let producer: Producer;
  let design: ExperimentDesign;
  let campaignsFile: string;
  const redis = createRedis({ REDIS_URL });
  const config = () => loadConfig(resultsShape, { ...pipeline.env, CAMPAIGNS_FILE: campaignsFile });
  const start = async () => {
    service = await startResults(config(), { logger: silentLogger });
    await waitFor('the results service to join its group', () => service.runner.isReady());
  };

  beforeAll(async () => {
    campaignsFile = join(mkdtempSync(join(tmpdir(), 'kairos-results-')), 'campaigns.yaml');
    writeFileSync(campaignsFile, CAMPAIGNS_YAML);
    design = experimentOf(parseCampaigns(campaignsFile, CAMPAIGNS_YAML)[0]!)!;
    pipeline = await createTestPipeline('results', 3);
    await createTopics([`${pipeline.topics.outcomes}.dlq`], 3);
    producer = await connectedProducer();
    await start();
  });
  afterAll(async () => {
    await service?.stop();
    await producer?.disconnect();
    await pipeline?.close();
    redis.disconnect();
  });

  async function produceOutcomes(outcomes: EmailOutcome[]): Promise<void> {
    const id = await pipeline.codec.register(valueSubject(pipeline.topics.outcomes), readSchema('EmailOutcome'));
    const type = recordTypes().EmailOutcome;
    await producer.send({ topic: pipeline.topics.outcomes, messages: outcomes.map((o) => ({ key: o.customer_id, value: pipeline.codec.encode(id, type, o) })) });
  }
  const outcome = (customer: string, trigger: string, arm: string | null, segments: string[] = []): EmailOutcome => ({
    trigger_id: trigger, customer_id: customer, campaign: CAMPAIGN, variant: arm, status: arm === null ? 'skipped' : 'sent',
    ses_message_id: arm === null ? null : `ses-${trigger}`, reason: arm === null ? `holdout: ${design.id}` : null, at: T,
    experiment: design.id, holdout: arm === null, variables: arm === null ? {} : { subject: arm }, segments, rule: 'high_interest',
  });
  let n = 0;
  const event = (customer: string, type: string, at: number, extra: Partial<BehaviorEvent> = {}): BehaviorEvent =>
    behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: at, ...extra });
  const purchase = (customer: string, at: number, cents: number) => event(customer, 'purchase', at, { value_cents: cents, currency: 'EUR' });
  const hit = (customer: string, type: string, trigger: string, at: number, properties: Record<string, string> = {}) =>
    event(customer, type, at, { message_id: trigger, campaign_id: CAMPAIGN, properties });

  const of = (fields: Partial<ArmCounters>): ArmCounters => ({ ...emptyCounters(), ...fields });
  const EXPECTED: Record<string, ArmCounters> = {
    plain: of({
      sent: 2, delivered: 1, opened: 1, clicked: 1, unsubscribed: 1, converted: 2, conversions: 2, revenue: 9000, revenueSq: 5000 ** 2 + 4000 ** 2,
      clickConverted: 1, clickConversions: 1, clickRevenue: 5000,
    }),
    question: of({ sent: 2, opened: 1, converted: 1, conversions: 2, revenue: 1500, revenueSq: 1500 ** 2 }),
    holdout: of({ sent: 1, converted: 1, conversions: 1, revenue: 2000, revenueSq: 2000 ** 2 }),
  };

  async function results(query = ''): Promise<CampaignResults> {
    const response = await fetch(`http://127.0.0.1:${service.http.port}/results/campaigns/${CAMPAIGN}${query}`);
    return (await response.json()) as CampaignResults;
  }
  const armCounters = (body: CampaignResults) =>
    Object.fromEntries(body.experiments.find((e) => e.id === design.id)!.report.arms.map((a) => [a.name, a.counters]));
  /** Waits until the API shows the expected counters, then returns the body. */
  async function expectFigures(): Promise<CampaignResults> {
    const body = await waitFor('the expected counters in the API', async () => {
      const current = await results();
      return JSON.stringify(armCounters(current)) === JSON.stringify(EXPECTED) ? current : undefined;
    }, 60_000).catch(async (error: Error) => {
      expect(armCounters(await results())).toEqual(EXPECTED); // shows the difference
      throw error;
    });
    return body;
  }

  let first: CampaignResults;
  let alicePurchase: BehaviorEvent;

  it('attributes purchases to the right sends, whichever topic comes first, and dead-letters a bad outcome', async () => {
    // Events first: purchases read before their sends are attributed once the sends arrive.
    await pipeline.produceEvents([
      hit('alice', 'email_open', 't-alice', T + MIN),
      hit('alice', 'email_click', 't-alice', T + 2 * MIN),
      (alicePurchase = purchase('alice', T + HOUR, 5000)),
      hit('bob', 'email_open', 't-bob', T + MIN, { suspect: 'scanner_ua' }), // a machine's: not an open
      purchase('bob', T + 80 * HOUR, 3000), // after the 72 h window: nobody's
      purchase('carol', T + 2 * HOUR, 2000),
      hit('dave', 'email_delivered', `ses-t-dave`, T + MIN, { source: 'ses', trigger_id: 't-dave' }),
      hit('dave', 'unsubscribe', 't-dave', T + 3 * MIN),
      hit('erin', 'email_open', 't-erin', T + 5 * MIN),
      purchase('erin', T + 30 * MIN, 1000),
      purchase('erin', T + 40 * MIN, 500),
    ]);
    const davePurchase = purchase('dave', T + HOUR, 4000);
    await pipeline.produceEvents([davePurchase, davePurchase]); // a duplicate by event_id counts once
    await produceOutcomes([
      outcome('alice', 't-alice', 'plain', ['engaged']),
      outcome('bob', 't-bob', 'question'),
      outcome('carol', 'h-carol', null, ['engaged']),
      outcome('dave', 't-dave', 'plain'),
      outcome('erin', 't-erin', 'question'),
      { ...outcome('frank', '', 'plain') }, // impossible: no trigger_id
    ]);
    first = await expectFigures();
    const experiment = first.experiments.find((e) => e.id === design.id)!;
    expect(experiment).toMatchObject({ in_config: true, holdout_share: 0.2, segment: '*' });
    expect(experiment.report.srm.checked).toBe(true);
    expect(experiment.report.srm.arms.map((a) => [a.name, a.expectedShare])).toEqual([['plain', 0.4], ['question', 0.4], ['holdout', 0.2]]);
    expect(experiment.by_segment).toEqual([
      {
        segment: 'engaged',
        arms: [
          expect.objectContaining({ name: 'plain', counters: of({ sent: 1, opened: 1, clicked: 1, converted: 1, conversions: 1, revenue: 5000, revenueSq: 5000 ** 2, clickConverted: 1, clickConversions: 1, clickRevenue: 5000 }) }),
          expect.objectContaining({ name: 'question', counters: emptyCounters() }),
          expect.objectContaining({ name: 'holdout', counters: of({ sent: 1, converted: 1, conversions: 1, revenue: 2000, revenueSq: 2000 ** 2 }) }),
        ],
      },
    ]);
    const engaged = await results('?segment=engaged');
    expect(engaged.experiments[0]!.report.arms.map((a) => a.counters.sent)).toEqual([1, 0, 1]);

    const [dead] = await readMessages(`${pipeline.topics.outcomes}.dlq`, 1);
    expect(String(dead!.headers![DLQ_HEADERS.reason])).toBe('invalid');

    const list = (await (await fetch(`http://127.0.0.1:${service.http.port}/results/campaigns`)).json()) as { campaigns: Array<{ campaign: string; totals: ArmCounters }> };
    expect(list.campaigns.find((c) => c.campaign === CAMPAIGN)?.totals.sent).toBe(5);
    const unknown = await fetch(`http://127.0.0.1:${service.http.port}/results/campaigns/nope`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toBe(`unknown campaign "nope"; known: ${CAMPAIGN}`);
  });

  it('keeps the figures across a restart, and a replayed duplicate changes nothing', async () => {
    await service.stop();
    await start();
    expect(armCounters(await results())).toEqual(EXPECTED);
    await pipeline.produceEvents([alicePurchase]);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    expect(armCounters(await results())).toEqual(EXPECTED);
  });

  it('rebuilds the same figures from the topics with the documented command (state reset), keys wiped and group rewound', async () => {
    await service.stop();
    const child = spawnNode('services/tools/state.js', ['reset', '--service', 'results', '--partitions', 'all', '--group', pipeline.env.GROUP_ID], pipeline.env);
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(err.text()).toBe('');
    expect(out.text()).toMatch(/Reset results partitions 0,1,2: [1-9]\d* keys deleted/);
    expect(await redis.exists(new ResultsStore(redis, pipeline.prefix, () => 3).keys.hash(0, 'campaigns'))).toBe(0);
    await start();
    const rebuilt = await expectFigures();
    expect(rebuilt).toEqual(first);
  });

  it('refuses to start on topics that are not co-partitioned', async () => {
    const outcomes = `${pipeline.topics.outcomes}.two`;
    await createTopics([outcomes], 2);
    await expect(startResults(loadConfig(resultsShape, { ...pipeline.env, CAMPAIGNS_FILE: campaignsFile, TOPIC_EMAIL_OUTCOMES: outcomes }), { logger: silentLogger })).rejects.toThrow(
      /TOPIC_EMAIL_OUTCOMES.*has 2 partitions and .*behavior\.events has 3/s,
    );
  });

  it('the CLI prints the same figures, from Redis and from the API, and names an unknown campaign', async () => {
    const env = { ...process.env, ...pipeline.env, CAMPAIGNS_FILE: campaignsFile };
    const json = JSON.parse(await resultsCli(['--campaign', CAMPAIGN, '--json'], env)) as CampaignResults;
    expect(json).toEqual({ attribution_window_ms: 72 * HOUR, ...first });
    const viaApi = JSON.parse(await resultsCli(['--campaign', CAMPAIGN, '--json', '--url', `http://127.0.0.1:${service.http.port}`], env)) as CampaignResults;
    expect(viaApi).toEqual(json);
    const text = await resultsCli(['--campaign', CAMPAIGN], env);
    expect(text).toContain(`== Experiment ${design.id} (subject_test), holdout 20.0%`);
    expect(text).toMatch(/^plain\s+2\s+1\s+50\.0% \[/m);
    expect(text).toMatch(/^holdout\s+1\s+0\s/m);
    expect(text).toContain('-- segment engaged');
    await expect(resultsCli(['--campaign', 'nope'], env)).rejects.toThrow(`unknown campaign "nope"; known: ${CAMPAIGN}`);
    await expect(resultsCli(['--campaign', CAMPAIGN, '--segment', 'vip'], env)).rejects.toThrow('counted no send in segment "vip"; segments with sends: engaged');
  });
});
