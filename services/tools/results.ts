/**
 * The experiment results as readable tables (or JSON), for marketers and operators:
 *
 *   npm run results                                   # every campaign with its experiments and totals
 *   npm run results -- --campaign upsell [--experiment ID] [--segment S] [--json]
 *   npm run results -- --campaign upsell --url http://127.0.0.1:8096   # ask a running results service
 *
 * Without --url it reads the counters from Redis itself, through the same store code as the API
 * (so it works while the service is stopped); the partition count comes from Kafka's metadata of
 * TOPIC_EMAIL_OUTCOMES. With --url it asks the API, with HTTP_AUTH_TOKEN as bearer when set.
 */
import { parseArgs } from 'node:util';
import { commonShape, loadConfig, runMain, stringVar, durationVar } from '../kit/config';
import { createKafka, withAdmin } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { createRedis } from '../kit/redis';
import type { ArmRates, Comparison, Estimate, ExperimentReport } from '../core/experiments/model';
import { campaignResults, campaignSummary, knownCampaigns, loadDesigns, requireCampaign, ResultsQueryError, type ArmFigures, type CampaignResults, type CampaignSummary } from '../results/figures';
import { ResultsStore } from '../results/store';

const shape = {
  ...commonShape,
  CAMPAIGNS_FILE: stringVar().default('config/campaigns.yaml'),
  ATTRIBUTION_WINDOW: durationVar().default(72 * 3600 * 1000),
  HTTP_AUTH_TOKEN: stringVar().optional(),
};

const USAGE = 'usage: results [--campaign NAME [--experiment ID] [--segment NAME]] [--json] [--url http://host:port]';

/** A mistake on the command line or a query the data cannot answer: printed as is, exit 2. */
export class ResultsCliError extends Error {}

type Body = { attribution_window_ms: number } & ({ campaigns: CampaignSummary[] } | CampaignResults);

