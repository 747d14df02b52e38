/**
 * Server-side HTML: the Handlebars views of services/console/views (the checkout's, or the
 * build's copy, like the services' Lua scripts) in a layout. `{{x}}` escapes everything, so customer data
 * (which may hold HTML or script) shows as text; the only raw output is JSON for the charts,
 * escaped so that it cannot end its <script> element. Chart configurations are plain Chart.js
 * JSON built here; the page script only hands them to Chart.js.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { builtPath, requireBuilt } from '../kit/files';
import type { ComparedMetric, Estimate } from '../core/experiments';
import { METRIC_WORDS } from '../core/experiments/verdict';

export const VIEWS_DIR = builtPath('services', 'console', 'views');
export const STATIC_DIR = builtPath('services', 'console', 'static');

/** JSON that is safe inside <script type="application/json">: no `<`, `>`, `&` or line separators as such. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value ?? null).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const pct = (value: number | null | undefined, digits = 1): string => (value === null || value === undefined ? '—' : `${(value * 100).toFixed(digits)}%`);
const money = (cents: number | null | undefined): string => (cents === null || cents === undefined ? '—' : (cents / 100).toFixed(2));

export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return '—';
  if (p < 0.0001) return '< 0.0001';
  return p.toFixed(4);
}

/** "4.2% [3.1%, 5.6%]" or "12.30 [8.00, 16.60]". */
export function formatEstimate(estimate: Estimate | null | undefined, kind: 'pct' | 'money'): string {
  if (estimate === null || estimate === undefined || estimate.value === null) return '—';
  const f = kind === 'pct' ? (v: number | null) => pct(v) : money;
  return estimate.low === null || estimate.high === null ? f(estimate.value) : `${f(estimate.value)} [${f(estimate.low)}, ${f(estimate.high)}]`;
}

function createEnv(): typeof Handlebars {
  const env = Handlebars.create();
  env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  env.registerHelper('isNull', (a: unknown) => a === null || a === undefined);
  env.registerHelper('json', (value: unknown) => scriptJson(value));
  env.registerHelper('uri', (value: unknown) => encodeURIComponent(String(value)));
  env.registerHelper('num', (value: unknown) => (typeof value === 'number' ? value.toLocaleString('en-US') : value === null || value === undefined ? '—' : String(value)));
  env.registerHelper('fixed', (value: unknown, digits: unknown) => (typeof value === 'number' ? value.toFixed(Number(digits)) : '—'));
  env.registerHelper('money', (value: unknown) => money(typeof value === 'number' ? value : null));
  env.registerHelper('pct', (value: unknown) => pct(typeof value === 'number' ? value : null, 0));
  env.registerHelper('pvalue', (value: unknown) => formatP(typeof value === 'number' ? value : null));
  env.registerHelper('estimate', (value: unknown, kind: unknown) => formatEstimate(value as Estimate, kind === 'money' ? 'money' : 'pct'));
  env.registerHelper('difference', (value: unknown, metric: unknown) => formatEstimate(value as Estimate, metric === 'revenuePerRecipient' ? 'money' : 'pct'));
  env.registerHelper('metricName', (metric: unknown) => METRIC_WORDS[metric as ComparedMetric] ?? String(metric));
  env.registerHelper('time', (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString().replace('T', ' ').slice(0, 19) : '—'));
  env.unregisterHelper('log');
  return env;
}

export class Views {
  private readonly env = createEnv();
  private readonly templates = new Map<string, Handlebars.TemplateDelegate>();
  private readonly layout: Handlebars.TemplateDelegate;

  constructor(dir = VIEWS_DIR) {
    for (const file of readdirSync(requireBuilt(dir))) {
      if (!file.endsWith('.hbs')) continue;
      const text = readFileSync(join(dir, file), 'utf8');
      const name = file.slice(0, -4);
      if (name.startsWith('partials-')) this.env.registerPartial(name.slice('partials-'.length), text);
      else this.templates.set(name, this.env.compile(text, { strict: false, noEscape: false }));
    }
    const layout = this.templates.get('layout');
    if (layout === undefined) throw new Error(`console: no layout.hbs in ${dir}`);
    this.layout = layout;
  }

  /** A whole page: `view` rendered with `data` inside the layout. */
  page(view: string, data: Record<string, unknown>, frame: { title: string; nav: string; problems?: string[]; note?: string }): string {
    const template = this.templates.get(view);
    if (template === undefined) throw new Error(`console: no view ${view}`);
    const body = template(data, { allowProtoPropertiesByDefault: false });
    return this.layout({ ...frame, problems: frame.problems ?? [], body });
  }
}

// ---------------------------------------------------------------------------------------------
// Chart.js configurations (JSON only).

export interface ChartSpec {
  id: string;
  title: string;
  config: unknown;
}

const PALETTE = ['#2d5bd8', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#6c757d', '#c0392b', '#27ae60', '#2c3e50', '#d35400'];
export const colorOf = (index: number): string => PALETTE[index % PALETTE.length] as string;

const BASE_OPTIONS = { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: 'bottom' } } };

export function hourLabel(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)}`;
}

export function timeLabel(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

export function lineChart(id: string, title: string, labels: string[], series: Array<{ label: string; data: Array<number | null> }>, yTitle: string): ChartSpec {
  return {
    id,
    title,
    config: {
      type: 'line',
      data: { labels, datasets: series.map((s, i) => ({ label: s.label, data: s.data, borderColor: colorOf(i), backgroundColor: colorOf(i), pointRadius: 0, spanGaps: false, tension: 0 })) },
      options: { ...BASE_OPTIONS, scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } } },
    },
  };
}

export function barChart(id: string, title: string, labels: string[], series: Array<{ label: string; data: Array<number | null | [number, number]> }>, options: { stacked?: boolean; yTitle: string; percent?: boolean }): ChartSpec {
  return {
    id,
    title,
    config: {
      type: 'bar',
      data: { labels, datasets: series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: colorOf(i) })) },
      options: {
        ...BASE_OPTIONS,
        scales: {
          x: { stacked: options.stacked ?? false },
          y: { stacked: options.stacked ?? false, beginAtZero: true, title: { display: true, text: options.yTitle } },
        },
      },
    },
  };
}
