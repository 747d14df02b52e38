/**
 * Signed tracking and unsubscribe links. A token is `v2.<key id>.<payload>.<mac>`:
 *
 * - `v2` is the format version; it is also part of the MAC input, so a token of another format
 *   can never verify as this one. Tokens of the first format (`<payload>.<mac>`, no key id, no
 *   expiry) are refused as 'unsupported version': none were ever deployed.
 * - the key id names the signing key in the keyring, so the verifier picks the one key to try
 *   (no trial of every key) and keys can be rotated.
 * - the payload is base64url JSON naming the link's kind, customer, trigger, campaign, (when
 *   the campaign has variants) the variant, (for clicks) the target URL, a random 96-bit nonce,
 *   and when the token was issued and expires. The variant field is optional, so tokens signed
 *   before it existed still verify.
 * - the mac is HMAC-SHA256 over a domain label and `v2.<key id>.<payload>`.
 *
 * Exactly one spelling of a token verifies: base64url without padding, and a part that does not
 * re-encode to itself (non-zero trailing bits in its last character) is refused as
 * 'non-canonical' before any MAC is computed. Whoever serves the link (the tracker) verifies the
 * token before doing anything, so a click can only redirect to a URL the renderer signed, and an
 * unsubscribe can only name the customer it was sent to.
 * Pure: node:crypto only, no I/O; keys, the time and the random source come in as parameters.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_KINDS = ['open', 'click', 'unsubscribe', 'preferences'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export interface LinkClaims {
  kind: LinkKind;
  customer_id: string;
  trigger_id: string;
  campaign: string;
  /** The redirect target of a click (http or https); absent for the other kinds. */
  url?: string;
  /** The campaign variant the email was rendered with, when the campaign has variants. */
  variant?: string;
}

/** What a verified token says beyond its claims. */
export interface VerifiedLinkClaims extends LinkClaims {
  /** The key that signed it (`LinkKey.id`). */
  key_id: string;
  /** 96 random bits, base64url: two tokens for the same claims differ, so hits can be deduplicated per token. */
  nonce: string;
  /** When the renderer signed it, ms since the epoch (whole seconds). */
  issued_at: number;
  /** The first instant it no longer verifies, ms since the epoch (whole seconds). */
  expires_at: number;
}

/** Why a token is refused; precise enough for the tracker's metrics and logs (never the token itself). */
export type LinkRefusal =
  /** Empty, too long, characters outside base64url and '.', or not four parts. */
  | 'malformed'
  /** Not a `v2` token (for example one of the first, never deployed, `<payload>.<mac>` format). */
  | 'unsupported version'
  /** A part that is not the one canonical base64url spelling of its bytes. */
  | 'non-canonical'
  /** A key id the keyring does not hold (retired, or never ours). */
  | 'unknown key'
  /** The MAC does not match: forged, altered, or signed with another secret under the same id. */
  | 'bad signature'
  /** Correctly signed but the payload is not what a signer writes (a bug, not an attack). */
  | 'invalid claims'
  /** Issued more than MAX_CLOCK_SKEW_MS in the future of the verifier's clock. */
  | 'not yet valid'
  /** At or past its expiry. */
  | 'expired';

export type LinkVerification = { ok: true; claims: VerifiedLinkClaims } | { ok: false; reason: LinkRefusal };

/** One HMAC key: `id` travels in every token it signs. */
export interface LinkKey {
  id: string;
  secret: string;
}

/** The key that signs (`current`) and the retired ones that still verify. */
export interface LinkKeyring {
  current: LinkKey;
  previous: readonly LinkKey[];
}

const DAY_MS = 86_400_000;

/**
 * How long each kind of link works after the email is sent. Opens and clicks: a year, long
 * past any reporting window. Unsubscribe: three years. CAN-SPAM requires the opt-out to work
 * for at least 30 days after sending, but people unsubscribe from old emails found in their
 * archives, and a dead unsubscribe link turns into a spam complaint (which hurts every later
 * send); the token can only unsubscribe the customer it was sent to, so a long life costs
 * little. The bound exists so a retired key can be dropped from the keyring at last (see
 * docs/security.md).
 */
export const LINK_TTL_MS: Readonly<Record<LinkKind, number>> = {
  open: 365 * DAY_MS,
  click: 365 * DAY_MS,
  unsubscribe: 3 * 365 * DAY_MS,
  // The preferences page can only unsubscribe or re-subscribe the customer it names: as long as unsubscribe.
  preferences: 3 * 365 * DAY_MS,
};

