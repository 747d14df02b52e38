import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { EMAIL_PARTS, type TemplateSet } from '../core/templates';
import type { RendererStore } from './store';

/** The renderer's own series, on the service's registry beside the shared pipeline metrics. */
export interface RendererMetrics {
  outcomes: Counter<'status' | 'reason'>;
  duplicates: Counter<'state'>;
  resumed: Counter<'result'>;
  sesCalls: Counter<'result'>;
  sesRetries: Counter<'error' | 'kind'>;
  sendSeconds: Histogram<string>;
  recommendationFallbacks: Counter<string>;
  /** Profiles whose email is not exactly one mailbox, by the parser's problem (never the value). */
  invalidAddresses: Counter<'problem'>;
}

export function createRendererMetrics(registry: Registry): RendererMetrics {
  const registers = [registry];
  return {
    outcomes: new Counter({ name: 'kairos_renderer_outcomes_total', help: 'Email outcomes recorded, by status and reason code', labelNames: ['status', 'reason'] as const, registers }),
    duplicates: new Counter({ name: 'kairos_renderer_duplicate_triggers_total', help: 'Trigger records whose trigger_id was already finished (replays, re-deliveries)', labelNames: ['state'] as const, registers }),
    resumed: new Counter({ name: 'kairos_renderer_resumed_sends_total', help: 'Reserved sends found after a restart: already at SES (found_sent) or sent now (sending)', labelNames: ['result'] as const, registers }),
    sesCalls: new Counter({ name: 'kairos_renderer_ses_sends_total', help: 'Emails handed to SES (sent) or given up on (permanent_error, gave_up)', labelNames: ['result'] as const, registers }),
    sesRetries: new Counter({ name: 'kairos_renderer_ses_retries_total', help: 'SES calls retried after throttling or a transient error', labelNames: ['error', 'kind'] as const, registers }),
    sendSeconds: new Histogram({ name: 'kairos_renderer_send_duration_seconds', help: 'From the first SES attempt to its acceptance, rate-limit waits and retries included', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    recommendationFallbacks: new Counter({ name: 'kairos_renderer_recommendation_fallbacks_total', help: 'Emails rendered with the fallback recommendations', registers }),
    invalidAddresses: new Counter({ name: 'kairos_renderer_invalid_addresses_total', help: 'Triggers suppressed because the profile email is not exactly one mailbox (invalid_address), by problem', labelNames: ['problem'] as const, registers }),
  };
}

/**
 * `kairos_campaign_paused{campaign}`: 1 for each campaign the deliverability guard paused, read
 * from Redis at each scrape (0 for a campaign resumed since the last one).
 */
export function pausedCampaignsGauge(registry: Registry, store: Pick<RendererStore, 'pausedCampaigns'>): Gauge<'campaign'> {
  const seen = new Set<string>();
  return new Gauge({
    name: 'kairos_campaign_paused',
    help: 'Campaigns paused by the deliverability guard (1), or resumed since (0)',
    labelNames: ['campaign'] as const,
    registers: [registry],
    async collect() {
      const paused = await store.pausedCampaigns();
      for (const campaign of paused.keys()) seen.add(campaign);
      for (const campaign of seen) this.set({ campaign }, paused.has(campaign) ? 1 : 0);
    },
  });
}

/**
 * `kairos_renderer_template_parts_total{template,part,result}`: the parts (subject, preheader,
 * html, text) of every email rendered, `kept` when the template had already checked an equal
 * output (one of the last 32 of that part, CheckedPart: the check, tidy-up and cut reused) and
 * `checked` when it was finished and checked anew. Read from the compiled templates at each scrape.
 * A part whose `checked` keeps pace with its `kept` renders more shapes than are kept
 * (docs/security.md, "Customer values in templates and logs"), and each of its emails pays the
 * check again.
 */
export function templatePartsCounter(registry: Registry, templates: Pick<TemplateSet, 'emails'>): Counter<'template' | 'part' | 'result'> {
  return new Counter({
    name: 'kairos_renderer_template_parts_total',
    help: 'Email parts rendered, by template, part and whether a kept check was reused (kept) or the part was checked anew (checked)',
    labelNames: ['template', 'part', 'result'] as const,
    registers: [registry],
    collect() {
      // The parts keep the totals since start-up: each scrape shows them as they are, every
      // series included (at 0 before a template's first email).
      this.reset();
      for (const [template, email] of templates.emails) {
        for (const part of EMAIL_PARTS) {
          const counts = email.checked[part].counts;
          for (const result of ['kept', 'checked'] as const) this.inc({ template, part, result }, counts[result]);
        }
      }
    },
  });
}
