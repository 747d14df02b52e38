/**
 * The tracker's public routes: every path carries one signed link token (core/links.ts), and
 * nothing happens for a token that does not verify as the kind its path serves.
 *
 *   GET|HEAD /o/<token>   open pixel: always a 1x1 GIF; only a valid open token publishes email_open
 *   GET|HEAD /c/<token>   302 to the signed target for a valid click token (email_click); else a 4xx page
 *   GET|HEAD /u/<token>   confirmation page with a POST form; changes nothing (scanners prefetch links)
 *   POST     /u/<token>   RFC 8058 one-click (body List-Unsubscribe=One-Click) or the page's form: unsubscribe
 *   GET|HEAD /p/<token>   preferences page: unsubscribe from all marketing, or re-subscribe
 *   POST     /p/<token>   action=unsubscribe|resubscribe
 *
 * Opens and clicks wait for Kafka at most ANSWER_WAIT_MS (so an event is in Kafka before its
 * answer, unless the broker is slow or away); an event not taken yet is kept in the spool
 * (Redis, spool.ts) before the answer goes out and published in the background, again and
 * again while the broker is away, until it has been in the spool TRACKER_SPOOL_AGE (then the
 * drainers take it, so it is not published by both) or, when the spool could not keep it, for up to
 * PUBLISH_RETRY_MS. A tracker killed meanwhile leaves it in the spool, which any instance's
 * drainer publishes later. An unsubscribe or re-subscribe is answered
 * only once Kafka took its event, or with a 503 page asking to retry (its event_id makes the
 * retry harmless).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { LINK_PATHS, MAX_TOKEN_LENGTH, signLinkToken, verifyLinkToken, type LinkKeyring, type LinkKind, type LinkRefusal, type VerifiedLinkClaims } from '../core/links';
import type { BehaviorEvent } from '../core/types';
import type { RouteHandler } from '../kit/http';
import { invalid, param } from '../kit/http-params';
import { isBrokerAway } from '../kit/kafka';
import type { Logger } from '../kit/logger';
import { hitEvent, type HitPolicy, type HitRequest, type TrackerEventType } from './hits';
import { DEFAULT_SPOOL_AGE_MS, type SpooledEvents } from './spool';
import {
  badFormPage,
  PAGE_HEADERS,
  preferencesPage,
  preferencesSavedPage,
  refusedPage,
  retryLaterPage,
  unsubscribeConfirmPage,
  unsubscribedPage,
  type Page,
} from './pages';

/** Publishes one event on behavior.events (keyed by customer_id); rejects when it cannot. */
export interface EventPublisher {
  publish(event: BehaviorEvent): Promise<void>;
}

/** The largest POST body read: the forms and RFC 8058 send a few dozen bytes. */
export const MAX_FORM_BYTES = 4096;
/** Opens and clicks whose events are still on their way to Kafka; beyond this they are dropped (and counted). */
export const MAX_PENDING_EVENTS = 10_000;
/** How long an open or a click waits for Kafka to take its event before the answer goes out anyway. */
export const ANSWER_WAIT_MS = 500;
/** How long an open's or a click's event is retried while the broker is away (a broker restart, an outage), unless spooled. */
export const PUBLISH_RETRY_MS = 10 * 60_000;

/** 43 bytes: a transparent 1x1 GIF. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export interface TrackerMetrics {
  /** Valid hits by event type and what became of the event. */
  published: Counter<'type' | 'result'>;
  /** Refused links by route and reason (a LinkRefusal, or `wrong kind`). */
  refused: Counter<'route' | 'reason'>;
}