/** Clock difference tolerated between the signer and the verifier for `issued_at`. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** The format label: the first part of every token and part of the MAC input. */
export const LINK_TOKEN_VERSION = 'v2';
const MAC_DOMAIN = 'kairos-link';
/** A key id: letters, digits, '_' and '-' (no '.', the token's separator), 1 to 32 characters. */
export const LINK_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const NONCE_BYTES = 12;
const MAC_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const KIND_CODES: Record<LinkKind, string> = { open: 'o', click: 'c', unsubscribe: 'u', preferences: 'p' };
const KIND_BY_CODE: Readonly<Record<string, LinkKind>> = { o: 'open', c: 'click', u: 'unsubscribe', p: 'preferences' };
/** URL paths the tracker serves, by kind (`<base>/c/<token>` and so on). */
export const LINK_PATHS: Record<LinkKind, string> = { open: 'o', click: 'c', unsubscribe: 'u', preferences: 'p' };
/** Tokens live in URLs, headers and mailto: subjects; anything longer is not one of ours. */
export const MAX_TOKEN_LENGTH = 4096;

function mac(signed: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(MAC_DOMAIN).update('\n').update(signed).digest();
}

/** True when `text` is base64url without padding and is the one spelling of the bytes it decodes to. */
function isCanonicalBase64url(text: string): boolean {
  return BASE64URL.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/** Only absolute http(s) URLs may be a click target: no javascript:, data: or relative ones. */
export function isRedirectTarget(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:';
  } catch {
    return false;
  }
}

/** What is wrong with `claims`, or null. */
function claimsProblem(claims: LinkClaims): string | null {
  for (const field of ['customer_id', 'trigger_id', 'campaign'] as const) {
    if (typeof claims[field] !== 'string' || claims[field] === '') return `${field} is empty`;
  }
  if (!LINK_KINDS.includes(claims.kind)) return `unknown kind "${String(claims.kind)}"`;
  if (claims.variant !== undefined && (typeof claims.variant !== 'string' || claims.variant === '')) return 'variant is empty';
  if (claims.kind === 'click') {
    if (claims.url === undefined || !isRedirectTarget(claims.url)) return 'a click link needs an absolute http(s) target URL';
  } else if (claims.url !== undefined) {
    return `a ${claims.kind} link carries no target URL`;
  }
  return null;
}

function checkKey(key: LinkKey): void {
  if (!LINK_KEY_ID.test(key.id)) throw new Error(`kairos links: key id "${key.id}" is not 1 to 32 letters, digits, "_" or "-"`);
  if (key.secret === '') throw new Error(`kairos links: the secret of key "${key.id}" is empty`);
}

export interface SignOptions {
  /** The signing time (ms since the epoch): issued_at, and the start of the kind's lifetime. */
  nowMs: number;
  /** The token's lifetime; LINK_TTL_MS[kind] when absent. */
  ttlMs?: number;
  /** Random bytes for the nonce; node:crypto's randomBytes when absent. */
  random?: (size: number) => Buffer;
}

/**
 * Signs `claims` with `key` into a URL-safe token valid from `nowMs` for the kind's lifetime.
 * Throws when the claims are incomplete, a click target is not http(s), or the key is unusable.
 */
export function signLinkToken(claims: LinkClaims, key: LinkKey, options: SignOptions): string {
  checkKey(key);
  const problem = claimsProblem(claims);
  if (problem !== null) throw new Error(`kairos links: ${problem}`);
  const ttlMs = options.ttlMs ?? LINK_TTL_MS[claims.kind];
  if (!Number.isFinite(options.nowMs) || !(ttlMs >= 1000)) throw new Error('kairos links: the signing time must be finite and the lifetime at least 1 s');
  const nonce = (options.random ?? randomBytes)(NONCE_BYTES);
  if (nonce.length !== NONCE_BYTES) throw new Error(`kairos links: the random source gave ${nonce.length} bytes, not ${NONCE_BYTES}`);
  const issued = Math.floor(options.nowMs / 1000);
  const body: Record<string, string | number> = {
    k: KIND_CODES[claims.kind],
    c: claims.customer_id,
    t: claims.trigger_id,
    m: claims.campaign,
    ...(claims.url === undefined ? {} : { u: claims.url }),
    ...(claims.variant === undefined ? {} : { v: claims.variant }),
    n: nonce.toString('base64url'),
    i: issued,
    e: issued + Math.ceil(ttlMs / 1000),
  };
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  const signed = `${LINK_TOKEN_VERSION}.${key.id}.${payload}`;
  return `${signed}.${mac(signed, key.secret).toString('base64url')}`;
}

const BODY_FIELDS = new Set(['k', 'c', 't', 'm', 'u', 'v', 'n', 'i', 'e']);
const isSeconds = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Reads a MAC-verified payload; null when it is not what signLinkToken writes. */
function readPayload(payload: string): Omit<VerifiedLinkClaims, 'key_id'> | null {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  if (Object.keys(fields).some((name) => !BODY_FIELDS.has(name))) return null;
  const { k, c, t, m, u, v, n, i, e } = fields;
  const kind = typeof k === 'string' && Object.hasOwn(KIND_BY_CODE, k) ? KIND_BY_CODE[k] : undefined;
  if (kind === undefined || typeof c !== 'string' || typeof t !== 'string' || typeof m !== 'string') return null;
  if (u !== undefined && typeof u !== 'string') return null;
  if (v !== undefined && typeof v !== 'string') return null;
  if (typeof n !== 'string' || n.length !== 16 || !isCanonicalBase64url(n)) return null;
  if (!isSeconds(i) || !isSeconds(e) || e <= i) return null;
  const claims: LinkClaims = { kind, customer_id: c, trigger_id: t, campaign: m, ...(u === undefined ? {} : { url: u }), ...(v === undefined ? {} : { variant: v }) };
  if (claimsProblem(claims) !== null) return null;
  return { ...claims, nonce: n, issued_at: i * 1000, expires_at: e * 1000 };
}

