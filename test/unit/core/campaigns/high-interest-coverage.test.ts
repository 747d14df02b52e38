/**
 * The demo's synthetic shop day through the pure cores, live (each event at its own time): the
 * segment engine, the trigger engine and the campaign choice with the shipped configuration.
 * Every high_interest trigger of a customer with an address and consent must end in an email or
 * a recorded cap, cooldown or quiet-hours reason, never `no_campaign`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chooseCampaign, parseCampaigns, type Campaign, type Decision } from '../../../../services/core/campaigns';
import { applyEvent, memberships, parseSegmentDefinitions, reevaluate, type SegmentState } from '../../../../services/core/segments';
import { applyEvents, parseTriggerRules, type TriggerState } from '../../../../services/core/triggers';
import type { CustomerProfile, TriggerFired } from '../../../../services/core/types';
import { syntheticShop } from '../../../../services/tools/synthetic';

const CONFIG = join(__dirname, '../../../../config');
const read = (file: string) => readFileSync(join(CONFIG, file), 'utf8');
const segments = parseSegmentDefinitions('segments.yaml', read('segments.yaml'));
const rules = parseTriggerRules('triggers.yaml', read('triggers.yaml'));
const campaigns = parseCampaigns('campaigns.yaml', read('campaigns.yaml'));

/** The demo's day (make demo: 400 customers, 20,000 events, seed 7), ending at a fixed moment. */
const NOW = Date.parse('2026-06-15T12:00:00Z');
const shop = syntheticShop({ customers: 400, events: 20_000, now: NOW, seed: 7 });

interface Outcome {
  trigger: TriggerFired;
  decision: Decision;
}

/** Every high_interest trigger of the day and what the campaign choice made of it. */
function replay(offered: readonly Campaign[]): Outcome[] {
  const profiles = new Map<string, CustomerProfile>(shop.profiles.map((profile) => [profile.customer_id, profile]));
  const segmentStates = new Map<string, SegmentState | null>();
  const triggerStates = new Map<string, TriggerState | null>();
  const sends = new Map<string, Array<{ campaign: string; at: number }>>();
  const outcomes: Outcome[] = [];
  for (const event of shop.events) {
    const customer = event.customer_id;
    const now = event.occurred_at;
    let segmentState = segmentStates.get(customer) ?? null;
    while (segmentState?.w !== undefined && segmentState.w <= now) segmentState = reevaluate(segmentState, segments, segmentState.w).state;
    segmentState = applyEvent(segmentState, event, segments, now).state;
    segmentStates.set(customer, segmentState);
    const fired = applyEvents(triggerStates.get(customer) ?? null, [event], rules, now);
    triggerStates.set(customer, fired.state);
    for (const trigger of fired.triggers.filter((t) => t.rule === 'high_interest')) {
      const history = sends.get(customer) ?? [];
      const lastSentByCampaign: Record<string, number> = {};
      for (const send of history) lastSentByCampaign[send.campaign] = Math.max(lastSentByCampaign[send.campaign] ?? 0, send.at);
      const decision = chooseCampaign({
        trigger,
        profile: profiles.get(customer) ?? null,
        segments: memberships(segmentState),
        campaigns: offered,
        history: { sentAt: history.map((send) => send.at), lastSentByCampaign },
        now,
      });
      // A deferred send goes out when quiet hours end; for caps it counts from now (close enough here).
      if (decision.status === 'send' || decision.status === 'deferred') sends.set(customer, [...history, { campaign: decision.campaign.name, at: now }]);
      outcomes.push({ trigger, decision });
    }
  }
  return outcomes;
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { decision } of outcomes) {
    const key = decision.status === 'send' || decision.status === 'deferred' ? `${decision.status} ${decision.campaign.name}` : `${decision.status} (${decision.reason})`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('high_interest triggers of the demo day', () => {
  const outcomes = replay(campaigns);

  it('each end in an email or a recorded cap, cooldown or quiet-hours reason when the customer can be emailed', () => {
    expect(outcomes.length).toBeGreaterThan(300); // the demo day has hundreds of them
    const emailable = outcomes.filter(({ decision }) => decision.status !== 'suppressed');
    const reasons = new Set(emailable.map(({ decision }) => (decision.status === 'skipped' ? decision.reason : decision.status)));
    expect([...reasons].every((reason) => ['send', 'deferred', 'cooldown', 'frequency_cap'].includes(reason))).toBe(true);
    expect(emailable.filter(({ decision }) => decision.status === 'send' && decision.campaign.name === 'upsell').length).toBeGreaterThan(0);
    process.stdout.write(`demo day, high_interest outcomes with the shipped campaigns: ${JSON.stringify(tally(outcomes))}\n`);
  });

  it('without the upsell campaign, customers outside both case-study segments got nothing (the gap it closes)', () => {
    const before = replay(campaigns.filter((campaign) => campaign.name !== 'upsell'));
    const uncovered = before.filter(({ decision }) => decision.status === 'skipped' && decision.reason === 'no_campaign');
    expect(uncovered.length).toBeGreaterThan(0);
    process.stdout.write(`demo day without upsell: ${uncovered.length} of ${before.length} high_interest triggers skipped (no_campaign)\n`);
  });

  it('the segmenter puts each of those customers into high_interest at the firing', () => {
    // Live, the segment engine and the trigger engine read the same views: the 4th view within 24 h.
    const inSegment = new Map<string, SegmentState | null>();
    const causes = new Set(outcomes.map(({ trigger }) => trigger.cause_event_id));
    let checked = 0;
    for (const event of shop.events) {
      const state = applyEvent(inSegment.get(event.customer_id) ?? null, event, segments, event.occurred_at).state;
      inSegment.set(event.customer_id, state);
      if (causes.has(event.event_id)) {
        expect(memberships(state)).toContain('high_interest');
        checked += 1;
      }
    }
    expect(checked).toBe(outcomes.length);
  });
});
