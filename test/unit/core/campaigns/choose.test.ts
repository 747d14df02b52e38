import { readFileSync } from 'node:fs';
import { chooseCampaign, chooseVariant, parseCampaigns, type Campaign, type ChooseInput, type Decision } from '../../../../services/core/campaigns';
import { customerProfile, type TriggerFired } from '../../../../services/core/types';
import { CAMPAIGNS_FILE } from '../templates/shipped';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 14:00 in Berlin, 12:00 UTC: outside the default quiet hours for both. */
const NOW = Date.parse('2025-06-10T12:00:00Z');

const shipped = parseCampaigns('config/campaigns.yaml', readFileSync(CAMPAIGNS_FILE, 'utf8'));

function trigger(rule: string, fields: Partial<TriggerFired> = {}): TriggerFired {
  return { trigger_id: 't-1', rule, customer_id: 'c-1', fired_at: NOW, cause_event_id: 'e-1', context: {}, ...fields };
}

const profile = customerProfile({ customer_id: 'c-1', updated_at: 1, email: 'ada@example.com', consent_email: true, timezone: 'Europe/Berlin', country: 'DE' });

function choose(overrides: Partial<ChooseInput> = {}): Decision {
  return chooseCampaign({
    trigger: trigger('high_interest'),
    profile,
    segments: [],
    campaigns: shipped,
    history: { sentAt: [], lastSentByCampaign: {} },
    now: NOW,
    ...overrides,
  });
}

function sent(decision: Decision): Extract<Decision, { status: 'send' }> {
  if (decision.status !== 'send') throw new Error(`expected send, got ${JSON.stringify(decision)}`);
  return decision;
}

