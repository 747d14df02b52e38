/**
 * The console's pure parts: what it remembers (bounded), its credential check, the JSON it
 * embeds in pages, and the words for an outcome.
 */
import { ConsoleAuth } from '../../../services/console/auth';
import { ConsoleMemory, HourlyCounts, SampleHistory } from '../../../services/console/memory';
import { formatEstimate, formatP, scriptJson } from '../../../services/console/render';
import { whyOf } from '../../../services/console/server';
import { behaviorEvent, type EmailOutcome } from '../../../services/core/types';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 2, 12, 30);
const TOKEN = 'console-token-0123456789abcdef0123456789';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function outcome(fields: Partial<EmailOutcome>): EmailOutcome {
  return {
    trigger_id: 't1', customer_id: 'c1', campaign: 'upsell', variant: null, status: 'sent', ses_message_id: 'm1', reason: null,
    at: NOW, experiment: null, holdout: false, variables: {}, segments: [], rule: 'high_interest', ...fields,
  };
}

describe('HourlyCounts', () => {
  it('counts per label and hour over the span, zero-filling empty hours and dropping older ones', () => {
    const counts = new HourlyCounts(3 * HOUR);
    counts.add(NOW - 2 * HOUR, 'a', NOW);
    counts.add(NOW, 'a', NOW);
    counts.add(NOW, 'b', NOW);
    counts.add(NOW - 5 * HOUR, 'a', NOW); // older than the span
    const { hours, series, totals } = counts.series(NOW);
    expect(hours).toEqual([NOW - 2.5 * HOUR, NOW - 1.5 * HOUR, NOW - 0.5 * HOUR]);
    expect(series).toEqual([{ label: 'a', counts: [1, 0, 1] }, { label: 'b', counts: [0, 0, 1] }]);
    expect(totals).toEqual({ a: 2, b: 1 });
  });
});

describe('ConsoleMemory', () => {
  it('keeps the newest records per customer, newest first, and forgets the least recently seen customer', () => {
    const memory = new ConsoleMemory({ lookbackMs: 24 * HOUR, maxCustomers: 2, recordsPerCustomer: 2 });
    for (const [i, at] of [NOW - 3, NOW - 1, NOW - 2].entries()) memory.addEvent(behaviorEvent({ event_id: `e${i}`, customer_id: 'c1', type: 'page_view', occurred_at: at }));
    expect(memory.customer('c1')?.events.map((e) => e.occurred_at)).toEqual([NOW - 1, NOW - 2]);
    memory.addOutcome(outcome({ customer_id: 'c2' }), NOW);
    memory.addOutcome(outcome({ customer_id: 'c1', status: 'deferred' }), NOW);
    memory.addOutcome(outcome({ customer_id: 'c3' }), NOW);
    expect(memory.customer('c2')).toBeNull();
    expect(memory.customer('c1')?.outcomes.map((o) => o.status)).toEqual(['deferred']);
    expect(memory.customerCount).toBe(2);
    expect(memory.outcomesByStatus.series(NOW).totals).toEqual({ deferred: 1, sent: 2 });
  });

  it('counts segment entries and exits of the current UTC day', () => {
    const memory = new ConsoleMemory({ lookbackMs: 24 * HOUR, maxCustomers: 10, recordsPerCustomer: 5 });
    memory.addSegmentChange({ customer_id: 'c1', segment: 'engaged', change: 'entered', at: NOW - HOUR, reason: null }, NOW);
    memory.addSegmentChange({ customer_id: 'c2', segment: 'engaged', change: 'exited', at: NOW, reason: null }, NOW);
    memory.addSegmentChange({ customer_id: 'c3', segment: 'engaged', change: 'entered', at: NOW - 13 * HOUR, reason: null }, NOW); // yesterday
    expect(memory.segmentToday('engaged', NOW)).toEqual({ entered: 1, exited: 1 });
    expect(memory.segmentToday('other', NOW)).toEqual({ entered: 0, exited: 0 });
  });
});

describe('SampleHistory', () => {
  it('is bounded and turns a counter into a rate, null across a reset or a gap', () => {
    const history = new SampleHistory(3);
    history.add({ at: 0, values: { n: 0 } });
    history.add({ at: 1000, values: { n: 10 } });
    history.add({ at: 3000, values: { n: 30 } });
    history.add({ at: 4000, values: { n: 5 } });
    history.add({ at: 5000, values: { n: null } });
    expect(history.all().map((s) => s.at)).toEqual([3000, 4000, 5000]);
    expect(history.rate('n')).toEqual([{ at: 4000, value: null }, { at: 5000, value: null }]);
    history.add({ at: 7000, values: { n: 25 } });
    history.add({ at: 9000, values: { n: 45 } });
    expect(history.rate('n').at(-1)).toEqual({ at: 9000, value: 10 });
  });
});

describe('ConsoleAuth', () => {
  it('lets everything through without a token (the console then only binds loopback)', () => {
    expect(new ConsoleAuth([], 'kairos').check(undefined)).toBe('ok');
  });

  it('takes HTTP Basic with the user and the token, or the token as a bearer', () => {
    const auth = new ConsoleAuth([TOKEN], 'kairos');
    expect(auth.check(undefined)).toBe('missing');
    expect(auth.check(basic('kairos', TOKEN))).toBe('ok');
    expect(auth.check(`Bearer ${TOKEN}`)).toBe('ok');
    expect(auth.check(basic('someone', TOKEN))).toBe('invalid');
    expect(auth.check(basic('kairos', `${TOKEN}x`))).toBe('invalid');
    expect(auth.check('Basic !!!')).toBe('invalid');
    expect(auth.check(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBe('invalid');
    expect(auth.check('Bearer wrong-token-0123456789abcdef0123456789')).toBe('invalid');
  });
});

describe('page helpers', () => {
  it('embeds JSON that cannot close its script element', () => {
    const text = scriptJson({ name: '</script><script>alert(1)</script>', amp: 'a&b', line: '\u2028' });
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual({ name: '</script><script>alert(1)</script>', amp: 'a&b', line: '\u2028' });
  });

  it('formats p-values and estimates', () => {
    expect(formatP(null)).toBe('—');
    expect(formatP(0.00001)).toBe('< 0.0001');
    expect(formatP(0.04321)).toBe('0.0432');
    expect(formatEstimate({ value: 0.1, low: 0.05, high: 0.2 }, 'pct')).toBe('10.0% [5.0%, 20.0%]');
    expect(formatEstimate({ value: 1234, low: null, high: null }, 'money')).toBe('12.34');
    expect(formatEstimate({ value: null, low: null, high: null }, 'pct')).toBe('—');
  });

  it('says why an email went the way it did', () => {
    expect(whyOf(outcome({ status: 'deferred', reason: 'quiet_hours: until 08:00' }))).toBe('deferred: quiet_hours: until 08:00');
    expect(whyOf(outcome({ status: 'suppressed', reason: null }))).toBe('suppressed: the address is on the suppression list');
    expect(whyOf(outcome({ status: 'sent', reason: 'chosen: upsell' }))).toBe('sent: chosen: upsell');
  });
});
