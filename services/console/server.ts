/**
 * The console's HTTP server (fastify): server-rendered pages, the chart library and page
 * script as static files, and the probes. GET only: the console changes no state. Every
 * parameter is checked (the kit's http-params) before anything is asked of a service, and a
 * bad one is a 4xx page naming it.
 */
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Registry } from 'prom-client';
import { experimentVerdict } from '../core/experiments/verdict';
import type { ArmCounters, ExperimentReport } from '../core/experiments';
import type { CustomerProfile, EmailOutcome, TriggerFired } from '../core/types';
import { readConfigFile } from '../kit/files';
import { HttpError, MAX_ID_PARAM_LENGTH, checkParam, parseQuery, textParam, param, invalid } from '../kit/http-params';
import type { Logger } from '../kit/logger';
import type { ConsoleAuth } from './auth';
import { CONSOLE_UPSTREAMS, type ConsoleConfig, type Upstream } from './config';
import { consumerGroups, dlqTopics, type ConsoleFeed } from './feed';
import { barChart, hourLabel, lineChart, STATIC_DIR, timeLabel, type ChartSpec, type Views } from './render';
import type { Upstreams } from './upstream';

/** Reads the renderer's stored profile of a customer (Redis, read-only); null when there is none. */
export type ProfileReader = (customerId: string) => Promise<CustomerProfile | null>;

export interface ConsoleDeps {
  config: ConsoleConfig;
  auth: ConsoleAuth;
  feed: ConsoleFeed;
  upstreams: Upstreams;
  views: Views;
  logger: Logger;
  registry: Registry;
  profiles: ProfileReader;
  clock?: () => number;
}

const customerId = textParam(MAX_ID_PARAM_LENGTH, `a customer id of 1 to ${MAX_ID_PARAM_LENGTH} printable characters`);
const campaignName = textParam(128, 'a campaign name');
const segmentName = textParam(200, 'a segment name');
const experimentId = textParam(256, 'an experiment id');
const ruleName = textParam(200, 'a trigger rule name');
const productId = textParam(256, 'a product id');
const armName = param('an experiment arm name, like question+popular, or empty for the customer\'s own', (raw) => (raw.length > 500 ? invalid('is longer than 500 characters') : raw));
const cursorParam = param('the next page link of a members page', (raw) => (/^[A-Za-z0-9_-]{1,64}$/.test(raw) ? raw : invalid('is not a page cursor')));

