/**
 * Choosing at most one message for one trigger: suppression, candidates by rule and
 * eligibility, priority, cooldown, frequency cap and quiet hours. Pure: history and the clock
 * come in as data, so the renderer can replay a decision and tests need no Redis.
 */
import type { CustomerProfile, TriggerFired } from '../types';
import { formatDuration } from '../definitions';
import { ineligibility } from './eligibility';
import { armOverrides, assignmentFor, type Assignment } from './experiments';
import type { Campaign, Variant } from './model';
import { quietHoursEnd, resolveTimeZone } from './quiet-hours';

export type SuppressionReason = 'unsubscribed' | 'bounced' | 'complained' | 'no_consent' | 'no_email';

export interface SendHistory {
  /** This customer's recent marketing sends (epoch ms), any campaign. */
  sentAt: readonly number[];
  /** Last send time per campaign name for this customer. */
  lastSentByCampaign: Readonly<Record<string, number>>;
  /** The suppression list entry for the customer's address, if any. */
  suppressed?: 'unsubscribed' | 'bounced' | 'complained' | null;
}

export interface ChooseInput {
  trigger: TriggerFired;
  profile: CustomerProfile | null;
  segments: readonly string[];
  campaigns: readonly Campaign[];
  history: SendHistory;
  /** Epoch ms; the only clock this module sees. */
  now: number;
  /** Campaigns the deliverability guard paused: chosen, they are skipped (campaign_paused), not replaced. */
  pausedCampaigns?: ReadonlySet<string>;
}

/** What the chosen campaign's email is made of: the experiment arm's template and overrides applied. */
export interface ChosenEmail {
  campaign: Campaign;
  /** The legacy `variants:` entry of the arm; null otherwise (the arm is in `assignment`). */
  variant: Variant | null;
  /** The experiment assignment (design id, arm or holdout, variables); null without an experiment. */
  assignment: Assignment | null;
  template: string;
  subjectOverride: string | null;
  preheaderOverride: string | null;
}

export type Decision =
  | ({ status: 'send'; reason: string } & ChosenEmail)
  | { status: 'suppressed'; reason: SuppressionReason; detail: string }
  | { status: 'skipped'; reason: 'no_campaign' | 'frequency_cap' | 'cooldown' | 'campaign_paused'; campaign?: Campaign; detail: string }
  /** The customer is in the experiment's holdout: no email, but recorded as if sent (cooldown, frequency cap). */
  | { status: 'skipped'; reason: 'holdout'; campaign: Campaign; assignment: Assignment; detail: string }
  | ({ status: 'deferred'; until: number; reason: 'quiet_hours' | 'send_delay'; detail: string } & ChosenEmail);

function suppression(profile: CustomerProfile | null, history: SendHistory): Decision | null {
  if (history.suppressed) {
    return { status: 'suppressed', reason: history.suppressed, detail: `address is on the suppression list (${history.suppressed})` };
  }
  if (profile === null || profile.email === null || profile.email.trim() === '') {
    return { status: 'suppressed', reason: 'no_email', detail: profile === null ? 'no profile for this customer' : 'profile has no email address' };
  }
  if (profile.consent_email !== true) return { status: 'suppressed', reason: 'no_consent', detail: 'profile has no email consent' };
  return null;
}

/** Higher priority first; equal priorities by name, so the order never depends on the file. */
function byPriority(a: Campaign, b: Campaign): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function winReason(winner: Campaign, others: readonly Campaign[], rule: string, passedOver: readonly string[]): string {
  const beaten = others.filter((campaign) => campaign !== winner);
  const why = beaten.length === 0
    ? `only eligible campaign for rule ${rule} (priority ${winner.priority})`
    : `priority ${winner.priority} beats ${beaten.map((campaign) => `${campaign.name} (${campaign.priority})`).join(', ')}`;
  return passedOver.length === 0 ? why : `${why}; passed over ${passedOver.join('; ')}`;
}

