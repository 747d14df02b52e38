/**
 * infra/observability: the alert rules are a valid Prometheus rule file whose expressions parse
 * as PromQL (the Prometheus project's own grammar), each alert with a severity, a summary and
 * what to do; the Grafana dashboard's queries parse too. Whether the metrics they name exist is
 * checked against running services: test/integration/deploy/metrics.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { ROOT, yamlDocuments } from '../../support/deploy';

interface Rule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }
const alerts = yamlDocuments(join(ROOT, 'infra/observability/alerts.yaml'))[0] as { groups: Array<{ name: string; rules: Rule[] }> };
const rules = alerts.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(ROOT, 'infra/observability/grafana-dashboard.json'), 'utf8')) as {
  uid: string; panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; w: number }; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; query: unknown }> };
};

/** Grafana's variables replaced by values PromQL accepts. */
const grafanaFree = (expr: string) => expr.replace(/\$__rate_interval/g, '5m').replace(/\$service/g, '.*');

/** Where the PromQL grammar found an error, or null. */
function parseError(expr: string): string | null {
  const tree = parser.parse(expr);
  let error: string | null = null;
  tree.iterate({ enter: (node) => {
    if (node.type.isError && error === null) error = `cannot parse at ${node.from}: "${expr.slice(Math.max(0, node.from - 20), node.to + 20)}"`;
  } });
  return error;
}

describe('infra/observability/alerts.yaml', () => {
  it('covers what the deployment guide promises: lag, DLQ, SES failures and throttling, paused campaigns, overdue timers, stopped partitions', () => {
    const text = rules.map((r) => r.expr).join('\n');
    for (const metric of ['kairos_consumer_lag', 'kairos_records_dead_lettered_total', 'kairos_renderer_ses_sends_total', 'kairos_renderer_ses_retries_total', 'kairos_campaign_paused', 'kairos_timers_overdue_seconds', 'kairos_partitions_stopped']) {
      expect({ metric, alerted: text.includes(metric) }).toEqual({ metric, alerted: true });
    }
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s: parses as PromQL and says how bad, what and where to look', (_name, rule) => {
    expect(parseError(rule.expr)).toBeNull();
    expect(['warning', 'critical']).toContain(rule.labels.severity);
    expect(rule.annotations.summary).toBeTruthy();
    expect(rule.annotations.runbook ?? rule.annotations.description).toBeTruthy();
    if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
  });

  it('has unique alert names', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });
});

describe('infra/observability/grafana-dashboard.json', () => {
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr] as const));

  it('has panels with unique ids inside the 24-column grid, each graph with a query', () => {
    expect(dashboard.uid).toBe('kairos-overview');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type !== 'row') expect({ panel: p.title, queries: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, queries: true });
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'service']);
  });

  it.each(targets)('%s: %s parses as PromQL', (_title, expr) => {
    expect(parseError(grafanaFree(expr))).toBeNull();
  });
});
