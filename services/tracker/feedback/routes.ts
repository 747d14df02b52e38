/**
 * POST /ses/notifications: Amazon SNS posts SES event notifications here (HTTPS subscription
 * of the topic the configuration set's event destination publishes to). The route is PUBLIC:
 * SNS sends no bearer token, so the tracker must mount it as a public route; the SNS
 * signature is what authenticates a message. docs/operations.md, "SES feedback".
 *
 * Order of checks, cheapest and safest first: body size, JSON, shape (zod), the
 * x-amz-sns-message-type header, TopicArn on SNS_TOPIC_ARNS, Timestamp not older than
 * SNS_MAX_AGE, then the signature (the certificate is fetched only from an allow-listed URL),
 * then the MessageId claim (a repeat is answered 200 and not acted on again).
 *
 * A Notification carrying an SES event is acted on (core/feedback/ses-events.ts): hard bounces
 * and complaints suppress the address, a Send event records the trigger's SES message id, the
 * deliverability guard counts sends, hard bounces and complaints per campaign and pauses one
 * whose rate passes its threshold, and every event becomes a BehaviorEvent (email_sent,
 * email_delivered, email_bounced, ...) on behavior.events when its customer is known.
 * No log line carries an address or the message text.
 */
import type { IncomingMessage } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { dayOf, guardDecision, interpretSesEvent, sesEventSchema, snsMessageSchema, timestampProblem, urlAllowed, type FeedbackActions, type SnsMessage } from '../../core/feedback';
import { behaviorEvent, type BehaviorEvent } from '../../core/types';
import { sendJson, type RouteHandler } from '../../kit/http';
import { HttpError } from '../../kit/http-params';
import type { Logger } from '../../kit/logger';
import type { SesFeedbackSettings } from './config';
import type { SnsSignatureVerifier } from './sns-verifier';
import type { FeedbackStore } from './store';

/** SNS messages are at most 256 KiB; JSON escaping inside the envelope can double that. */
export const MAX_SNS_BODY_BYTES = 512 * 1024;

/** Hands BehaviorEvents to behavior.events (keyed by customer_id); resolves once Kafka has them. */
export type EventPublisher = (events: BehaviorEvent[]) => Promise<void>;

export interface SesFeedbackDeps {
  store: FeedbackStore;
  verifier: SnsSignatureVerifier;
  settings: SesFeedbackSettings;
  publish: EventPublisher;
  logger: Logger;
  registry: Registry;
  clock: () => number;
  /** Visits a SubscribeURL (tests stub it); fetch with a timeout and no redirects by default. */
  confirmSubscription?: (url: string) => Promise<void>;
}

