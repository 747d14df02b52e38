import { assignArm, chooseCampaign, experimentOf, parseCampaigns, type ChooseInput, type Decision } from '../../../../services/core/campaigns';
import { customerProfile, type TriggerFired } from '../../../../services/core/types';

const HOUR = 3_600_000;
/** 12:00 UTC: outside quiet hours. */
const NOW = Date.parse('2025-06-10T12:00:00Z');

const campaigns = parseCampaigns('campaigns.yaml', `campaigns:
  - name: promo
    rules: [high_interest]
    priority: 1
    template: promo
    caps: { cooldown: 24h }
    experiment:
      name: timing
      holdout: 30%
      variables:
        send_delay: [{ name: now, value: 0s }, { name: later, value: 2h }]
        subject: [{ name: plain, value: "Plain" }, { name: question, value: "Question?" }]
`);
const [promo] = campaigns;
const design = experimentOf(promo)!;
const profile = customerProfile({ customer_id: 'c-1', updated_at: 1, email: 'ada@example.com', consent_email: true, timezone: 'UTC' });

function trigger(customerId: string, fields: Partial<TriggerFired> = {}): TriggerFired {
  return { trigger_id: `t-${customerId}`, rule: 'high_interest', customer_id: customerId, fired_at: NOW, cause_event_id: null, context: {}, ...fields };
}

function choose(customerId: string, overrides: Partial<ChooseInput> = {}): Decision {
  return chooseCampaign({ trigger: trigger(customerId), profile: { ...profile, customer_id: customerId }, segments: [], campaigns, history: { sentAt: [], lastSentByCampaign: {} }, now: NOW, ...overrides });
}

/** The first customer id c-0, c-1, ... whose assignment passes `test`. */
function customerWhere(test: (assigned: ReturnType<typeof assignArm>) => boolean): string {
  for (let i = 0; i < 1000; i++) {
    const id = `c-${i}`;
    if (test(assignArm(design, { customerId: id, triggerId: `t-${id}` }))) return id;
  }
  throw new Error('no such customer among the first 1000');
}

describe('chooseCampaign with an experiment', () => {
  it('carries the assignment on a send: design id, arm and variables, with the arm applied', () => {
    const id = customerWhere((a) => !a.holdout && a.arm.variables.send_delay === 'now' && a.arm.variables.subject === 'question');
    const decision = choose(id);
    expect(decision).toMatchObject({
      status: 'send',
      template: 'promo',
      subjectOverride: 'promo/timing/subject/question',
      preheaderOverride: null,
      assignment: { experiment: design.id, holdout: false, arm: 'now+question', variables: { send_delay: 'now', subject: 'question' } },
    });
  });

  it('skips a holdout customer with reason holdout, keeping campaign and experiment', () => {
    const id = customerWhere((a) => a.holdout);
    const decision = choose(id);
    expect(decision).toMatchObject({ status: 'skipped', reason: 'holdout', campaign: { name: 'promo' }, assignment: { experiment: design.id, holdout: true, arm: null, variables: {} } });
    expect(decision.status === 'skipped' && decision.detail).toMatch(/^in the 30% holdout of promo\.timing\.[0-9a-f]{8}; no email/);
  });

  it('the holdout waits out quiet hours like a send would', () => {
    const id = customerWhere((a) => a.holdout);
    const late = Date.parse('2025-06-10T22:00:00Z');
    expect(choose(id, { now: late, trigger: trigger(id, { fired_at: late }) })).toMatchObject({ status: 'deferred', reason: 'quiet_hours', assignment: { holdout: true } });
  });

  it('a holdout virtual send counts for cooldown like a real one', () => {
    const id = customerWhere((a) => a.holdout);
    expect(choose(id, { history: { sentAt: [NOW - HOUR], lastSentByCampaign: { promo: NOW - HOUR } } })).toMatchObject({ status: 'skipped', reason: 'cooldown' });
  });

  it('defers a send_delay arm until fired_at + delay, then sends', () => {
    const id = customerWhere((a) => !a.holdout && a.arm.variables.send_delay === 'later');
    const decision = choose(id);
    expect(decision).toMatchObject({ status: 'deferred', reason: 'send_delay', until: NOW + 2 * HOUR, assignment: { variables: { send_delay: 'later' } } });
    expect(choose(id, { now: NOW + 2 * HOUR })).toMatchObject({ status: 'send', assignment: { variables: { send_delay: 'later' } } });
  });

  it('counts the delay from the trigger, not from now (a replay does not push it back)', () => {
    const id = customerWhere((a) => !a.holdout && a.arm.variables.send_delay === 'later');
    expect(choose(id, { now: NOW + HOUR })).toMatchObject({ status: 'deferred', until: NOW + 2 * HOUR });
  });

  it('applies quiet hours when a delayed send comes due', () => {
    const id = customerWhere((a) => !a.holdout && a.arm.variables.send_delay === 'later');
    const fired = Date.parse('2025-06-10T20:00:00Z'); // due 22:00 UTC, inside 21:00-08:00
    const due = choose(id, { now: fired + 2 * HOUR, trigger: trigger(id, { fired_at: fired }) });
    expect(due).toMatchObject({ status: 'deferred', reason: 'quiet_hours', until: Date.parse('2025-06-11T08:00:00Z') });
  });

  it('keeps a customer in their arm across triggers', () => {
    for (let i = 0; i < 50; i++) {
      const first = choose(`c-${i}`, { trigger: trigger(`c-${i}`, { trigger_id: 'a' }) });
      const second = choose(`c-${i}`, { trigger: trigger(`c-${i}`, { trigger_id: 'b' }) });
      const armOf = (d: Decision) => ('assignment' in d ? d.assignment?.arm : undefined);
      expect(armOf(second)).toBe(armOf(first));
    }
  });
});
