/**
 * Signed tracking and unsubscribe links. A token is `<payload>.<mac>`: the payload is base64url
 * JSON naming the link's kind, customer, trigger, campaign and (for clicks) the target URL; the
 * mac is HMAC-SHA256 over a version label and the payload. Whoever serves the link (the tracker)
 * verifies the token before doing anything, so a click can only redirect to a URL the renderer
 * signed, and an unsubscribe can only name the customer it was sent to.
 * Pure: node:crypto only, no I/O; the secret comes in as a parameter.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const LINK_KINDS = ['open', 'click', 'unsubscribe'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export interface LinkClaims {
  kind: LinkKind;
  customer_id: string;
  trigger_id: string;
  campaign: string;
  /** The redirect target of a click (http or https); absent for open and unsubscribe. */
  url?: string;
}

export type LinkVerification = { ok: true; claims: LinkClaims } | { ok: false; reason: string };

/** A label in the MAC input: a token of another format or version can never verify as this one. */
const VERSION = 'kairos-link-v1';
const KIND_CODES: Record<LinkKind, string> = { open: 'o', click: 'c', unsubscribe: 'u' };
const KIND_BY_CODE: Record<string, LinkKind> = { o: 'open', c: 'click', u: 'unsubscribe' };
/** URL paths the tracker serves, by kind (`<base>/c/<token>` and so on). */
export const LINK_PATHS: Record<LinkKind, string> = { open: 'o', click: 'c', unsubscribe: 'u' };
// Tokens live in URLs and headers; anything longer than this is not one of ours.
const MAX_TOKEN_LENGTH = 4096;

function mac(payload: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(VERSION).update('.').update(payload).digest();
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

function checkClaims(claims: LinkClaims): void {
  for (const field of ['customer_id', 'trigger_id', 'campaign'] as const) {
    if (typeof claims[field] !== 'string' || claims[field] === '') throw new Error(`kairos links: ${field} is empty`);
  }
  if (!LINK_KINDS.includes(claims.kind)) throw new Error(`kairos links: unknown kind "${String(claims.kind)}"`);
  if (claims.kind === 'click') {
    if (claims.url === undefined || !isRedirectTarget(claims.url)) throw new Error('kairos links: a click link needs an absolute http(s) target URL');
  } else if (claims.url !== undefined) {
    throw new Error(`kairos links: a ${claims.kind} link carries no target URL`);
  }
}

/** Signs `claims` into a URL-safe token; throws when the claims are incomplete or a click target is not http(s). */
export function signLinkToken(claims: LinkClaims, secret: string): string {
  if (secret === '') throw new Error('kairos links: the signing secret is empty');
  checkClaims(claims);
  const body: Record<string, string> = { k: KIND_CODES[claims.kind], c: claims.customer_id, t: claims.trigger_id, m: claims.campaign };
  if (claims.url !== undefined) body.u = claims.url;
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  return `${payload}.${mac(payload, secret).toString('base64url')}`;
}

/**
 * Verifies a token against the current secret and any previous ones (key rotation), comparing
 * MACs in constant time. Returns the claims, or why the token is refused.
 */
export function verifyLinkToken(token: string, secrets: readonly string[]): LinkVerification {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]) || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return { ok: false, reason: 'malformed' };
  const [payload, signature] = parts;
  const given = Buffer.from(signature, 'base64url');
  const valid = secrets.some((secret) => {
    if (secret === '') return false;
    const expected = mac(payload, secret);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) return { ok: false, reason: 'bad signature' };
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const kind = typeof body.k === 'string' ? KIND_BY_CODE[body.k] : undefined;
  if (kind === undefined) return { ok: false, reason: 'unknown kind' };
  const claims: LinkClaims = { kind, customer_id: String(body.c ?? ''), trigger_id: String(body.t ?? ''), campaign: String(body.m ?? '') };
  if (typeof body.u === 'string') claims.url = body.u;
  try {
    checkClaims(claims);
  } catch (error) {
    return { ok: false, reason: (error as Error).message.replace(/^kairos links: /, '') };
  }
  return { ok: true, claims };
}

/** The ids every link of one email carries. */
export interface LinkContext {
  customer_id: string;
  trigger_id: string;
  campaign: string;
}

/** Builds the tracking URLs of one email under the tracker's base URL. */
export class LinkSigner {
  private readonly base: string;

  constructor(
    private readonly secret: string,
    baseUrl: string,
  ) {
    if (!isRedirectTarget(baseUrl)) throw new Error(`kairos links: base URL "${baseUrl}" is not an absolute http(s) URL`);
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private url(claims: LinkClaims): string {
    return `${this.base}/${LINK_PATHS[claims.kind]}/${signLinkToken(claims, this.secret)}`;
  }

  /** A click-tracking URL that redirects to `target` (which must be http(s)). */
  click(target: string, context: LinkContext): string {
    return this.url({ kind: 'click', ...context, url: target });
  }

  /** The open-tracking pixel URL. */
  open(context: LinkContext): string {
    return this.url({ kind: 'open', ...context });
  }

  /** The one-click unsubscribe URL (RFC 8058: POST to it unsubscribes; GET shows a page). */
  unsubscribe(context: LinkContext): string {
    return this.url({ kind: 'unsubscribe', ...context });
  }

  /** Just the unsubscribe token, for the mailto: variant of List-Unsubscribe. */
  unsubscribeToken(context: LinkContext): string {
    return signLinkToken({ kind: 'unsubscribe', ...context }, this.secret);
  }
}