describe('chooseCampaign: the case study with the shipped campaigns', () => {
  it('sends the exclusive offer to a customer in both segments, recording why it won', () => {
    const decision = sent(choose({ segments: ['frequent_buyer', 'engaged', 'high_value_engaged'] }));
    expect(decision.campaign.name).toBe('exclusive_offer');
    expect(decision.template).toBe('exclusive_offer');
    expect(decision.reason).toBe('priority 20 beats standard_message (10)');
  });

  it('answers the segment-entry trigger with the exclusive offer', () => {
    const decision = sent(choose({ trigger: trigger('segment:high_value_engaged'), segments: ['frequent_buyer', 'engaged', 'high_value_engaged'] }));
    expect(decision.campaign.name).toBe('exclusive_offer');
    expect(decision.reason).toBe('only eligible campaign for rule segment:high_value_engaged (priority 20)');
  });

  it.each([['frequent_buyer'], ['engaged']])('sends the standard message to a customer only in %s', (segment) => {
    expect(sent(choose({ segments: [segment] })).campaign.name).toBe('standard_message');
  });

  it('prefers the standard message over the plain cart reminder for a segment member', () => {
    const decision = sent(choose({ trigger: trigger('cart_abandoned'), segments: ['engaged'] }));
    expect(decision.campaign.name).toBe('standard_message');
    expect(decision.reason).toBe('priority 10 beats cart_reminder (1)');
  });

  it('sends the upsell to a customer in neither segment, so no high_interest trigger lacks a campaign', () => {
    const decision = sent(choose({ segments: [] }));
    expect(decision.campaign.name).toBe('upsell');
    expect(decision.reason).toBe('only eligible campaign for rule high_interest (priority 5)');
    // Other segments (high_interest itself, re_engagement, ...) do not change that.
    expect(sent(choose({ segments: ['high_interest', 're_engagement', 'new_customer'] })).campaign.name).toBe('upsell');
  });

  it('never sends the upsell to a case-study segment member, even while their campaign cools down', () => {
    const history = { sentAt: [NOW - HOUR], lastSentByCampaign: { standard_message: NOW - HOUR } };
    const decision = choose({ segments: ['engaged'], history });
    expect(decision).toMatchObject({ status: 'skipped', reason: 'cooldown' });
    expect(decision.status === 'skipped' && decision.detail).toMatch(/^in cooldown: standard_message \(cooldown 24h/);
  });

  it('records the upsell cooldown as the reason for a second trigger within 24 hours', () => {
    const decision = choose({ segments: [], history: { sentAt: [NOW - HOUR], lastSentByCampaign: { upsell: NOW - HOUR } } });
    expect(decision).toMatchObject({ status: 'skipped', reason: 'cooldown' });
  });

  it('skips a rule no campaign answers', () => {
    expect(choose({ trigger: trigger('birthday') })).toMatchObject({ status: 'skipped', reason: 'no_campaign', detail: 'no campaign answers rule birthday' });
  });
});

const custom = parseCampaigns('test.yaml', `
defaults:
  frequency_cap: { max: 2, per: 24h }
  quiet_hours: false
campaigns:
  - { name: beta, rules: [r], priority: 5, template: t }
  - { name: alpha, rules: [r], priority: 5, template: t }
  - name: german_only
    rules: [r]
    priority: 9
    template: t
    eligibility: { profile: [{ field: country, in: [de, at] }], none_segments: [vip] }
  - name: ab
    rules: [ab]
    priority: 1
    template: t
    variants:
      - { name: control, weight: 3 }
      - { name: treatment, weight: 1, template: t2, subject: "Hey" }
  - name: ab_by_trigger
    rules: [abt]
    priority: 1
    template: t
    variant_key: trigger
    variants: [{ name: a, weight: 1 }, { name: b, weight: 1 }]
`);

describe('chooseCampaign: priority and eligibility', () => {
  it('breaks a priority tie by name, whatever the file order', () => {
    const decision = sent(choose({ campaigns: custom, trigger: trigger('r'), profile: { ...profile, country: 'US' } }));
    expect(decision.campaign.name).toBe('alpha');
    expect(decision.reason).toBe('priority 5 beats beta (5)');
    expect(sent(choose({ campaigns: [...custom].reverse(), trigger: trigger('r'), profile: { ...profile, country: 'US' } })).campaign.name).toBe('alpha');
  });

  it('applies profile conditions (case-insensitively) and excluded segments', () => {
    expect(sent(choose({ campaigns: custom, trigger: trigger('r') })).campaign.name).toBe('german_only');
    expect(sent(choose({ campaigns: custom, trigger: trigger('r'), segments: ['vip'] })).campaign.name).toBe('alpha');
  });
});

describe('chooseCampaign: suppression comes first', () => {
  it.each(['unsubscribed', 'bounced', 'complained'] as const)('suppresses %s addresses', (reason) => {
    expect(choose({ segments: ['engaged'], history: { sentAt: [], lastSentByCampaign: {}, suppressed: reason } })).toMatchObject({ status: 'suppressed', reason });
  });

  it('suppresses a customer without consent', () => {
    expect(choose({ segments: ['engaged'], profile: { ...profile, consent_email: false } })).toMatchObject({ status: 'suppressed', reason: 'no_consent' });
  });

  it.each([
    ['no profile', null],
    ['no address', { ...profile, email: null }],
    ['a blank address', { ...profile, email: '  ' }],
  ])('suppresses a customer with %s as no_email', (_label, customer) => {
    expect(choose({ segments: ['engaged'], profile: customer })).toMatchObject({ status: 'suppressed', reason: 'no_email' });
  });

  it('suppresses even when no campaign would answer', () => {
    expect(choose({ trigger: trigger('birthday'), history: { sentAt: [], lastSentByCampaign: {}, suppressed: 'complained' } })).toMatchObject({ status: 'suppressed' });
  });
});

describe('chooseCampaign: frequency cap and cooldown', () => {
  const both = ['frequent_buyer', 'engaged'];

  it('skips when the customer already got the maximum in the rolling window', () => {
    const history = { sentAt: [NOW - 23 * HOUR, NOW - 2 * HOUR, NOW - 60_000], lastSentByCampaign: {} };
    const decision = choose({ segments: both, history });
    expect(decision).toMatchObject({ status: 'skipped', reason: 'frequency_cap' });
    expect(decision.status === 'skipped' && decision.campaign?.name).toBe('exclusive_offer');
    expect(decision.status === 'skipped' && decision.detail).toBe('3 sends in the last 24h (max 3); next allowed at 2025-06-10T13:00:00.000Z');
  });

  it('lets a send through once the oldest one leaves the window', () => {
    const history = { sentAt: [NOW - DAY, NOW - 2 * HOUR, NOW - 60_000], lastSentByCampaign: {} };
    expect(choose({ segments: both, history }).status).toBe('send');
  });

  it('honours a different cap from defaults', () => {
    const history = { sentAt: [NOW - HOUR, NOW - 2 * HOUR], lastSentByCampaign: {} };
    expect(choose({ campaigns: custom, trigger: trigger('r'), history })).toMatchObject({ status: 'skipped', reason: 'frequency_cap' });
  });

  it('passes over a campaign in its cooldown to the next one, and says so', () => {
    const history = { sentAt: [NOW - 2 * DAY], lastSentByCampaign: { exclusive_offer: NOW - 2 * DAY } };
    const decision = sent(choose({ segments: both, history }));
    expect(decision.campaign.name).toBe('standard_message');
    expect(decision.reason).toBe('priority 10 beats exclusive_offer (20); passed over exclusive_offer (cooldown 7d, until 2025-06-15T12:00:00.000Z)');
  });

  it('skips with cooldown when every eligible campaign is cooling down', () => {
    const history = { sentAt: [NOW - 2 * DAY], lastSentByCampaign: { exclusive_offer: NOW - 2 * DAY, standard_message: NOW - HOUR } };
    const decision = choose({ segments: both, history });
    expect(decision).toMatchObject({ status: 'skipped', reason: 'cooldown' });
    expect(decision.status === 'skipped' && decision.campaign?.name).toBe('exclusive_offer');
  });

  it('sends again once the cooldown has passed exactly', () => {
    const history = { sentAt: [], lastSentByCampaign: { exclusive_offer: NOW - 7 * DAY } };
    expect(sent(choose({ segments: both, history })).campaign.name).toBe('exclusive_offer');
  });
});

describe('chooseCampaign: quiet hours', () => {
  const late = Date.parse('2025-06-10T20:30:00Z'); // 22:30 in Berlin

  it('defers to the end of quiet hours in the customer zone, keeping campaign and variant', () => {
    const decision = choose({ segments: ['engaged'], now: late });
    expect(decision).toMatchObject({ status: 'deferred', reason: 'quiet_hours', until: Date.parse('2025-06-11T06:00:00Z') });
    expect(decision.status === 'deferred' && decision.campaign.name).toBe('standard_message');
    expect(decision.status === 'deferred' && decision.detail).toMatch(/^quiet hours 21:00-08:00 in Europe\/Berlin; only eligible campaign/);
  });

  it('uses UTC when the profile has no or an invalid zone', () => {
    for (const timezone of [null, 'Not/AZone']) {
      const decision = choose({ segments: ['engaged'], now: late, profile: { ...profile, timezone } });
      expect(decision.status).toBe('send'); // 20:30 UTC is not quiet
      const later = choose({ segments: ['engaged'], now: late + HOUR, profile: { ...profile, timezone } });
      expect(later).toMatchObject({ status: 'deferred', until: Date.parse('2025-06-11T08:00:00Z') });
    }
  });

  it('a deferred decision sends when re-run at its until time', () => {
    const deferred = choose({ segments: ['engaged'], now: late });
    if (deferred.status !== 'deferred') throw new Error('expected deferred');
    expect(sent(choose({ segments: ['engaged'], now: deferred.until })).campaign.name).toBe('standard_message');
  });

  it('does not defer a campaign with quiet_hours: false', () => {
    expect(choose({ campaigns: custom, trigger: trigger('r'), now: late }).status).toBe('send');
  });
});

describe('variants', () => {
  const ab = custom.find((campaign) => campaign.name === 'ab') as Campaign;
  const abByTrigger = custom.find((campaign) => campaign.name === 'ab_by_trigger') as Campaign;

  it('picks the same variant for the same customer on every replay and every trigger', () => {
    const first = sent(choose({ campaigns: custom, trigger: trigger('ab', { customer_id: 'c-77', trigger_id: 't-a' }) }));
    for (const triggerId of ['t-a', 't-b', 't-c']) {
      const again = sent(choose({ campaigns: custom, trigger: trigger('ab', { customer_id: 'c-77', trigger_id: triggerId }) }));
      expect(again.variant?.name).toBe(first.variant?.name);
    }
  });

  it('splits customers roughly by weight (3:1)', () => {
    let treatment = 0;
    for (let i = 0; i < 4000; i += 1) {
      if (chooseVariant(ab, { customerId: `customer-${i}`, triggerId: 'x' })?.name === 'treatment') treatment += 1;
    }
    expect(treatment).toBeGreaterThan(850);
    expect(treatment).toBeLessThan(1150);
  });

  it('resolves the variant template and subject override in the decision', () => {
    const customerId = Array.from({ length: 100 }, (_, i) => `c-${i}`).find((id) => chooseVariant(ab, { customerId: id, triggerId: 'x' })?.name === 'treatment') as string;
    const decision = sent(choose({ campaigns: custom, trigger: trigger('ab', { customer_id: customerId }) }));
    expect(decision).toMatchObject({ template: 't2', subjectOverride: 'ab/treatment' });
  });

  it('keys on the trigger id when variant_key is trigger', () => {
    const names = new Set(Array.from({ length: 40 }, (_, i) => chooseVariant(abByTrigger, { customerId: 'c-1', triggerId: `t-${i}` })?.name));
    expect(names).toEqual(new Set(['a', 'b']));
    expect(chooseVariant(abByTrigger, { customerId: 'c-1', triggerId: 't-5' })).toBe(chooseVariant(abByTrigger, { customerId: 'c-2', triggerId: 't-5' }));
  });

  it('is null for a campaign without variants', () => {
    expect(sent(choose({ segments: ['engaged'] })).variant).toBeNull();
  });
});

describe('chooseCampaign: campaigns paused by the deliverability guard', () => {
  it('skips a paused winner with campaign_paused instead of handing the trigger to the next campaign', () => {
    const decision = choose({ trigger: trigger('cart_abandoned'), segments: ['engaged'], pausedCampaigns: new Set(['standard_message']) });
    expect(decision).toMatchObject({ status: 'skipped', reason: 'campaign_paused', detail: 'campaign standard_message is paused by the deliverability guard' });
    expect(decision.status === 'skipped' && decision.campaign?.name).toBe('standard_message');
  });

  it('sends as before when another campaign is paused, and suppression still comes first', () => {
    expect(sent(choose({ trigger: trigger('cart_abandoned'), segments: ['engaged'], pausedCampaigns: new Set(['cart_reminder']) })).campaign.name).toBe('standard_message');
    expect(choose({ trigger: trigger('cart_abandoned'), pausedCampaigns: new Set(['cart_reminder']), history: { sentAt: [], lastSentByCampaign: {}, suppressed: 'complained' } })).toMatchObject({ status: 'suppressed', reason: 'complained' });
  });
});