export function createTrackerMetrics(registry: Registry): TrackerMetrics {
  return {
    published: new Counter({
      name: 'kairos_tracker_events_total',
      help: 'Events of valid link hits by type and result: published, failed (Kafka refused it), timeout (a POST stopped waiting; it may still arrive), dropped (too many pending), spooled (kept in Redis while Kafka was slow), spool_full, spool_failed (kept in memory only), recovered (published from the spool by a drainer), handed_over (spooled, Kafka still away after TRACKER_SPOOL_AGE: left to the drainers), spool_dropped (a spooled event Kafka refused for good)',
      labelNames: ['type', 'result'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'kairos_tracker_refused_total',
      help: 'Link hits refused (4xx, no event) by route and reason',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export interface TrackerDeps {
  keyring: LinkKeyring;
  publisher: EventPublisher;
  clock: () => number;
  policy: HitPolicy;
  /** How long an unsubscribe or re-subscribe waits for Kafka before answering 503. */
  publishTimeoutMs: number;
  logger: Logger;
  metrics: TrackerMetrics;
  /** Random ids for click events; randomUUID when absent. */
  random?: () => string;
  /** Where a refused unsubscribe or preferences link sends people instead (TRACKER_HELP_URL). */
  helpUrl?: string | null;
  /** Where an open or click whose event Kafka did not take in time waits until published (none: in memory only). */
  spool?: SpooledEvents;
  /**
   * How long a spooled event is its own request's to publish (TRACKER_SPOOL_AGE, 30 s unless
   * given): the drainers publish what is older, so the request stops retrying it then.
   */
  spoolAgeMs?: number;
}

/** A spooled event the request stopped retrying: the spool's drainers publish it (TrackerDeps.spoolAgeMs). */
class HandedOverError extends Error {
  override readonly name = 'HandedOverError';
}

type Verified = { ok: true; claims: VerifiedLinkClaims } | { ok: false; reason: LinkRefusal | 'wrong kind' | 'malformed' };

/**
 * The path segment after `/<kind>/`: one token's characters (base64url and '.'), bounded, checked
 * at the edge with the kit's parameter helper before any MAC is computed. The tracker answers a
 * bad one with its own page rather than the kit's JSON 400, so it reads the result instead of throwing.
 */
export const TOKEN_PARAM = param(`a link token of 1 to ${MAX_TOKEN_LENGTH} characters A-Z a-z 0-9 - _ .`, (raw) =>
  raw.length >= 1 && raw.length <= MAX_TOKEN_LENGTH && /^[A-Za-z0-9_.-]+$/.test(raw) ? raw : invalid('is not a link token'),
);

/** The token of `/<path>/<token>` (no query, no further segment), verified as a token of `kind`. */
function verifyPath(url: URL, kind: LinkKind, deps: TrackerDeps): Verified {
  const prefix = `/${LINK_PATHS[kind]}/`;
  const token = TOKEN_PARAM.safeParse(url.pathname.slice(prefix.length));
  if (!token.success || url.search !== '') return { ok: false, reason: 'malformed' };
  const result = verifyLinkToken(token.data, deps.keyring, deps.clock());
  if (!result.ok) return result;
  if (result.claims.kind !== kind) return { ok: false, reason: 'wrong kind' };
  return result;
}

function sendPage(res: ServerResponse, page: Page, headers: Record<string, string> = {}): void {
  res.writeHead(page.status, { ...PAGE_HEADERS, ...headers, 'content-length': String(Buffer.byteLength(page.html)) });
  res.end(page.html);
}

function refuse(res: ServerResponse, route: string, reason: string, deps: TrackerDeps): void {
  deps.metrics.refused.inc({ route, reason });
  deps.logger.debug({ route, reason }, 'link refused');
  const subscription = route === 'unsubscribe' || route === 'preferences' ? { helpUrl: deps.helpUrl ?? null } : null;
  sendPage(res, refusedPage(reason === 'expired', subscription));
}

function requestOf(req: IncomingMessage, via?: HitRequest['via']): HitRequest {
  const agent = req.headers['user-agent'];
  return { method: req.method ?? 'GET', userAgent: typeof agent === 'string' ? agent.slice(0, 512) : undefined, via };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  return Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]).finally(() => clearTimeout(timer));
}

/** Reads a form body of at most MAX_FORM_BYTES: 'too_large' when the client sends more, 'gone' when it left mid-body. */
async function readBody(req: IncomingMessage): Promise<Buffer | 'too_large' | 'gone'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_FORM_BYTES) return 'too_large';
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_FORM_BYTES) return 'too_large';
      chunks.push(chunk as Buffer);
    }
  } catch {
    return 'gone'; // the connection broke mid-body: nobody to answer
  }
  return Buffer.concat(chunks);
}

/**
 * The fields of a form post: application/x-www-form-urlencoded (browsers, RFC 8058 senders)
 * or multipart/form-data (RFC 8058 allows it); null for any other content type.
 */
export function formFields(contentType: string | undefined, body: Buffer): Map<string, string> | null {
  const type = (contentType ?? '').toLowerCase();
  const fields = new Map<string, string>();
  if (type.startsWith('application/x-www-form-urlencoded') || type === '') {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) if (!fields.has(name)) fields.set(name, value);
    return fields;
  }
  if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? '');
    const marker = boundary?.[1] ?? boundary?.[2];
    if (marker === undefined) return null;
    for (const part of body.toString('utf8').split(`--${marker}`)) {
      const split = part.indexOf('\r\n\r\n');
      if (split < 0) continue;
      const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(part.slice(0, split))?.[1];
      if (name !== undefined && !fields.has(name)) fields.set(name, part.slice(split + 4).replace(/\r\n$/, ''));
    }
    return fields;
  }
  return null;
}

