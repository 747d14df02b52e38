import type { VerifiedLinkClaims } from '../../../services/core/links';
import { behaviorEventLimitProblem } from '../../../services/core/limits';
import { behaviorEventProblem } from '../../../services/core/types';
import { hitEvent, hitEventId, suspicions, type HitRequest } from '../../../services/tracker/hits';

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const claims = (fields: Partial<VerifiedLinkClaims> = {}): VerifiedLinkClaims => ({
  kind: 'click',
  customer_id: 'c-1',
  trigger_id: 'tr-1',
  campaign: 'standard_message',
  url: 'https://shop.example.com/p/sku-1',
  variant: 'b',
  key_id: 'k1',
  nonce: 'AAAAAAAAAAAAAAAA',
  issued_at: NOW - 3_600_000,
  expires_at: NOW + 3_600_000,
  ...fields,
});
const browser: HitRequest = { method: 'GET', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15' };
const policy = { suspectWithinMs: 30_000 };
let counter = 0;
const random = () => `r${(counter += 1)}`;

describe('tracker hits', () => {
  it('a click becomes an email_click with campaign_id, message_id (= trigger_id), the variant and the target', () => {
    const event = hitEvent({ type: 'email_click', claims: claims(), request: browser, nowMs: NOW, policy, random });
    expect(event).toEqual({
      event_id: expect.stringMatching(/^trk-c-AAAAAAAAAAAAAAAA-r\d+$/),
      customer_id: 'c-1',
      type: 'email_click',
      occurred_at: NOW,
      product_id: null, category: null, quantity: null, value_cents: null, currency: null, order_id: null,
      campaign_id: 'standard_message',
      message_id: 'tr-1',
      properties: { source: 'tracker', seconds_since_sent: '3600', variant: 'b', url: 'https://shop.example.com/p/sku-1' },
    });
    expect(behaviorEventProblem(event) ?? behaviorEventLimitProblem(event)).toBeNull();
  });

  it('event ids: every click its own, one open per email and day, one unsubscribe per link, re-subscribes per second', () => {
    const click = (n: number) => hitEventId('email_click', 'N', NOW + n, random);
    expect(click(0)).not.toBe(click(0));
    expect(hitEventId('email_open', 'N', NOW, random)).toBe(hitEventId('email_open', 'N', NOW + 3_600_000, random));
    expect(hitEventId('email_open', 'N', NOW, random)).not.toBe(hitEventId('email_open', 'N', NOW + 86_400_000, random));
    expect(hitEventId('unsubscribe', 'N', NOW, random)).toBe(hitEventId('unsubscribe', 'N', NOW + 86_400_000 * 400, random));
    expect(hitEventId('unsubscribe', 'N', NOW, random)).not.toBe(hitEventId('unsubscribe', 'M', NOW, random));
    expect(hitEventId('resubscribe', 'N', NOW, random)).toBe(hitEventId('resubscribe', 'N', NOW + 500, random));
  });

  it('marks likely machine hits instead of dropping them', () => {
    const fast = claims({ issued_at: NOW - 5_000 });
    expect(suspicions('email_click', fast, browser, NOW, policy)).toEqual(['fast_click']);
    expect(suspicions('email_open', fast, browser, NOW, policy)).toEqual(['fast_open']);
    expect(suspicions('unsubscribe', fast, browser, NOW, policy)).toEqual([]);
    expect(suspicions('email_click', claims(), { method: 'GET', userAgent: 'Mozilla/5.0 (compatible; Barracuda Sentinel)' }, NOW, policy)).toEqual(['scanner_ua']);
    expect(suspicions('email_click', claims(), { method: 'GET', userAgent: undefined }, NOW, policy)).toEqual(['no_user_agent']);
    const head = hitEvent({ type: 'email_click', claims: fast, request: { method: 'HEAD', userAgent: 'python-requests/2.31' }, nowMs: NOW, policy, random });
    expect(head.properties).toEqual(expect.objectContaining({ prefetch: 'head', suspect: 'fast_click,scanner_ua' }));
    expect(hitEvent({ type: 'email_click', claims: claims(), request: browser, nowMs: NOW, policy, random }).properties.suspect).toBeUndefined();
  });

  it('leaves out a target URL longer than a property may be, and the variant when the campaign has none', () => {
    const long = `https://shop.example.com/p/${'x'.repeat(2000)}`;
    const event = hitEvent({ type: 'email_click', claims: claims({ url: long, variant: undefined }), request: browser, nowMs: NOW, policy, random });
    expect(event.properties.url).toBeUndefined();
    expect(event.properties.url_omitted).toBe('too_long');
    expect(event.properties.variant).toBeUndefined();
    expect(behaviorEventLimitProblem(event)).toBeNull();
  });

  it('an unsubscribe says how it came in', () => {
    const event = hitEvent({ type: 'unsubscribe', claims: claims({ kind: 'unsubscribe', url: undefined }), request: { ...browser, method: 'POST', via: 'one_click' }, nowMs: NOW, policy, random });
    expect(event.event_id).toBe('trk-u-AAAAAAAAAAAAAAAA');
    expect(event.properties.via).toBe('one_click');
    expect(event.properties.url).toBeUndefined();
  });
});