/** Decides what (if anything) to send for one trigger; every path returns a recorded reason. */
export function chooseCampaign(input: ChooseInput): Decision {
  const { trigger, profile, history, now } = input;
  const suppressed = suppression(profile, history);
  if (suppressed !== null) return suppressed;

  const answering = input.campaigns.filter((campaign) => campaign.rules.includes(trigger.rule));
  if (answering.length === 0) return { status: 'skipped', reason: 'no_campaign', detail: `no campaign answers rule ${trigger.rule}` };
  const segments = new Set(input.segments);
  const refusals: string[] = [];
  const eligible = [...answering].sort(byPriority).filter((campaign) => {
    const why = ineligibility(campaign.eligibility, segments, profile);
    if (why !== null) refusals.push(`${campaign.name}: ${why}`);
    return why === null;
  });
  if (eligible.length === 0) return { status: 'skipped', reason: 'no_campaign', detail: `no eligible campaign for rule ${trigger.rule}: ${refusals.join('; ')}` };

  // A campaign in its cooldown steps aside for the next one: cooldown is about repeating this
  // message, while another campaign is a different message.
  const cooling: string[] = [];
  const ready = eligible.filter((campaign) => {
    const last = history.lastSentByCampaign[campaign.name];
    const cooldown = campaign.caps.cooldownMs;
    if (cooldown === null || last === undefined || now - last >= cooldown) return true;
    cooling.push(`${campaign.name} (cooldown ${formatDuration(cooldown)}, until ${new Date(last + cooldown).toISOString()})`);
    return false;
  });
  if (ready.length === 0) return { status: 'skipped', reason: 'cooldown', campaign: eligible[0], detail: `in cooldown: ${cooling.join(', ')}` };
  const campaign = ready[0];
  // A paused campaign does not hand its trigger to a lower-priority one: the pause is about
  // this audience's complaints or bounces, which another message would not cure.
  if (input.pausedCampaigns?.has(campaign.name)) {
    return { status: 'skipped', reason: 'campaign_paused', campaign, detail: `campaign ${campaign.name} is paused by the deliverability guard` };
  }

  const cap = campaign.caps.frequencyCap;
  const recent = history.sentAt.filter((at) => at > now - cap.perMs && at <= now).sort((a, b) => a - b);
  if (recent.length >= cap.max) {
    const nextAllowed = recent[recent.length - cap.max] + cap.perMs;
    const detail = `${recent.length} sends in the last ${formatDuration(cap.perMs)} (max ${cap.max}); next allowed at ${new Date(nextAllowed).toISOString()}`;
    return { status: 'skipped', reason: 'frequency_cap', campaign, detail };
  }

  const chosen = chosenEmail(campaign, trigger);
  const { assignment } = chosen;
  const reason = winReason(campaign, eligible, trigger.rule, cooling);
  // The arm's send delay counts from the trigger, so a replay or a restart does not push it back.
  const delayMs = assignment?.settings.sendDelayMs ?? 0;
  if (delayMs > 0 && now < trigger.fired_at + delayMs) {
    const detail = `arm ${assignment?.arm ?? '?'} of ${assignment?.experiment ?? '?'} waits ${formatDuration(delayMs)} after the trigger; ${reason}`;
    return { status: 'deferred', until: trigger.fired_at + delayMs, reason: 'send_delay', ...chosen, detail };
  }
  // The holdout waits out quiet hours too: its virtual send is at the time the email would have gone.
  if (campaign.caps.quietHours !== null) {
    const timeZone = resolveTimeZone(profile?.timezone);
    const until = quietHoursEnd(now, campaign.caps.quietHours, timeZone);
    if (until !== null) {
      const { start, end } = campaign.caps.quietHours;
      const detail = `quiet hours ${start}-${end} in ${timeZone}; ${reason}`;
      return { status: 'deferred', until, reason: 'quiet_hours', ...chosen, detail };
    }
  }
  if (assignment?.holdout) {
    const share = campaign.experiment?.holdoutShare ?? 0;
    const detail = `in the ${Math.round(share * 1000) / 10}% holdout of ${assignment.experiment}; no email (counted as a send for cooldown and frequency cap); ${reason}`;
    return { status: 'skipped', reason: 'holdout', campaign, assignment, detail };
  }
  return { status: 'send', ...chosen, reason };
}

/** The campaign's email for this trigger: its experiment arm (if any) applied to template and overrides. */
export function chosenEmail(campaign: Campaign, trigger: Pick<TriggerFired, 'customer_id' | 'trigger_id'>): ChosenEmail {
  const assignment = assignmentFor(campaign, { customerId: trigger.customer_id, triggerId: trigger.trigger_id });
  return emailForArm(campaign, assignment);
}

/** The email of a known assignment (a resumed send reads it back from the ledger). */
export function emailForArm(campaign: Campaign, assignment: Assignment | null): ChosenEmail {
  if (assignment === null || assignment.holdout) {
    return { campaign, variant: null, assignment, template: campaign.template, subjectOverride: null, preheaderOverride: null };
  }
  const overrides = armOverrides(campaign, assignment.variables);
  return {
    campaign,
    variant: campaign.variants.find((variant) => variant.name === assignment.arm) ?? null,
    assignment,
    template: assignment.settings.template ?? campaign.template,
    subjectOverride: overrides.subject,
    preheaderOverride: overrides.preheader,
  };
}
