import { LinkSigner, signLinkToken, verifyLinkToken, type LinkClaims } from '../../../services/core/links';

const SECRET = 'unit-test-secret-0123456789abcdef0123';
const ids = { customer_id: 'c-1', trigger_id: 't-1', campaign: 'exclusive_offer' };

describe('signed tracking and unsubscribe links', () => {
  it('round-trips every kind of link', () => {
    const claims: LinkClaims[] = [
      { kind: 'open', ...ids },
      { kind: 'unsubscribe', ...ids },
      { kind: 'click', ...ids, url: 'https://shop.example.com/p/1?utm=x' },
    ];
    for (const claim of claims) expect(verifyLinkToken(signLinkToken(claim, SECRET), [SECRET])).toEqual({ ok: true, claims: claim });
  });

  it('refuses a token whose target URL (or any claim) was changed, or that was signed with another key', () => {
    const token = signLinkToken({ kind: 'click', ...ids, url: 'https://shop.example.com/' }, SECRET);
    const [payload, mac] = token.split('.');
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, string>;
    const forged = Buffer.from(JSON.stringify({ ...body, u: 'https://evil.example.net/' })).toString('base64url');
    expect(verifyLinkToken(`${forged}.${mac}`, [SECRET])).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyLinkToken(token, ['another-secret-of-sufficient-length-00'])).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyLinkToken(`${payload}.${mac.slice(0, -2)}`, [SECRET])).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyLinkToken('not-a-token', [SECRET])).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyLinkToken('', [SECRET])).toEqual({ ok: false, reason: 'malformed' });
  });

  it('verifies with a previous secret during key rotation', () => {
    const token = signLinkToken({ kind: 'unsubscribe', ...ids }, 'old-secret-old-secret-old-secret-00');
    expect(verifyLinkToken(token, [SECRET, 'old-secret-old-secret-old-secret-00']).ok).toBe(true);
  });

  it('never signs a click to a non-http(s) target nor a link without ids', () => {
    expect(() => signLinkToken({ kind: 'click', ...ids, url: 'javascript:alert(1)' }, SECRET)).toThrow(/http\(s\)/);
    expect(() => signLinkToken({ kind: 'click', ...ids, url: '/relative' }, SECRET)).toThrow(/http\(s\)/);
    expect(() => signLinkToken({ kind: 'open', ...ids, customer_id: '' }, SECRET)).toThrow(/customer_id/);
    expect(() => signLinkToken({ kind: 'open', ...ids }, '')).toThrow(/secret/);
  });

  it('builds URLs under the tracker base, with a path per kind', () => {
    const signer = new LinkSigner(SECRET, 'https://t.example.com/');
    const click = signer.click('https://shop.example.com/p/1', ids);
    expect(click).toMatch(/^https:\/\/t\.example\.com\/c\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(signer.unsubscribe(ids)).toMatch(/^https:\/\/t\.example\.com\/u\//);
    expect(signer.open(ids)).toMatch(/^https:\/\/t\.example\.com\/o\//);
    const verified = verifyLinkToken(click.split('/c/')[1], [SECRET]);
    expect(verified.ok && verified.claims.url).toBe('https://shop.example.com/p/1');
  });
});
