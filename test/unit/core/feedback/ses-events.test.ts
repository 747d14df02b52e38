import { customerTag, guardDecision, interpretSesEvent, sesEventSchema, variantTagValue, type FeedbackActions } from '../../../../services/core/feedback';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const mail = (tags: Record<string, string[]> = { trigger_id: ['t-1'], campaign: ['cart_reminder'], variant: ['a'], customer_id: ['c-1'] }, headers?: Array<{ name: string; value: string }>) => ({
  messageId: 'ses-1', timestamp: '2026-12-01T08:00:00.000Z', source: 'shop@example.com', destination: ['ada@example.com'], tags, ...(headers ? { headers } : {}),
});

function actions(event: object): FeedbackActions {
  const result = interpretSesEvent(sesEventSchema.parse(event), NOW);
  if (!result.ok) throw new Error(result.ignored);
  return result.actions;
}

describe('interpretSesEvent', () => {
  it('Send: records the trigger and counts a send for the guard', () => {
    const a = actions({ eventType: 'Send', mail: mail(), send: {} });
    expect(a).toMatchObject({ kind: 'send', eventType: 'email_sent', sent: { triggerId: 't-1', messageId: 'ses-1' }, guard: 'send', suppress: [], occurredAt: Date.parse('2026-12-01T08:00:00.000Z') });
    expect(a.attribution).toEqual({ triggerId: 't-1', campaign: 'cart_reminder', variant: 'a', customerId: 'c-1' });
    expect(a.properties).toEqual({ source: 'ses', trigger_id: 't-1', variant: 'a' });
  });

  it("a multivariate arm's variant tag (+ written as -, SES's tag alphabet) comes back as the arm name", () => {
    expect(variantTagValue('question+popular')).toBe('question-popular');
    const a = actions({ eventType: 'Send', mail: mail({ trigger_id: ['t-2'], variant: [variantTagValue('question+popular')] }), send: {} });
    expect(a.attribution.variant).toBe('question+popular');
    expect(a.properties.variant).toBe('question+popular');
  });

  it('a permanent bounce suppresses each recipient (normalized) and counts; a transient one does neither', () => {
    const hard = actions({ eventType: 'Bounce', mail: mail(), bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'Ada@Exämple.com' }, { emailAddress: 'a@x, b@y' }], timestamp: '2026-12-01T08:05:00.000Z', feedbackId: 'f-1' } });
    expect(hard.suppress.map((s) => [s.mailbox.address, s.reason])).toEqual([['Ada@xn--exmple-cua.com', 'bounced']]);
    expect(hard.unparseable).toEqual(['list']);
    expect(hard).toMatchObject({ kind: 'bounce', eventType: 'email_bounced', guard: 'bounce', occurredAt: Date.parse('2026-12-01T08:05:00.000Z'), properties: { bounce_type: 'Permanent', bounce_subtype: 'General' } });
    const soft = actions({ eventType: 'Bounce', mail: mail(), bounce: { bounceType: 'Transient', bouncedRecipients: [{ emailAddress: 'ada@example.com' }] } });
    expect(soft).toMatchObject({ suppress: [], guard: null, properties: { bounce_type: 'Transient' } });
  });

  it('a complaint suppresses and counts; the old notificationType format works too', () => {
    for (const key of ['eventType', 'notificationType']) {
      const a = actions({ [key]: 'Complaint', mail: mail(), complaint: { complainedRecipients: [{ emailAddress: '"Ada" <ada@example.com>' }], complaintFeedbackType: 'abuse', feedbackId: 'f-2' } });
      expect(a).toMatchObject({ kind: 'complaint', guard: 'complaint', properties: { feedback_type: 'abuse' } });
      expect(a.suppress.map((s) => [s.mailbox.address, s.reason])).toEqual([['ada@example.com', 'complained']]);
    }
  });

  it.each([
    ['Delivery', { delivery: { timestamp: '2026-12-01T08:01:00.000Z', recipients: ['ada@example.com'] } }, 'email_delivered'],
    ['Reject', { reject: { reason: 'Bad content' } }, 'email_rejected'],
    ['DeliveryDelay', { deliveryDelay: { delayType: 'MailboxFull', delayedRecipients: [{ emailAddress: 'ada@example.com' }] } }, 'email_delayed'],
    ['Rendering Failure', { failure: { errorMessage: 'x', templateName: 't' } }, 'email_rendering_failed'],
  ])('%s becomes %s, suppresses nothing, counts nothing', (eventType, extra, type) => {
    const a = actions({ eventType, mail: mail(), ...extra });
    expect(a).toMatchObject({ eventType: type, suppress: [], guard: null, sent: null });
    expect(JSON.stringify(a.properties)).not.toContain('@');
  });

  it('falls back to the X-Kairos headers, and decodes customer_b64', () => {
    const a = actions({ eventType: 'Send', mail: mail({ customer_b64: [Buffer.from('ada@shop', 'utf8').toString('base64url')] }, [{ name: 'X-Kairos-Trigger-Id', value: 't-9' }, { name: 'x-kairos-campaign', value: 'standard_message' }]) });
    expect(a.attribution).toEqual({ triggerId: 't-9', campaign: 'standard_message', variant: null, customerId: 'ada@shop' });
  });

  it('without a campaign nothing is counted; without a trigger nothing is recorded as sent', () => {
    expect(actions({ eventType: 'Send', mail: mail({}) })).toMatchObject({ guard: null, sent: null, attribution: { customerId: null } });
  });

  it('gives one event id per SES event, the same on redelivery', () => {
    const event = { eventType: 'Bounce', mail: mail(), bounce: { bounceType: 'Permanent', bouncedRecipients: [], feedbackId: 'f-1' } };
    expect(actions(event).eventId).toBe(actions(event).eventId);
    expect(actions({ ...event, bounce: { ...event.bounce, feedbackId: 'f-2' } }).eventId).not.toBe(actions(event).eventId);
    expect(actions(event).eventId.length).toBeLessThanOrEqual(128);
  });

  it('ignores event types Kairos does not act on (opens and clicks come through the tracker)', () => {
    expect(interpretSesEvent(sesEventSchema.parse({ eventType: 'Open', mail: mail() }), NOW)).toEqual({ ok: false, ignored: 'event type Open is not SES feedback Kairos acts on' });
  });
});