/**
 * Verifies a token at `nowMs` against the keyring: the key is chosen by the token's key id
 * (the current key or a previous one), the MAC compared in constant time, then the claims and
 * the lifetime checked. Returns the claims, or the first reason the token is refused; checks
 * run cheapest first, and nothing of an unauthenticated payload is read before its MAC matched.
 */
export function verifyLinkToken(token: string, keyring: LinkKeyring, nowMs: number): LinkVerification {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_.-]+$/.test(token)) {
    return { ok: false, reason: 'malformed' };
  }
  const parts = token.split('.');
  // Two parts is the first format's shape (<payload>.<mac>); a four-part token names its version.
  if (parts.length === 2 || (parts.length === 4 && parts[0] !== LINK_TOKEN_VERSION)) return { ok: false, reason: 'unsupported version' };
  if (parts.length !== 4) return { ok: false, reason: 'malformed' };
  const [, keyId, payload, signature] = parts as [string, string, string, string];
  if (!LINK_KEY_ID.test(keyId) || payload === '' || signature === '') return { ok: false, reason: 'malformed' };
  if (!isCanonicalBase64url(payload) || !isCanonicalBase64url(signature)) return { ok: false, reason: 'non-canonical' };
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== MAC_BYTES) return { ok: false, reason: 'malformed' };
  const key = keyring.current.id === keyId ? keyring.current : keyring.previous.find((candidate) => candidate.id === keyId);
  if (key === undefined || key.secret === '') return { ok: false, reason: 'unknown key' };
  if (!timingSafeEqual(given, mac(`${LINK_TOKEN_VERSION}.${keyId}.${payload}`, key.secret))) return { ok: false, reason: 'bad signature' };
  const claims = readPayload(payload);
  if (claims === null) return { ok: false, reason: 'invalid claims' };
  if (claims.issued_at > nowMs + MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'not yet valid' };
  if (nowMs >= claims.expires_at) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { ...claims, key_id: keyId } };
}

/** The ids every link of one email carries. */
export interface LinkContext {
  customer_id: string;
  trigger_id: string;
  campaign: string;
  /** The variant rendered, when the campaign has variants. */
  variant?: string;
}

/** Builds the tracking URLs of one email under the tracker's base URL, signed with one key. */
export class LinkSigner {
  private readonly base: string;

  constructor(
    private readonly key: LinkKey,
    baseUrl: string,
    private readonly random?: (size: number) => Buffer,
  ) {
    checkKey(key);
    if (!isRedirectTarget(baseUrl)) throw new Error(`kairos links: base URL "${baseUrl}" is not an absolute http(s) URL`);
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** A token for `claims` issued at `nowMs`. */
  token(claims: LinkClaims, nowMs: number): string {
    return signLinkToken(claims, this.key, { nowMs, random: this.random });
  }

  /** The tracker URL serving `token`, a token of `kind`. */
  urlFor(kind: LinkKind, token: string): string {
    return `${this.base}/${LINK_PATHS[kind]}/${token}`;
  }

  private url(claims: LinkClaims, nowMs: number): string {
    return this.urlFor(claims.kind, this.token(claims, nowMs));
  }

  /** A click-tracking URL that redirects to `target` (which must be http(s)). */
  click(target: string, context: LinkContext, nowMs: number): string {
    return this.url({ kind: 'click', ...context, url: target }, nowMs);
  }

  /** The open-tracking pixel URL. */
  open(context: LinkContext, nowMs: number): string {
    return this.url({ kind: 'open', ...context }, nowMs);
  }

  /** The one-click unsubscribe URL (RFC 8058: POST to it unsubscribes; GET shows a page). */
  unsubscribe(context: LinkContext, nowMs: number): string {
    return this.url({ kind: 'unsubscribe', ...context }, nowMs);
  }

  /** The preferences page URL (unsubscribe from all marketing, or re-subscribe). */
  preferences(context: LinkContext, nowMs: number): string {
    return this.url({ kind: 'preferences', ...context }, nowMs);
  }

  /** True when `url` is already one of this tracker's links (it must not be wrapped again). */
  isTrackerUrl(url: string): boolean {
    return LINK_KINDS.some((kind) => url.startsWith(`${this.base}/${LINK_PATHS[kind]}/`));
  }

  /** Just an unsubscribe token (for the mailto: variant of List-Unsubscribe; `urlFor('unsubscribe', token)` is its URL). */
  unsubscribeToken(context: LinkContext, nowMs: number): string {
    return this.token({ kind: 'unsubscribe', ...context }, nowMs);
  }
}