const STATIC_FILES: Record<string, { path: string; type: string }> = {
  // Wherever node resolves chart.js (the checkout's node_modules, or the image's): its main file sits in dist/ beside the UMD bundle.
  'chart.umd.min.js': { path: join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), type: 'text/javascript; charset=utf-8' },
  'console.js': { path: join(STATIC_DIR, 'console.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { path: join(STATIC_DIR, 'console.css'), type: 'text/css; charset=utf-8' },
};

// Pages run no inline script and load nothing from elsewhere; emails are framed from this origin only.
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// A rendered email: its own inline styles and remote images, never a script (and the iframe is sandboxed).
const EMAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox";

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

/** A service's failure as the status this page answers: its 400/404 pass on, anything else is 502. */
function upstreamError(answer: { status: number | null; error: string }): HttpError {
  const status = answer.status === 400 || answer.status === 404 || answer.status === 422 ? answer.status : 502;
  return new HttpError(status, answer.error);
}

function searchOf(request: FastifyRequest): URL {
  return new URL(request.url, 'http://console.invalid');
}

/** Why an outcome went the way it did, in words (the renderer's reason, with its status). */
export function whyOf(outcome: EmailOutcome): string {
  const reason = outcome.reason ?? '';
  switch (outcome.status) {
    case 'sent':
      return reason === '' ? 'sent' : `sent: ${reason}`;
    case 'deferred':
      return `deferred: ${reason || 'will be sent later'}`;
    case 'suppressed':
      return `suppressed: ${reason || 'the address is on the suppression list'}`;
    case 'skipped':
      return `skipped: ${reason || 'no email for this trigger'}`;
    default:
      return `${outcome.status}: ${reason}`;
  }
}

interface ResultsCampaigns {
  attribution_window_ms: number;
  campaigns: Array<{ campaign: string; in_config: boolean; totals: ArmCounters; experiments: Array<{ id: string; name: string; in_config: boolean; arms: string[]; sent: number }> }>;
}

interface ResultsCampaign {
  campaign: string;
  segment: string;
  experiments: Array<{ id: string; name: string; in_config: boolean; segment: string; report: ExperimentReport; by_segment: Array<{ segment: string }> }>;
}

interface PreviewAnswer {
  campaign: string;
  variant: string | null;
  template: string;
  subject: string;
  preheader: string;
  html: string;
  text: string;
}

export async function buildConsoleServer(deps: ConsoleDeps): Promise<FastifyInstance> {
  const { config, auth, feed, upstreams, views, logger, registry, profiles } = deps;
  const clock = deps.clock ?? Date.now;
  const app = Fastify({ logger: false, bodyLimit: 1024, routerOptions: { maxParamLength: 1024 }, return503OnClosing: true });
  const frameNote = `Console of ${config.REDIS_KEY_PREFIX}.`;

  const page = (reply: FastifyReply, view: string, data: Record<string, unknown>, frame: { title: string; nav: string; problems?: string[] }, status = 200) => {
    reply.code(status).header('content-type', 'text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-store');
    return reply.send(views.page(view, data, { ...frame, note: frameNote }));
  };

  // Security headers on every answer; the credential on everything but the probes.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
    const path = request.url.split('?')[0];
    if (path === '/healthz' || path === '/readyz') return;
    const verdict = auth.check(request.headers.authorization);
    if (verdict === 'ok') return;
    reply.code(401).header('www-authenticate', 'Basic realm="Kairos console", charset="UTF-8"').header('content-type', 'text/plain; charset=utf-8');
    await reply.send(verdict === 'missing' ? 'Log in: user name and the console password (HTTP_AUTH_TOKEN).\n' : 'The user name or password is not valid.\n');
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply.code(405).header('allow', 'GET, HEAD');
      await reply.send({ error: 'the console only reads: GET' });
    }
  });

  app.setErrorHandler(async (error, request, reply) => {
    const routeKey = request.routeOptions.url ?? 'unmatched';
    const status = error instanceof HttpError ? error.status : typeof (error as { statusCode?: unknown }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500 ? (error as { statusCode: number }).statusCode : 500;
    // The route, never the URL: paths and queries carry customer ids.
    if (status >= 500) logger.error({ err: error, route: routeKey }, 'console page failed');
    const message = status === 500 ? 'internal error (logged)' : error instanceof Error ? error.message : String(error);
    return page(reply, 'error', { status, message }, { title: status === 404 ? 'Not found' : status >= 500 ? 'Not available' : 'Bad request', nav: '' }, status);
  });
  app.setNotFoundHandler(async (_request, reply) => page(reply, 'error', { status: 404, message: 'no such page' }, { title: 'Not found', nav: '' }, 404));

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = feed.checkCaughtUp();
    return reply.code(ready ? 200 : 503).send(ready ? { status: 'ready' } : { status: 'starting', failing: [{ check: 'topics', reason: 'still reading the topics up to where they ended at start-up' }] });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const file = STATIC_FILES[request.params.file];
    if (file === undefined) throw new HttpError(404, 'no such file');
    return reply.header('content-type', file.type).header('cache-control', 'public, max-age=300').send(createReadStream(file.path));
  });

  // ---- overview ------------------------------------------------------------------------
  app.get('/', async (request, reply) => {
    parseQuery(searchOf(request), {});
    const now = clock();
    const { history, memory } = feed;
    const latest = history.latest();
    const rates = history.rate('events.total');
    const groups = consumerGroups(config);
    const samples = history.all();
    const sampleLabels = samples.map((s) => timeLabel(s.at));
    const triggers = memory.triggersByRule.series(now);
    const outcomes = memory.outcomesByStatus.series(now);
    const readiness = await Promise.all((Object.keys(CONSOLE_UPSTREAMS) as Upstream[]).map((service) => upstreams.readiness(service)));
    const paused = await upstreams.get<{ paused: Array<{ campaign: string; paused_at: string; reason: string; detail: unknown }> }>('renderer', '/campaigns/paused');
    const charts: Record<string, ChartSpec> = {
      eventsChart: lineChart('chart-events', 'Events per second (behavior.events, sampled)', rates.map((r) => timeLabel(r.at)), [{ label: 'events/s', data: rates.map((r) => (r.value === null ? null : Math.round(r.value * 10) / 10)) }], 'events/s'),
      lagChart: lineChart('chart-lag', 'Consumer lag per service (records behind)', sampleLabels, groups.map(({ service }) => ({ label: service, data: history.series(`lag.${service}`).map((v) => v.value) })), 'records'),
      triggersChart: barChart('chart-triggers', `Triggers per rule per hour (UTC), last ${duration(config.CONSOLE_LOOKBACK)}`, triggers.hours.map(hourLabel), triggers.series.map((s) => ({ label: s.label, data: s.counts })), { stacked: true, yTitle: 'triggers' }),
      outcomesChart: barChart('chart-outcomes', `Emails per outcome per hour (UTC), last ${duration(config.CONSOLE_LOOKBACK)}`, outcomes.hours.map(hourLabel), outcomes.series.map((s) => ({ label: s.label, data: s.counts })), { stacked: true, yTitle: 'outcomes' }),
    };
    const lastRate = rates.length > 0 ? rates[rates.length - 1]?.value ?? null : null;
    return page(reply, 'overview', {
      ...charts,
      eventsPerSecond: lastRate,
      eventsTotal: latest?.values['events.total'] ?? null,
      triggersTotal: Object.values(triggers.totals).reduce((a, b) => a + b, 0),
      outcomesTotal: Object.values(outcomes.totals).reduce((a, b) => a + b, 0),
      triggerTotals: Object.entries(triggers.totals).map(([label, count]) => ({ label, count })),
      outcomeTotals: Object.entries(outcomes.totals).map(([label, count]) => ({ label, count })),
      lags: groups.map(({ service, group }) => ({ service, group, lag: latest?.values[`lag.${service}`] ?? null })),
      dlqs: dlqTopics(config).map((topic) => ({ topic, records: latest?.values[`dlq.${topic}`] ?? null })),
      readiness,
      paused: paused.ok ? paused.body.paused : [],
      pausedError: paused.ok ? null : paused.error,
      read: memory.read,
      caughtUp: feed.caughtUp,
      since: new Date(feed.startedAt - config.CONSOLE_LOOKBACK).toISOString(),
      lookback: `last ${duration(config.CONSOLE_LOOKBACK)}`,
      samples: samples.length,
      interval: duration(config.CONSOLE_SAMPLE_INTERVAL),
    }, { title: 'Overview', nav: 'overview' });
  });

  // ---- segments ------------------------------------------------------------------------
  const sizeChart = (id: string, names: string[]): ChartSpec => {
    const samples = feed.history.all();
    return lineChart(id, 'Segment size over time (sampled by the console)', samples.map((s) => timeLabel(s.at)), names.map((name) => ({ label: name, data: feed.history.series(`segment.${name}`).map((v) => v.value) })), 'members');
  };

  app.get('/segments', async (request, reply) => {
    parseQuery(searchOf(request), {});
    const answer = await upstreams.get<{ segments: Array<{ name: string; description: string | null; size: number }> }>('segmenter', '/segments');
    if (!answer.ok) throw upstreamError(answer);
    const now = clock();
    const segments = answer.body.segments.map((s) => ({ ...s, today: feed.memory.segmentToday(s.name, now) }));
    return page(reply, 'segments', {
      segments,
      sizeChart: sizeChart('chart-sizes', segments.map((s) => s.name)),
      interval: duration(config.CONSOLE_SAMPLE_INTERVAL),
      history: duration(config.CONSOLE_HISTORY),
      since: new Date(feed.startedAt - config.CONSOLE_LOOKBACK).toISOString(),
    }, { title: 'Segments', nav: 'segments' });
  });

  app.get<{ Params: { name: string } }>('/segments/:name', async (request, reply) => {
    const name = checkParam('segment', segmentName, request.params.name);
    const query = parseQuery(searchOf(request), { cursor: cursorParam.optional() });
    const base = `/segments/${encodeURIComponent(name)}`;
    const [one, members] = await Promise.all([
      upstreams.get<{ name: string; description: string | null; size: number }>('segmenter', base),
      upstreams.get<{ members: string[]; next_cursor: string | null }>('segmenter', `${base}/members?limit=100${query.cursor === undefined ? '' : `&cursor=${encodeURIComponent(query.cursor)}`}`),
    ]);
    if (!one.ok) throw upstreamError(one);
    if (!members.ok) throw upstreamError(members);
    return page(reply, 'segment', {
      name,
      description: one.body.description,
      size: one.body.size,
      today: feed.memory.segmentToday(name, clock()),
      sizeChart: sizeChart('chart-size', [name]),
      definition: segmentDefinition(config.SEGMENTS_FILE, name),
      file: config.SEGMENTS_FILE,
      members: members.body.members,
      next: members.body.next_cursor,
      cursor: query.cursor ?? null,
    }, { title: `Segment ${name}`, nav: 'segments' });
  });

  // ---- campaigns and experiments -------------------------------------------------------
  const campaignList = () => upstreams.get<ResultsCampaigns>('results', '/results/campaigns');

  app.get('/campaigns', async (request, reply) => {
    parseQuery(searchOf(request), {});
    const answer = await campaignList();
    if (!answer.ok) throw upstreamError(answer);
    const campaigns = answer.body.campaigns;
    return page(reply, 'campaigns', {
      campaigns,
      window: duration(answer.body.attribution_window_ms),
      sentChart: barChart('chart-campaigns', 'Sends per campaign: sent, opened, clicked, converted', campaigns.map((c) => c.campaign), (['sent', 'opened', 'clicked', 'converted'] as const).map((field) => ({ label: field, data: campaigns.map((c) => c.totals[field]) })), { yTitle: 'sends' }),
    }, { title: 'Campaigns and experiments', nav: 'campaigns' });
  });

  app.get<{ Params: { campaign: string } }>('/campaigns/:campaign', async (request, reply) => {
    const campaign = checkParam('campaign', campaignName, request.params.campaign);
    const query = parseQuery(searchOf(request), { experiment: experimentId.optional(), segment: segmentName.optional() });
    const params = new URLSearchParams();
    if (query.experiment !== undefined) params.set('experiment', query.experiment);
    if (query.segment !== undefined && query.segment !== '*') params.set('segment', query.segment);
    const search = params.toString() === '' ? '' : `?${params.toString()}`;
    const answer = await upstreams.get<ResultsCampaign>('results', `/results/campaigns/${encodeURIComponent(campaign)}${search}`);
    if (!answer.ok) throw upstreamError(answer);
    const experiments = answer.body.experiments.map((experiment, index) => {
      const arms = experiment.report.arms;
      const interval = (metric: 'clickThrough' | 'open' | 'conversion') => arms.map((a) => {
        const e = a.rates[metric];
        return e.low === null || e.high === null ? null : ([round4(e.low * 100), round4(e.high * 100)] as [number, number]);
      });
      const value = (metric: 'clickThrough' | 'open' | 'conversion') => arms.map((a) => (a.rates[metric].value === null ? null : round4((a.rates[metric].value as number) * 100)));
      return {
        ...experiment,
        verdict: experimentVerdict(experiment.report),
        rateChart: barChart(`chart-rates-${index}`, 'Open and click-through rate per arm (%), with 95% intervals', arms.map((a) => a.name), [
          { label: 'open rate', data: value('open') },
          { label: 'open interval', data: interval('open') },
          { label: 'click-through', data: value('clickThrough') },
          { label: 'click-through interval', data: interval('clickThrough') },
        ], { yTitle: '%' }),
        conversionChart: barChart(`chart-conversion-${index}`, 'Conversion per arm (%), with 95% intervals', arms.map((a) => a.name), [
          { label: 'conversion', data: value('conversion') },
          { label: 'conversion interval', data: interval('conversion') },
        ], { yTitle: '%' }),
      };
    });
    const segments = [...new Set(answer.body.experiments.flatMap((e) => e.by_segment.map((s) => s.segment)))].sort();
    return page(reply, 'campaign', { campaign, experiments, segments, segment: answer.body.segment }, { title: `Campaign ${campaign}`, nav: 'campaigns' });
  });

  // ---- customers -----------------------------------------------------------------------
  app.get('/customers', async (request, reply) => {
    const query = parseQuery(searchOf(request), { customer_id: customerId });
    return reply.redirect(`/customers/${encodeURIComponent(query.customer_id)}`, 303);
  });

  app.get<{ Params: { id: string } }>('/customers/:id', async (request, reply) => {
    const id = checkParam('customer_id', customerId, request.params.id);
    parseQuery(searchOf(request), {});
    const [profile, segments] = await Promise.all([
      profiles(id),
      upstreams.get<{ segments: string[] }>('segmenter', `/customers/${encodeURIComponent(id)}/segments`),
    ]);
    const records = feed.memory.customer(id) ?? { events: [], triggers: [], outcomes: [], changes: [] };
    const triggerById = new Map<string, TriggerFired>(records.triggers.map((t) => [t.trigger_id, t]));
    const previewHref = (outcome: EmailOutcome): string | null => {
      if (outcome.campaign === null) return null;
      const params = new URLSearchParams({ campaign: outcome.campaign, customer_id: id });
      if (outcome.rule !== null) params.set('rule', outcome.rule);
      const productOf = triggerById.get(outcome.trigger_id)?.context.product_id;
      if (productOf !== undefined && productOf !== '') params.set('product_id', productOf);
      if (outcome.variant !== null && !outcome.holdout) params.set('arm', outcome.variant);
      return `/preview?${params.toString()}`;
    };
    const emails = records.outcomes.map((outcome) => ({ outcome, why: whyOf(outcome), previewHref: previewHref(outcome) }));
    const latestSent = emails.find((e) => e.outcome.status === 'sent' && e.previewHref !== null);
    if (profile === null && records.outcomes.length === 0 && records.events.length === 0 && segments.ok && segments.body.segments.length === 0) {
      throw new HttpError(404, 'no customer with this id: no profile, no segment and no record read by the console');
    }
    return page(reply, 'customer', {
      customerId: id,
      profile,
      attributes: profile === null ? [] : Object.entries(profile.attributes ?? {}).map(([key, value]) => ({ key, value })),
      segments: segments.ok ? segments.body.segments : [],
      segmentsError: segments.ok ? null : segments.error,
      records,
      triggers: records.triggers.map((t) => ({ ...t, context: Object.entries(t.context).map(([k, v]) => `${k}=${v}`).join(', ') })),
      emails,
      latest: latestSent === undefined ? null : { campaign: latestSent.outcome.campaign, src: (latestSent.previewHref as string).replace('/preview?', '/preview/email.html?') },
      perCustomer: config.CONSOLE_RECORDS_PER_CUSTOMER,
      since: new Date(feed.startedAt - config.CONSOLE_LOOKBACK).toISOString(),
    }, { title: `Customer ${id}`, nav: '' });
  });

  // ---- preview -------------------------------------------------------------------------
  const PREVIEW_QUERY = {
    campaign: campaignName.optional(),
    customer_id: customerId.optional(),
    rule: ruleName.optional(),
    product_id: productId.optional(),
    arm: armName.optional(),
  };
  const rendererPreviewPath = (q: { campaign: string; customer_id: string; rule?: string; product_id?: string; arm?: string }, format: 'json' | 'html') => {
    const params = new URLSearchParams({ campaign: q.campaign, customer_id: q.customer_id, format });
    if (q.rule !== undefined) params.set('rule', q.rule);
    if (q.product_id !== undefined) params.set('product_id', q.product_id);
    if (q.arm !== undefined && q.arm !== '') params.set('arm', q.arm);
    return `/preview?${params.toString()}`;
  };

  app.get('/preview', async (request, reply) => {
    const query = parseQuery(searchOf(request), PREVIEW_QUERY);
    const list = await campaignList();
    const campaigns = list.ok ? list.body.campaigns.filter((c) => c.in_config).map((c) => c.campaign) : [];
    const problems = list.ok ? [] : [list.error];
    let preview: PreviewAnswer | null = null;
    let status = 200;
    if (query.campaign !== undefined && query.customer_id !== undefined) {
      const answer = await upstreams.get<PreviewAnswer>('renderer', rendererPreviewPath({ ...query, campaign: query.campaign, customer_id: query.customer_id }, 'json'));
      if (answer.ok) preview = answer.body;
      else {
        problems.push(answer.error);
        status = upstreamError(answer).status;
      }
    } else if (query.campaign !== undefined || query.customer_id !== undefined) {
      throw new HttpError(400, 'pick both a campaign and a customer', query.campaign === undefined ? 'campaign' : 'customer_id');
    }
    const htmlSrc = preview === null ? null : `/preview/email.html?${new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString()}`;
    return page(reply, 'preview', {
      campaigns: query.campaign !== undefined && !campaigns.includes(query.campaign) ? [query.campaign, ...campaigns] : campaigns,
      campaign: query.campaign ?? null,
      customerId: query.customer_id ?? '',
      arm: query.arm ?? '',
      rule: query.rule ?? null,
      productId: query.product_id ?? null,
      preview,
      htmlSrc,
    }, { title: 'Preview an email', nav: 'preview', problems }, status);
  });

  app.get('/preview/email.html', async (request, reply) => {
    const query = parseQuery(searchOf(request), { ...PREVIEW_QUERY, campaign: campaignName, customer_id: customerId });
    const answer = await upstreams.get<string>('renderer', rendererPreviewPath(query, 'html'), { text: true });
    if (!answer.ok) throw upstreamError(answer);
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', EMAIL_CSP)
      .header('x-frame-options', 'SAMEORIGIN')
      .header('cache-control', 'no-store')
      .send(answer.body);
  });

  return app;
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/** The YAML of one segment's definition in SEGMENTS_FILE (as written there), or a note when it cannot be read. */
export function segmentDefinition(file: string, name: string): string {
  try {
    const parsed = parseYaml(readConfigFile(file).text) as { segments?: Array<{ name?: unknown }> } | null;
    const found = parsed?.segments?.find((s) => s.name === name);
    return found === undefined ? `(not in ${file})` : stringifyYaml(found);
  } catch (error) {
    return `(cannot read ${file}: ${error instanceof Error ? error.message : String(error)})`;
  }
}