/** Runs the command and returns what it prints. */
export async function resultsCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { campaign: { type: 'string' }, experiment: { type: 'string' }, segment: { type: 'string' }, json: { type: 'boolean' }, url: { type: 'string' } } });
  } catch (error) {
    throw new ResultsCliError(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new ResultsCliError(`unexpected ${JSON.stringify(positionals[0])}\n${USAGE}`);
  if (values.campaign === undefined && (values.experiment !== undefined || values.segment !== undefined)) {
    throw new ResultsCliError(`--experiment and --segment need --campaign\n${USAGE}`);
  }
  const config = loadConfig(shape, env);
  const body = values.url !== undefined ? await fromApi(values.url, values, config.HTTP_AUTH_TOKEN) : await fromRedis(config, values);
  if (values.json) return `${JSON.stringify(body, null, 2)}\n`;
  return 'campaigns' in body ? formatSummaries(body.campaigns, body.attribution_window_ms) : formatCampaign(body, body.attribution_window_ms);
}

async function fromRedis(config: ReturnType<typeof loadConfig<typeof shape>>, query: { campaign?: string; experiment?: string; segment?: string }): Promise<Body> {
  const designs = loadDesigns(config.CAMPAIGNS_FILE);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kairos-results-cli', logger: createLogger({ service: 'results-cli', level: 'warn' }) });
  const partitions = await withAdmin(kafka, async (admin) => (await admin.fetchTopicMetadata({ topics: [config.TOPIC_EMAIL_OUTCOMES] })).topics[0]?.partitions.length ?? 0);
  const redis = createRedis(config, { connectionName: 'kairos-results-cli' });
  try {
    const store = new ResultsStore(redis, config.REDIS_KEY_PREFIX, () => partitions);
    const known = knownCampaigns(await store.campaigns(), designs);
    if (query.campaign === undefined) {
      return { attribution_window_ms: config.ATTRIBUTION_WINDOW, campaigns: await Promise.all(known.map(async (c) => campaignSummary(c, await store.cells(c), designs))) };
    }
    try {
      requireCampaign(query.campaign, known);
      return { attribution_window_ms: config.ATTRIBUTION_WINDOW, ...campaignResults(query.campaign, await store.cells(query.campaign), designs, { experiment: query.experiment, segment: query.segment }) };
    } catch (error) {
      if (error instanceof ResultsQueryError) throw new ResultsCliError(error.message);
      throw error;
    }
  } finally {
    redis.disconnect();
  }
}

async function fromApi(base: string, query: { campaign?: string; experiment?: string; segment?: string }, token: string | undefined): Promise<Body> {
  let url: URL;
  try {
    url = new URL(query.campaign === undefined ? '/results/campaigns' : `/results/campaigns/${encodeURIComponent(query.campaign)}`, base);
  } catch {
    throw new ResultsCliError(`--url: ${JSON.stringify(base)} is not a URL; expected like http://127.0.0.1:8096`);
  }
  if (query.experiment !== undefined) url.searchParams.set('experiment', query.experiment);
  if (query.segment !== undefined) url.searchParams.set('segment', query.segment);
  const response = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as Body & { error?: string };
  if (!response.ok) throw new ResultsCliError(`${url.origin}: HTTP ${response.status}: ${body.error ?? 'no error message'}`);
  return body;
}

// ---------------------------------------------------------------------------------------------
// Tables

/** Columns before `firstRight` are names (left-aligned), the others figures (right-aligned). */
function table(header: string[], rows: string[][], firstRight = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < firstRight ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const rate = (e: Estimate) => (e.value === null ? '-' : `${pct(e.value)} [${pct(e.low)}, ${pct(e.high)}]`);
const money = (cents: number | null) => (cents === null ? '-' : (cents / 100).toFixed(2));
const moneyEstimate = (e: Estimate) => (e.value === null ? '-' : `${money(e.value)} [${money(e.low)}, ${money(e.high)}]`);
const p = (x: number | null) => (x === null ? '-' : x < 0.0001 ? '<0.0001' : x.toFixed(4));
const days = (ms: number) => (ms % 86_400_000 === 0 && ms >= 7 * 86_400_000 ? `${ms / 86_400_000}d` : `${ms / 3_600_000}h`);

function armRows(arms: ArmFigures[]): string[][] {
  return arms.map(({ name, counters: c, rates }: { name: string; counters: ArmFigures['counters']; rates: ArmRates }) => [
    name,
    String(c.sent),
    String(c.delivered),
    rate(rates.open),
    rate(rates.clickThrough),
    rate(rates.clickToOpen),
    String(c.unsubscribed),
    String(c.complained),
    rate(rates.conversion),
    money(c.revenue),
    moneyEstimate(rates.revenuePerRecipient),
  ]);
}
const ARM_HEADER = ['arm', 'sent', 'delivered', 'open rate [95% CI]', 'click-through', 'click-to-open', 'unsub', 'complaints', 'conversion', 'revenue', 'revenue/recipient'];

/** Rows of the comparisons that have a difference (an arm with no sends yet has none). */
function comparisonRows(comparisons: Comparison[], formatValue: (c: Comparison) => string): string[][] {
  return comparisons.filter((c) => c.difference.value !== null).map((c) => [
    `${c.arm} vs ${c.control}`,
    c.metric,
    formatValue(c),
    p(c.p),
    p(c.adjustedP),
    p(c.alwaysValidAdjustedP),
    c.significant ? 'yes' : 'no',
  ]);
}
const COMPARISON_HEADER = ['comparison', 'metric', 'difference [95% CI]', 'p', 'adjusted p', 'always-valid p', 'significant'];
const diff = (c: Comparison) => {
  const f = c.metric === 'revenuePerRecipient' ? money : (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}pp`);
  return c.difference.value === null ? '-' : `${f(c.difference.value)} [${f(c.difference.low)}, ${f(c.difference.high)}]`;
};

function formatReport(report: ExperimentReport): string[] {
  const out: string[] = [];
  out.push(table(ARM_HEADER, armRows(report.arms)));
  if (report.comparisons.length > 0) {
    out.push('', `Comparisons with ${report.control} (p: fixed horizon; adjusted: Holm; always valid: mSPRT, safe to look daily)`);
    out.push(table(COMPARISON_HEADER, comparisonRows(report.comparisons, diff), 2));
  }
  const srm = report.srm;
  out.push(
    '',
    srm.checked
      ? `Sample ratio: chi-squared ${srm.statistic?.toFixed(3)} (df ${srm.df}), p ${p(srm.p)}${srm.mismatch ? ' - MISMATCH: the split is not what was configured; distrust the comparisons' : ' - ok'} ` +
          `(${srm.arms.map((a) => `${a.name} ${a.sent}/${a.expected === null ? '-' : a.expected.toFixed(1)}`).join(', ')})`
      : 'Sample ratio: not checked (no configured shares, or nothing sent)',
  );
  if (report.holdoutLift !== null) {
    out.push('', 'Holdout lift (all arms pooled against the holdout)');
    out.push(table(COMPARISON_HEADER, comparisonRows([report.holdoutLift.conversion, report.holdoutLift.revenuePerRecipient], diff), 2));
  }
  for (const effect of report.mainEffects) {
    out.push('', `Main effect of ${effect.variable} (levels pooled over the other variables)`);
    out.push(table(COMPARISON_HEADER, comparisonRows(effect.comparisons, diff), 2));
  }
  return out;
}

export function formatCampaign(body: CampaignResults, windowMs: number): string {
  const out: string[] = [`Campaign ${body.campaign}${body.in_config ? '' : ' (no longer in CAMPAIGNS_FILE)'} - attribution window ${days(windowMs)}, segment ${body.segment}`];
  for (const experiment of body.experiments) {
    out.push(
      '',
      `== Experiment ${experiment.id}${experiment.id === '-' ? ' (sends outside any experiment)' : ` (${experiment.name})`}` +
        `${experiment.in_config || experiment.id === '-' ? '' : ', no longer configured: no expected shares'}${experiment.holdout_share === null ? '' : `, holdout ${pct(experiment.holdout_share)}`}`,
    );
    out.push(...formatReport(experiment.report));
    for (const { segment, arms } of experiment.by_segment) {
      out.push('', `-- segment ${segment}`, table(ARM_HEADER, armRows(arms)));
    }
  }
  return `${out.join('\n')}\n`;
}

export function formatSummaries(campaigns: CampaignSummary[], windowMs: number): string {
  const rows = campaigns.flatMap((c) =>
    c.experiments.length === 0
      ? [[c.campaign, '-', '-', String(c.totals.sent)]]
      : c.experiments.map((e) => [c.campaign, `${e.id}${e.in_config ? '' : ' (not configured)'}`, e.arms.join(', '), String(e.sent)]),
  );
  return `Attribution window ${days(windowMs)}\n${table(['campaign', 'experiment', 'arms', 'sent'], rows, 3)}\n`;
}

if (require.main === module) {
  void runMain('results', async () => {
    try {
      process.stdout.write(await resultsCli(process.argv.slice(2)));
    } catch (error) {
      if (!(error instanceof ResultsCliError)) throw error;
      process.stderr.write(`results: ${error.message}\n`);
      process.exitCode = 2;
    }
  });
}