/** The tracker's routes, each keyed `"METHOD /prefix"`; all public (the token is the credential). */
export function trackerRoutes(deps: TrackerDeps): Record<string, RouteHandler> {
  const random = deps.random ?? randomUUID;
  let pending = 0;

  const build = (type: TrackerEventType, claims: VerifiedLinkClaims, request: HitRequest): BehaviorEvent =>
    hitEvent({ type, claims, request, nowMs: deps.clock(), policy: deps.policy, random });

  /**
   * Publishes, again while the broker is away, for up to PUBLISH_RETRY_MS, or until the next try
   * would come at or after `handOverAt()` (when the drainers take the spooled event): then throws
   * HandedOverError.
   */
  const publishRetrying = async (event: BehaviorEvent, handOverAt: () => number): Promise<void> => {
    const giveUpAt = Date.now() + PUBLISH_RETRY_MS;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await deps.publisher.publish(event);
      } catch (error) {
        if (!isBrokerAway(error) || Date.now() >= giveUpAt) throw error;
        const pause = Math.min(5000, 500 * attempt);
        if (Date.now() + pause >= handOverAt()) throw new HandedOverError('left to the spool drainers');
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  };

  /** Opens and clicks: the answer waits for Kafka ANSWER_WAIT_MS at most; the event goes on in the background. */
  const publishThenAnswer = async (event: BehaviorEvent): Promise<void> => {
    const type = event.type;
    if (pending >= MAX_PENDING_EVENTS) {
      // Too many waiting in memory: the spool's drainer publishes it (or, without one, it is dropped).
      const kept = (await deps.spool?.keep(event).catch(() => false)) ?? false;
      deps.metrics.published.inc({ type, result: kept ? 'spooled' : 'dropped' });
      if (!kept) deps.logger.warn({ type, pending }, 'tracker event dropped: too many events waiting for Kafka');
      return;
    }
    pending += 1;
    let delivered = false;
    let spooled: Promise<boolean> | null = null;
    // Set once the spool kept the event: from then on the drainers publish it.
    let handOverAt = Number.POSITIVE_INFINITY;
    const published = publishRetrying(event, () => handOverAt).then(
      () => {
        delivered = true;
        deps.metrics.published.inc({ type, result: 'published' });
        // Out of the spool once Kafka has it (the HDEL follows the spool's HSET on the connection);
        // this process's drainer leaves the entry alone until then (keep's `publishing`).
        return spooled?.then((kept) => (kept ? deps.spool?.done(event.event_id) : undefined)).catch((err: unknown) => {
          deps.logger.warn({ err, type, eventId: event.event_id }, 'tracker event published but not removed from the spool; it may be published once more (same event_id)');
        });
      },
      (err: unknown) => {
        if (err instanceof HandedOverError) {
          deps.metrics.published.inc({ type, result: 'handed_over' });
          deps.logger.warn({ type, eventId: event.event_id }, 'tracker event still not taken by Kafka; left in the spool for the drainers');
          return;
        }
        deps.metrics.published.inc({ type, result: 'failed' });
        deps.logger.error({ err, type, eventId: event.event_id, spooled: spooled !== null }, spooled === null ? 'tracker event lost: Kafka did not take it' : 'tracker event not published in time; left in the spool');
      },
    ).finally(() => {
      pending -= 1;
    });
    const answer = await withTimeout(published, ANSWER_WAIT_MS);
    if (answer.done || delivered || deps.spool === undefined) return;
    // Kafka is slow or away: the event goes to the spool before the answer, so a kill now does not lose it.
    const keptAt = Date.now();
    spooled = deps.spool.keep(event, published).then(
      (kept) => {
        deps.metrics.published.inc({ type, result: kept ? 'spooled' : 'spool_full' });
        if (kept) handOverAt = keptAt + (deps.spoolAgeMs ?? DEFAULT_SPOOL_AGE_MS);
        return kept;
      },
      (err: unknown) => {
        deps.metrics.published.inc({ type, result: 'spool_failed' });
        deps.logger.warn({ err, type, eventId: event.event_id }, 'tracker event not spooled (Redis); it waits in memory only');
        return false;
      },
    );
    await withTimeout(spooled, ANSWER_WAIT_MS);
  };

  /** Unsubscribes and re-subscribes: true once Kafka took the event, false when the customer should retry. */
  const publishNow = async (event: BehaviorEvent): Promise<boolean> => {
    const type = event.type;
    const sent = deps.publisher.publish(event).then(
      () => true,
      (err: unknown) => {
        deps.logger.error({ err, type, eventId: event.event_id }, 'tracker event not published; the customer is asked to retry');
        return false;
      },
    );
    const result = await withTimeout(sent, deps.publishTimeoutMs);
    if (!result.done) {
      deps.metrics.published.inc({ type, result: 'timeout' });
      deps.logger.warn({ type, eventId: event.event_id, timeoutMs: deps.publishTimeoutMs }, 'Kafka did not take the event in time; answered 503');
      return false;
    }
    deps.metrics.published.inc({ type, result: result.value ? 'published' : 'failed' });
    return result.value;
  };

  const open: RouteHandler = async (req, res, url) => {
    const verified = verifyPath(url, 'open', deps);
    if (verified.ok) await publishThenAnswer(build('email_open', verified.claims, requestOf(req)));
    else deps.metrics.refused.inc({ route: 'open', reason: verified.reason });
    // A broken image helps no one: the pixel answers whatever the token.
    res.writeHead(200, {
      'content-type': 'image/gif',
      'content-length': String(PIXEL_GIF.length),
      'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
      pragma: 'no-cache',
      expires: '0',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(PIXEL_GIF);
  };

  const click: RouteHandler = async (req, res, url) => {
    const verified = verifyPath(url, 'click', deps);
    if (!verified.ok) return refuse(res, 'click', verified.reason, deps);
    // The signed URL, re-serialized: a valid Location header whatever the signer was given.
    const target = new URL(verified.claims.url as string).href;
    await publishThenAnswer(build('email_click', verified.claims, requestOf(req)));
    res.writeHead(302, { location: target, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff', 'content-length': '0' });
    res.end();
  };

  const unsubscribePage: RouteHandler = (_req, res, url) => {
    const verified = verifyPath(url, 'unsubscribe', deps);
    if (!verified.ok) return refuse(res, 'unsubscribe', verified.reason, deps);
    sendPage(res, unsubscribeConfirmPage());
  };

  const preferencesHref = (claims: VerifiedLinkClaims): string => {
    const { customer_id, trigger_id, campaign, variant } = claims;
    const token = signLinkToken({ kind: 'preferences', customer_id, trigger_id, campaign, ...(variant === undefined ? {} : { variant }) }, deps.keyring.current, { nowMs: deps.clock() });
    return `../${LINK_PATHS.preferences}/${token}`;
  };

  /** Reads and checks a form post; answers the 4xx itself and returns null when it is not one. */
  const readForm = async (req: IncomingMessage, res: ServerResponse): Promise<Map<string, string> | null> => {
    const body = await readBody(req);
    if (body === 'gone') {
      res.destroy();
      return null;
    }
    if (body === 'too_large') {
      sendPage(res, badFormPage(413), { connection: 'close' });
      return null;
    }
    const fields = formFields(req.headers['content-type'], body);
    if (fields === null) sendPage(res, badFormPage(415));
    return fields;
  };

  const unsubscribe: RouteHandler = async (req, res, url) => {
    const verified = verifyPath(url, 'unsubscribe', deps);
    if (!verified.ok) return refuse(res, 'unsubscribe', verified.reason, deps);
    const fields = await readForm(req, res);
    if (fields === null) return;
    if (fields.get('List-Unsubscribe') !== 'One-Click') return sendPage(res, badFormPage(400));
    const via = fields.get('source') === 'page' ? 'page' : 'one_click';
    const published = await publishNow(build('unsubscribe', verified.claims, requestOf(req, via)));
    sendPage(res, published ? unsubscribedPage(preferencesHref(verified.claims)) : retryLaterPage(), published ? {} : { 'retry-after': '60' });
  };

  const preferences: RouteHandler = (_req, res, url) => {
    const verified = verifyPath(url, 'preferences', deps);
    if (!verified.ok) return refuse(res, 'preferences', verified.reason, deps);
    sendPage(res, preferencesPage());
  };

  const savePreferences: RouteHandler = async (req, res, url) => {
    const verified = verifyPath(url, 'preferences', deps);
    if (!verified.ok) return refuse(res, 'preferences', verified.reason, deps);
    const fields = await readForm(req, res);
    if (fields === null) return;
    const action = fields.get('action');
    if (action !== 'unsubscribe' && action !== 'resubscribe') return sendPage(res, badFormPage(400));
    const published = await publishNow(build(action, verified.claims, requestOf(req, 'preferences')));
    sendPage(res, published ? preferencesSavedPage(action) : retryLaterPage(), published ? {} : { 'retry-after': '60' });
  };

  return {
    'GET /o/': open,
    'HEAD /o/': open,
    'GET /c/': click,
    'HEAD /c/': click,
    'GET /u/': unsubscribePage,
    'HEAD /u/': unsubscribePage,
    'POST /u/': unsubscribe,
    'GET /p/': preferences,
    'HEAD /p/': preferences,
    'POST /p/': savePreferences,
  };
}