export interface SesFeedbackMetrics {
  sns: Counter<'type' | 'result'>;
  feedback: Counter<'kind' | 'result'>;
  suppressions: Counter<'reason'>;
  pauses: Counter<'reason'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function sesFeedbackMetrics(registry: Registry): SesFeedbackMetrics {
  return {
    sns: counter(registry, 'kairos_sns_messages_total', 'SNS messages posted to /ses/notifications, by Type and result (accepted, duplicate, refused_*)', ['type', 'result']),
    feedback: counter(registry, 'kairos_ses_feedback_events_total', 'SES events acted on, by kind and result (applied, unattributed: no customer known, ignored)', ['kind', 'result']),
    suppressions: counter(registry, 'kairos_ses_suppressions_total', 'Addresses put on the suppression list from SES feedback, by reason (invalid_address: a recipient that is not one mailbox)', ['reason']),
    pauses: counter(registry, 'kairos_campaign_pauses_total', 'Campaigns paused by the deliverability guard, by reason', ['reason']),
  };
}

/** The SES feedback routes, for the tracker to mount as PUBLIC (no bearer token). */
export function sesFeedbackRoutes(deps: SesFeedbackDeps): Record<string, RouteHandler> {
  return { 'POST /ses/notifications': sesNotificationHandler(deps) };
}

async function readBody(req: IncomingMessage, max: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > max) throw new HttpError(413, `the body is larger than ${max} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    if (signal.aborted) throw new HttpError(400, 'the client went away');
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > max) throw new HttpError(413, `the body is larger than ${max} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseEnvelope(body: Buffer): SnsMessage {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON; expected an SNS message');
  }
  const parsed = snsMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, `not an SNS message: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export function sesNotificationHandler(deps: SesFeedbackDeps): RouteHandler {
  const { store, verifier, settings, logger, clock } = deps;
  const metrics = sesFeedbackMetrics(deps.registry);
  const log = logger.child({ component: 'ses-feedback' });
  const confirm = deps.confirmSubscription ?? ((url: string) => visit(url, settings.fetchTimeoutMs));
  const claimTtlMs = Math.max(2 * settings.maxAgeMs, 3_600_000);

  return async (req, res, _url, context) => {
    let type = 'unknown';
    const refuse = (status: number, result: string, reason: string): never => {
      metrics.sns.inc({ type, result });
      throw new HttpError(status, reason);
    };
    let message: SnsMessage;
    try {
      message = parseEnvelope(await readBody(req, MAX_SNS_BODY_BYTES, context.signal));
    } catch (error) {
      if (error instanceof HttpError) refuse(error.status, 'refused_malformed', error.message);
      throw error;
    }
    type = message.Type;
    const headerType = req.headers['x-amz-sns-message-type'];
    if (headerType !== undefined && headerType !== message.Type) refuse(400, 'refused_malformed', 'x-amz-sns-message-type does not match the message Type');
    if (!settings.topicArns.includes(message.TopicArn)) {
      refuse(403, 'refused_topic', settings.topicArns.length === 0 ? 'no SNS topic is accepted: set SNS_TOPIC_ARNS' : 'TopicArn is not on SNS_TOPIC_ARNS');
    }
    const stale = timestampProblem(message.Timestamp, clock(), settings.maxAgeMs);
    if (stale !== null) refuse(400, 'refused_stale', stale);
    const verified = await verifier.verify(message);
    if (!verified.ok) {
      log.warn({ type, status: verified.status, reason: verified.reason }, 'SNS message refused');
      refuse(verified.status, 'refused_signature', verified.reason);
    }
    if (!(await store.claimSnsMessage(message.MessageId, claimTtlMs))) {
      metrics.sns.inc({ type, result: 'duplicate' });
      sendJson(res, 200, { status: 'duplicate' });
      return;
    }
    try {
      const answer = await act(message);
      metrics.sns.inc({ type, result: 'accepted' });
      sendJson(res, 200, answer);
    } catch (error) {
      await store.releaseSnsMessage(message.MessageId); // SNS retries; the next attempt is handled
      if (error instanceof HttpError) metrics.sns.inc({ type, result: `refused_${error.status}` });
      throw error;
    }
  };

  async function act(message: SnsMessage): Promise<Record<string, unknown>> {
    switch (message.Type) {
      case 'SubscriptionConfirmation': {
        if (!urlAllowed(message.SubscribeURL, settings.subscribeUrlPattern)) throw new HttpError(403, 'SubscribeURL is not on the allow-list (SNS_SUBSCRIBE_URL_PATTERN); not visited');
        try {
          await confirm(message.SubscribeURL);
        } catch (error) {
          log.error({ topicArn: message.TopicArn, reason: error instanceof Error ? error.message : String(error) }, 'SNS subscription confirmation failed');
          throw new HttpError(502, 'the subscription could not be confirmed; SNS will send the confirmation again');
        }
        log.info({ topicArn: message.TopicArn }, 'SNS subscription confirmed');
        return { status: 'confirmed' };
      }
      case 'UnsubscribeConfirmation':
        log.warn({ topicArn: message.TopicArn }, 'SNS says this endpoint was unsubscribed from the topic; SES feedback stops arriving until it is subscribed again');
        return { status: 'noted' };
      case 'Notification':
        return notification(message);
    }
  }

  async function notification(message: Extract<SnsMessage, { Type: 'Notification' }>): Promise<Record<string, unknown>> {
    let json: unknown;
    try {
      json = JSON.parse(message.Message);
    } catch {
      json = undefined;
    }
    const parsed = sesEventSchema.safeParse(json);
    if (!parsed.success) {
      metrics.feedback.inc({ kind: 'unknown', result: 'unreadable' });
      log.warn({ messageId: message.MessageId }, 'SNS notification is not an SES event; ignored');
      return { status: 'ignored', reason: 'the Message is not an SES event' };
    }
    const interpretation = interpretSesEvent(parsed.data, clock());
    if (!interpretation.ok) {
      metrics.feedback.inc({ kind: 'other', result: 'ignored' });
      return { status: 'ignored', reason: interpretation.ignored };
    }
    const actions = interpretation.actions;
    await apply(actions);
    return { status: 'applied', kind: actions.kind, suppressed: actions.suppress.length };
  }

  async function apply(actions: FeedbackActions): Promise<void> {
    const { attribution } = actions;
    if (actions.unparseable.length > 0) metrics.suppressions.inc({ reason: 'invalid_address' }, actions.unparseable.length);
    for (const entry of actions.suppress) {
      await store.suppress(entry.mailbox, entry.reason, actions.occurredAt);
      metrics.suppressions.inc({ reason: entry.reason });
    }
    if (actions.sent !== null) await store.recordSent(actions.sent.triggerId, actions.sent.messageId, settings.sentRecordTtlMs);
    if (actions.guard !== null && attribution.campaign !== null) await guard(attribution.campaign, actions);
    const customerId = attribution.customerId;
    if (customerId !== null) {
      await deps.publish([
        behaviorEvent({
          event_id: actions.eventId,
          customer_id: customerId,
          type: actions.eventType,
          occurred_at: actions.occurredAt,
          campaign_id: attribution.campaign,
          message_id: actions.sesMessageId,
          properties: actions.properties,
        }),
      ]);
    }
    metrics.feedback.inc({ kind: actions.kind, result: customerId === null ? 'unattributed' : 'applied' });
    log.info(
      { kind: actions.kind, sesMessageId: actions.sesMessageId, triggerId: attribution.triggerId, campaign: attribution.campaign, suppressed: actions.suppress.length, unparseable: actions.unparseable.length, attributed: customerId !== null },
      'SES feedback applied',
    );
  }

  async function guard(campaign: string, actions: FeedbackActions): Promise<void> {
    const kind = actions.guard as 'send' | 'bounce' | 'complaint';
    const counts = await store.count(campaign, kind, dayOf(actions.occurredAt), actions.eventId, settings.guard.windowDays);
    if (kind === 'send') return; // a send only lowers the rates
    const decision = guardDecision(counts, settings.guard);
    if (!decision.pause) return;
    const at = clock();
    if (await store.pause(campaign, { at, reason: decision.reason, detail: decision.detail })) {
      metrics.pauses.inc({ reason: decision.reason });
      log.error({ campaign, reason: decision.reason, detail: decision.detail, windowDays: settings.guard.windowDays }, 'campaign paused by the deliverability guard; resume it with `npm run campaigns -- resume <name>`');
    }
  }
}

/** GETs a SubscribeURL: no redirects, a timeout, a 2xx expected; the body is not read. */
async function visit(url: string, timeoutMs: number): Promise<void> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`SubscribeURL answered ${response.status}`);
}
