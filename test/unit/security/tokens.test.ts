/**
 * Issue 11, tokens: one canonical spelling, an expiry per kind, a nonce, a key id for rotation.
 * (The start-up refusal of the development secret is in tokens-config.test.ts.)
 */
import {
  LINK_TTL_MS,
  LinkSigner,
  MAX_TOKEN_LENGTH,
  signLinkToken,
  verifyLinkToken,
  type LinkClaims,
  type LinkKey,
  type LinkKeyring,
  type LinkKind,
} from '../../../services/core/links';
import { triggerIdsIn } from '../../../services/renderer/sent-lookup';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const KEY: LinkKey = { id: 'k2', secret: 'security-test-secret-Zq8v1N3xR6tY0pW4mK7j' };
const OLD: LinkKey = { id: 'k1', secret: 'security-test-old-secret-Hc5gT2bL9sD1fQ8u' };
const keyring: LinkKeyring = { current: KEY, previous: [] };
const NOW = Date.UTC(2026, 2, 10, 9, 30, 12, 345);
const ids = { customer_id: 'c-42', trigger_id: 'tr-42', campaign: 'cart_reminder' };
const CLAIMS: Record<LinkKind, LinkClaims> = {
  open: { kind: 'open', ...ids },
  click: { kind: 'click', ...ids, url: 'https://shop.example.com/p/sku-1?utm_source=email' },
  unsubscribe: { kind: 'unsubscribe', ...ids },
  preferences: { kind: 'preferences', ...ids },
};
const DAY_MS = 86_400_000;

const sign = (kind: LinkKind = 'unsubscribe', key = KEY, nowMs = NOW) => signLinkToken(CLAIMS[kind], key, { nowMs });
const refusal = (token: string, ring = keyring, nowMs = NOW) => {
  const result = verifyLinkToken(token, ring, nowMs);
  return result.ok ? 'verified' : result.reason;
};

/** Every other base64url spelling of the same bytes: the last character with other trailing bits. */
function otherSpellings(part: string): string[] {
  const trailingBits = (part.length * 6) % 8;
  const last = ALPHABET.indexOf(part[part.length - 1] as string);
  const spellings: string[] = [];
  for (let bits = 0; bits < 1 << trailingBits; bits += 1) {
    const char = ALPHABET[(last & ~((1 << trailingBits) - 1)) | bits] as string;
    const spelling = part.slice(0, -1) + char;
    if (spelling !== part) spellings.push(spelling);
  }
  return spellings;
}

