import { LinkSigner, signLinkToken, verifyLinkToken, type LinkClaims, type LinkKeyring } from '../../../services/core/links';

const KEY = { id: 'k1', secret: 'unit-test-secret-0123456789abcdef0123' };
const keyring: LinkKeyring = { current: KEY, previous: [] };
const NOW = Date.UTC(2026, 5, 1, 12);
const ids = { customer_id: 'c-1', trigger_id: 't-1', campaign: 'exclusive_offer' };
const sign = (claims: LinkClaims) => signLinkToken(claims, KEY, { nowMs: NOW });

describe('signed tracking and unsubscribe links', () => {
  it('round-trips every kind of link, with the key id, a nonce and the lifetime', () => {
    const claims: LinkClaims[] = [
      { kind: 'open', ...ids },
      { kind: 'unsubscribe', ...ids },
      { kind: 'click', ...ids, url: 'https://shop.example.com/p/1?utm=x' },
    ];
    for (const claim of claims) {
      expect(verifyLinkToken(sign(claim), keyring, NOW)).toEqual({
        ok: true,
        claims: { ...claim, key_id: 'k1', nonce: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), issued_at: NOW, expires_at: expect.any(Number) },
      });
    }
  });

  it('refuses a token whose target URL (or any claim) was changed, or that was signed with another key', () => {
    const token = sign({ kind: 'click', ...ids, url: 'https://shop.example.com/' });
    const [version, keyId, payload, mac] = token.split('.');
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, string>;
    const forged = Buffer.from(JSON.stringify({ ...body, u: 'https://evil.example.net/' })).toString('base64url');
    expect(verifyLinkToken(`${version}.${keyId}.${forged}.${mac}`, keyring, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyLinkToken(token, { current: { id: 'k1', secret: 'another-secret-of-sufficient-length-00' }, previous: [] }, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyLinkToken(`${version}.${keyId}.${payload}.${mac.slice(0, -3)}`, keyring, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyLinkToken('not-a-token', keyring, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyLinkToken('', keyring, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('verifies with a previous key during key rotation, chosen by the key id', () => {
    const old = { id: 'k0', secret: 'old-secret-old-secret-old-secret-00' };
    const token = signLinkToken({ kind: 'unsubscribe', ...ids }, old, { nowMs: NOW });
    expect(verifyLinkToken(token, { current: KEY, previous: [old] }, NOW)).toMatchObject({ ok: true, claims: { key_id: 'k0' } });
  });

  it('never signs a click to a non-http(s) target nor a link without ids', () => {
    expect(() => sign({ kind: 'click', ...ids, url: 'javascript:alert(1)' })).toThrow(/http\(s\)/);
    expect(() => sign({ kind: 'click', ...ids, url: '/relative' })).toThrow(/http\(s\)/);
    expect(() => sign({ kind: 'open', ...ids, customer_id: '' })).toThrow(/customer_id/);
    expect(() => signLinkToken({ kind: 'open', ...ids }, { id: 'k1', secret: '' }, { nowMs: NOW })).toThrow(/secret/);
    expect(() => signLinkToken({ kind: 'open', ...ids }, { id: 'k.1', secret: KEY.secret }, { nowMs: NOW })).toThrow(/key id/);
  });

  it('builds URLs under the tracker base, with a path per kind', () => {
    const signer = new LinkSigner(KEY, 'https://t.example.com/');
    const click = signer.click('https://shop.example.com/p/1', ids, NOW);
    expect(click).toMatch(/^https:\/\/t\.example\.com\/c\/v2\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.unsubscribe(ids, NOW)).toMatch(/^https:\/\/t\.example\.com\/u\/v2\.k1\./);
    expect(signer.open(ids, NOW)).toMatch(/^https:\/\/t\.example\.com\/o\/v2\.k1\./);
    const verified = verifyLinkToken(click.split('/c/')[1], keyring, NOW);
    expect(verified.ok && verified.claims.url).toBe('https://shop.example.com/p/1');
  });

  it('carries the variant when given, and a token without one still verifies (issued before the field existed)', () => {
    const signer = new LinkSigner(KEY, 'https://t.example.com');
    const withVariant = verifyLinkToken(signer.click('https://shop.example.com/p/1', { ...ids, variant: 'b' }, NOW).split('/c/')[1] as string, keyring, NOW);
    expect(withVariant).toMatchObject({ ok: true, claims: { variant: 'b' } });
    const without = verifyLinkToken(signer.open(ids, NOW).split('/o/')[1] as string, keyring, NOW);
    expect(without.ok && 'variant' in without.claims).toBe(false);
    expect(() => sign({ kind: 'open', ...ids, variant: '' })).toThrow(/variant/);
  });

  it('signs preferences links under /p/ and knows its own links', () => {
    const signer = new LinkSigner(KEY, 'https://t.example.com/');
    const url = signer.preferences(ids, NOW);
    expect(url).toMatch(/^https:\/\/t\.example\.com\/p\/v2\.k1\./);
    expect(verifyLinkToken(url.split('/p/')[1] as string, keyring, NOW)).toMatchObject({ ok: true, claims: { kind: 'preferences' } });
    expect(signer.isTrackerUrl(url)).toBe(true);
    expect(signer.isTrackerUrl('https://t.example.com/help')).toBe(false);
    expect(signer.isTrackerUrl('https://t.example.com.evil.example/c/x')).toBe(false);
  });
});
