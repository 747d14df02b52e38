import { customerProfile } from '../../../services/core/types';
import { isUnsubscribed } from '../../../services/renderer/renderer';

const T = Date.UTC(2026, 5, 15);
const profile = (consent: boolean, updatedAt: number) => customerProfile({ customer_id: 'c', email: 'c@example.com', consent_email: consent, updated_at: updatedAt });

describe('isUnsubscribed', () => {
  it('an unsubscribe holds until a later resubscribe event or a later profile granting consent', () => {
    const old = profile(true, T - 1000);
    expect(isUnsubscribed({ profile: old, unsubscribedAt: null, resubscribedAt: null })).toBe(false);
    expect(isUnsubscribed({ profile: old, unsubscribedAt: T, resubscribedAt: null })).toBe(true);
    expect(isUnsubscribed({ profile: old, unsubscribedAt: T, resubscribedAt: T - 1 })).toBe(true);
    expect(isUnsubscribed({ profile: old, unsubscribedAt: T, resubscribedAt: T + 1 })).toBe(false);
    expect(isUnsubscribed({ profile: profile(true, T + 1), unsubscribedAt: T, resubscribedAt: null })).toBe(false);
    expect(isUnsubscribed({ profile: profile(false, T + 1), unsubscribedAt: T, resubscribedAt: null })).toBe(true);
  });
});