describe('link tokens: one canonical spelling', () => {
  it('refuses the three other spellings of a signature (other trailing bits in its last character)', () => {
    for (const kind of ['open', 'click', 'unsubscribe'] as const) {
      const token = sign(kind);
      expect(refusal(token)).toBe('verified');
      const [version, keyId, payload, mac] = token.split('.') as [string, string, string, string];
      const spellings = otherSpellings(mac);
      expect(spellings).toHaveLength(3); // 43 characters carry 258 bits for a 256-bit MAC
      for (const spelling of spellings) {
        // The same bytes: only the spelling differs.
        expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
        expect(refusal(`${version}.${keyId}.${payload}.${spelling}`)).toBe('non-canonical');
      }
    }
  });

  it('refuses other spellings of the payload too', () => {
    // Find payloads whose length leaves trailing bits (the nonce makes every token's length vary little; the url changes it).
    let checked = 0;
    for (let extra = 0; extra < 6; extra += 1) {
      const token = signLinkToken({ ...CLAIMS.click, url: `https://shop.example.com/p/${'x'.repeat(extra)}` }, KEY, { nowMs: NOW });
      const [version, keyId, payload, mac] = token.split('.') as [string, string, string, string];
      for (const spelling of otherSpellings(payload)) {
        expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(payload, 'base64url'))).toBe(true);
        expect(refusal(`${version}.${keyId}.${spelling}.${mac}`)).toBe('non-canonical');
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('refuses padding, the standard base64 alphabet, extra or missing dots, other characters and over-long tokens', () => {
    const token = sign();
    const [version, keyId, payload, mac] = token.split('.') as [string, string, string, string];
    const standard = (text: string) => text.replace(/-/g, '+').replace(/_/g, '/');
    const cases: Record<string, string> = {
      'padded MAC': `${token}=`,
      'padded payload': `${version}.${keyId}.${payload}==.${mac}`,
      'standard alphabet': standard(token) === token ? `${token.slice(0, -1)}+` : standard(token),
      'extra dot at the end': `${token}.`,
      'extra part': `${token}.${mac}`,
      'empty part': `${version}.${keyId}..${mac}`,
      'leading space': ` ${token}`,
      'percent-encoded': token.replace('.', '%2E'),
      'non-ASCII': `${token}\u00e9`,
      'over-long': `${version}.${keyId}.${'A'.repeat(MAX_TOKEN_LENGTH)}.${mac}`,
      'short MAC': `${version}.${keyId}.${payload}.${mac.slice(0, 40)}`,
      'empty': '',
    };
    const refused = Object.fromEntries(Object.entries(cases).map(([name, variant]) => [name, refusal(variant)]));
    for (const [name, reason] of Object.entries(refused)) expect([name, reason]).toEqual([name, expect.stringMatching(/^(malformed|non-canonical)$/)]);
  });

  it('refuses every single-character change of a token', () => {
    const token = sign('click');
    let tried = 0;
    for (let at = 0; at < token.length; at += 1) {
      for (const char of 'Aa0-_.') {
        if (token[at] === char) continue;
        expect(refusal(token.slice(0, at) + char + token.slice(at + 1))).not.toBe('verified');
        tried += 1;
      }
    }
    expect(tried).toBeGreaterThan(500);
  });

  it('refuses tokens of the first format (<payload>.<mac>, never deployed) and of unknown versions', () => {
    const [, keyId, payload, mac] = sign().split('.') as [string, string, string, string];
    expect(refusal(`${payload}.${mac}`)).toBe('unsupported version');
    expect(refusal(`v3.${keyId}.${payload}.${mac}`)).toBe('unsupported version');
    expect(refusal(`v1.${keyId}.${payload}.${mac}`)).toBe('unsupported version');
  });
});

describe('link tokens: an expiry per kind', () => {
  it.each(['open', 'click', 'unsubscribe'] as const)('a %s token verifies until just before its expiry and is refused from then on', (kind) => {
    const token = sign(kind);
    const verified = verifyLinkToken(token, keyring, NOW);
    if (!verified.ok) throw new Error(verified.reason);
    const issued = Math.floor(NOW / 1000) * 1000;
    expect(verified.claims.issued_at).toBe(issued);
    expect(verified.claims.expires_at).toBe(issued + LINK_TTL_MS[kind]);
    expect(refusal(token, keyring, verified.claims.expires_at - 1)).toBe('verified');
    expect(refusal(token, keyring, verified.claims.expires_at)).toBe('expired');
    expect(refusal(token, keyring, verified.claims.expires_at + 10 * 365 * DAY_MS)).toBe('expired');
  });

  it('keeps unsubscribe links working far beyond the 30 days CAN-SPAM asks for, and tracking links a year', () => {
    expect(LINK_TTL_MS.unsubscribe).toBeGreaterThanOrEqual(2 * 365 * DAY_MS);
    expect(LINK_TTL_MS.open).toBe(365 * DAY_MS);
    expect(LINK_TTL_MS.click).toBe(365 * DAY_MS);
    const token = sign('unsubscribe');
    expect(refusal(token, keyring, NOW + 30 * DAY_MS)).toBe('verified');
    expect(refusal(token, keyring, NOW + 2 * 365 * DAY_MS)).toBe('verified');
  });

  it('refuses a token issued in the verifier\'s future beyond the clock skew', () => {
    const token = sign('open');
    expect(refusal(token, keyring, NOW - 60_000)).toBe('verified');
    expect(refusal(token, keyring, NOW - 3_600_000)).toBe('not yet valid');
  });
});

describe('link tokens: a nonce per token', () => {
  it('gives every token for the same claims its own 96-bit nonce', () => {
    const tokens = Array.from({ length: 500 }, () => sign('unsubscribe'));
    expect(new Set(tokens).size).toBe(500);
    const nonces = tokens.map((token) => {
      const result = verifyLinkToken(token, keyring, NOW);
      return result.ok ? result.claims.nonce : result.reason;
    });
    expect(new Set(nonces).size).toBe(500);
    expect(nonces.every((nonce) => Buffer.from(nonce, 'base64url').length === 12)).toBe(true);
  });

  it('takes its randomness from the random source given (the nonce is the only difference between two tokens)', () => {
    const fixed = () => Buffer.alloc(12, 7);
    const a = signLinkToken(CLAIMS.open, KEY, { nowMs: NOW, random: fixed });
    expect(signLinkToken(CLAIMS.open, KEY, { nowMs: NOW, random: fixed })).toBe(a);
    const result = verifyLinkToken(a, keyring, NOW);
    expect(result.ok && result.claims.nonce).toBe(Buffer.alloc(12, 7).toString('base64url'));
    expect(() => signLinkToken(CLAIMS.open, KEY, { nowMs: NOW, random: () => Buffer.alloc(4) })).toThrow(/random source/);
  });

  it('the signer of an email gives each link its own nonce', () => {
    const signer = new LinkSigner(KEY, 'https://t.example.com');
    expect(signer.unsubscribe(ids, NOW)).not.toBe(signer.unsubscribe(ids, NOW));
  });
});

describe('link tokens: key ids and rotation', () => {
  it('verifies a token of the previous key while that key is configured, and refuses it once it is retired', () => {
    const old = sign('unsubscribe', OLD);
    expect(old.split('.')[1]).toBe('k1');
    const rotating: LinkKeyring = { current: KEY, previous: [OLD] };
    expect(verifyLinkToken(old, rotating, NOW)).toMatchObject({ ok: true, claims: { key_id: 'k1', customer_id: 'c-42' } });
    expect(verifyLinkToken(sign('unsubscribe'), rotating, NOW)).toMatchObject({ ok: true, claims: { key_id: 'k2' } });
    expect(refusal(old, keyring)).toBe('unknown key');
  });

  it('refuses an unknown key id, and a known id with another secret', () => {
    expect(refusal(sign('open', { id: 'k9', secret: KEY.secret }))).toBe('unknown key');
    expect(refusal(sign('open', { id: 'k2', secret: OLD.secret }), { current: KEY, previous: [OLD] })).toBe('bad signature');
  });

  it('chooses the key by id instead of trying every key', () => {
    const untouchable = (id: string): LinkKey => ({
      id,
      get secret(): string {
        throw new Error(`key ${id} was tried`);
      },
    });
    const ring: LinkKeyring = { current: KEY, previous: [untouchable('k1'), untouchable('k0')] };
    expect(refusal(sign('click'), ring)).toBe('verified');
    // Relabelling a token with another key's id does not make it verify.
    const [version, , payload, mac] = sign('click').split('.') as [string, string, string, string];
    expect(refusal(`${version}.k1.${payload}.${mac}`, { current: KEY, previous: [OLD] })).toBe('bad signature');
  });
});

describe('link tokens: the sent-mail lookup', () => {
  it('finds a trigger id only in unsubscribe links that verify: not another spelling, an unknown key, another kind, nor once expired', () => {
    const signer = new LinkSigner(KEY, 'https://t.example.com');
    const good = signer.unsubscribe({ ...ids, trigger_id: 'tr-good' }, NOW);
    const respelled = signer.unsubscribe({ ...ids, trigger_id: 'tr-respelled' }, NOW);
    const [mac] = otherSpellings(respelled.slice(respelled.lastIndexOf('.') + 1));
    const foreign = new LinkSigner({ id: 'k9', secret: OLD.secret }, 'https://t.example.com').unsubscribe({ ...ids, trigger_id: 'tr-foreign' }, NOW);
    const click = signer.click('https://shop.example.com/', { ...ids, trigger_id: 'tr-click' }, NOW);
    const text = [good, `${respelled.slice(0, respelled.lastIndexOf('.') + 1)}${mac}`, foreign, click.replace('/c/', '/u/')].join('\n');
    expect([...triggerIdsIn(text, keyring, NOW)]).toEqual(['tr-good']);
    expect([...triggerIdsIn(good, keyring, NOW + LINK_TTL_MS.unsubscribe)]).toEqual([]);
  });
});