describe('customerTag', () => {
  it('uses the id when SES allows it, base64url otherwise, nothing when too long', () => {
    expect(customerTag('c-1_A')).toEqual({ Name: 'customer_id', Value: 'c-1_A' });
    expect(customerTag('ada@shop')).toEqual({ Name: 'customer_b64', Value: Buffer.from('ada@shop').toString('base64url') });
    expect(customerTag('é'.repeat(128))).toBeNull();
  });
});

describe('guardDecision', () => {
  const thresholds = { complaintRate: 0.001, bounceRate: 0.05, minSends: 1000 };
  it('decides nothing below the minimum sends', () => {
    expect(guardDecision({ sends: 999, bounces: 500, complaints: 500 }, thresholds)).toEqual({ pause: false });
  });
  it('pauses above 0.1% complaints, not at it', () => {
    expect(guardDecision({ sends: 1000, bounces: 0, complaints: 1 }, thresholds)).toEqual({ pause: false });
    expect(guardDecision({ sends: 1000, bounces: 0, complaints: 2 }, thresholds)).toEqual({ pause: true, reason: 'complaint_rate', detail: '2 complaints in 1000 sends (0.2% > 0.1%)' });
  });
  it('pauses above 5% hard bounces', () => {
    expect(guardDecision({ sends: 1000, bounces: 50, complaints: 0 }, thresholds)).toEqual({ pause: false });
    expect(guardDecision({ sends: 1000, bounces: 51, complaints: 0 }, thresholds)).toMatchObject({ pause: true, reason: 'bounce_rate' });
  });
});
