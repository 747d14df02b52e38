/**
 * What one valid hit of a tracked link becomes: the BehaviorEvent the tracker publishes on
 * behavior.events. Pure (the time and the random id come in as parameters), unit-tested.
 *
 * event_id, per type (docs/topics.md, "Events the tracker publishes"):
 *   email_open   `trk-o-<nonce>-<UTC day>`   at most one open per email and day: mail clients
 *                reload images on every view, so reopens are not counted twice a day
 *   email_click  `trk-c-<nonce>-<random>`    every click counts
 *   unsubscribe  `trk-u-<nonce>`             the same link hit again is the same event: harmless
 *   resubscribe  `trk-r-<nonce>-<second>`    a double submit is one event
 * where `<nonce>` is the link token's own nonce (unique per link of each email).
 *
 * message_id is the trigger_id: the email's Message-ID is `<trigger_id@domain>` and every
 * EmailOutcome carries the trigger_id (SES replaces the Message-ID; its own id is the
 * outcome's ses_message_id).
 *
 * Likely machine hits are marked, never dropped (properties.prefetch, properties.suspect).
 */
import type { VerifiedLinkClaims } from '../core/links';
import { RECORD_LIMITS } from '../core/limits';
import { behaviorEvent, type BehaviorEvent } from '../core/types';

export type TrackerEventType = 'email_open' | 'email_click' | 'unsubscribe' | 'resubscribe';

/** What the tracker knows of the request beyond the link. */
export interface HitRequest {
  method: string;
  userAgent: string | undefined;
  /** How an unsubscribe or re-subscribe came in. */
  via?: 'one_click' | 'page' | 'preferences';
}

export interface HitPolicy {
  /** A click or open this soon after the link was signed (the email rendered) is marked suspect (fast_click, fast_open). */
  suspectWithinMs: number;
}

export const DEFAULT_SUSPECT_WITHIN_MS = 30_000;

/**
 * User agents of link scanners, security gateways and HTTP libraries: their hits are marked
 * `suspect=scanner_ua`. A list of substrings, matched ignoring case; deliberately short (a
 * false "suspect" costs little, the event is still there).
 */
export const SCANNER_USER_AGENT_HINTS: readonly string[] = [
  'bot',
  'crawler',
  'spider',
  'scanner',
  'preview',
  'headless',
  'barracuda',
  'mimecast',
  'proofpoint',
  'safelinks',
  'symantec',
  'forcepoint',
  'trendmicro',
  'python-requests',
  'python-urllib',
  'go-http-client',
  'curl/',
  'wget/',
  'java/',
  'okhttp',
  'libwww',
  'httpclient',
];

const DAY_MS = 86_400_000;

/** Why a hit looks like a machine's rather than a person's; empty when nothing does. */
export function suspicions(type: TrackerEventType, claims: Pick<VerifiedLinkClaims, 'issued_at'>, request: HitRequest, nowMs: number, policy: HitPolicy): string[] {
  const found: string[] = [];
  if ((type === 'email_click' || type === 'email_open') && nowMs - claims.issued_at < policy.suspectWithinMs) {
    found.push(type === 'email_click' ? 'fast_click' : 'fast_open');
  }
  const agent = (request.userAgent ?? '').toLowerCase();
  if (agent.trim() === '') found.push('no_user_agent');
  else if (SCANNER_USER_AGENT_HINTS.some((hint) => agent.includes(hint))) found.push('scanner_ua');
  return found;
}

/** The event_id of a hit (see the module comment). `random` is only used for clicks. */
export function hitEventId(type: TrackerEventType, nonce: string, nowMs: number, random: () => string): string {
  switch (type) {
    case 'email_open':
      return `trk-o-${nonce}-${Math.floor(nowMs / DAY_MS)}`;
    case 'email_click':
      return `trk-c-${nonce}-${random()}`;
    case 'unsubscribe':
      return `trk-u-${nonce}`;
    case 'resubscribe':
      return `trk-r-${nonce}-${Math.floor(nowMs / 1000)}`;
  }
}

/** The BehaviorEvent of one valid hit. */
export function hitEvent(input: {
  type: TrackerEventType;
  claims: VerifiedLinkClaims;
  request: HitRequest;
  nowMs: number;
  policy: HitPolicy;
  /** A fresh random id (a UUID) for click event ids. */
  random: () => string;
}): BehaviorEvent {
  const { type, claims, request, nowMs } = input;
  const properties: Record<string, string> = { source: 'tracker', seconds_since_sent: String(Math.max(0, Math.floor((nowMs - claims.issued_at) / 1000))) };
  if (claims.variant !== undefined) properties.variant = claims.variant;
  if (type === 'email_click' && claims.url !== undefined) {
    if (claims.url.length <= RECORD_LIMITS.BehaviorEvent.maps.properties.valueChars) properties.url = claims.url;
    else properties.url_omitted = 'too_long';
  }
  if (request.via !== undefined) properties.via = request.via;
  if (request.method === 'HEAD') properties.prefetch = 'head';
  const suspect = suspicions(type, claims, request, nowMs, input.policy);
  if (suspect.length > 0) properties.suspect = suspect.join(',');
  return behaviorEvent({
    event_id: hitEventId(type, claims.nonce, nowMs, input.random),
    customer_id: claims.customer_id,
    type,
    occurred_at: nowMs,
    campaign_id: claims.campaign,
    message_id: claims.trigger_id,
    properties,
  });
}
