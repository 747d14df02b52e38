/**
 * SES feedback, pure: the event a configuration set publishes to SNS (eventType Send,
 * Delivery, Bounce, Complaint, Reject, DeliveryDelay, Rendering Failure; the older
 * notificationType Bounce/Complaint/Delivery format too) parsed with zod, and what Kairos does
 * with each (interpretSesEvent): which addresses to suppress, which trigger SES took (the
 * SentMailLookup), what the deliverability guard counts, and the BehaviorEvent for analytics.
 *
 * Which email it was comes from the SES message tags the renderer sets (`trigger_id`,
 * `campaign`, `variant`, `customer_id` or `customer_b64`), else from the original headers
 * (`X-Kairos-Trigger-Id`, `X-Kairos-Campaign`) when the event destination includes them.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseMailbox, type Mailbox, type MailboxProblem } from '../recipients';

const recipient = z.object({ emailAddress: z.string().max(2048) }).passthrough();
const time = z.string().max(64);

const mailSchema = z
  .object({
    messageId: z.string().min(1).max(256),
    timestamp: time.optional(),
    headers: z.array(z.object({ name: z.string().max(256), value: z.string().max(16_384) })).max(500).optional(),
    tags: z.record(z.string().max(256), z.array(z.string().max(256)).max(50)).optional(),
  })
  .passthrough();

const payload = {
  mail: mailSchema,
  send: z.object({}).passthrough().optional(),
  delivery: z.object({ timestamp: time.optional(), recipients: z.array(z.string().max(2048)).max(100).optional(), processingTimeMillis: z.number().optional() }).passthrough().optional(),
  bounce: z
    .object({
      bounceType: z.string().max(64),
      bounceSubType: z.string().max(64).optional(),
      bouncedRecipients: z.array(recipient).max(100),
      timestamp: time.optional(),
      feedbackId: z.string().max(256).optional(),
    })
    .passthrough()
    .optional(),
  complaint: z
    .object({
      complainedRecipients: z.array(recipient).max(100),
      timestamp: time.optional(),
      feedbackId: z.string().max(256).optional(),
      complaintFeedbackType: z.string().max(64).optional(),
      complaintSubType: z.string().max(64).nullable().optional(),
    })
    .passthrough()
    .optional(),
  reject: z.object({ reason: z.string().max(1024).optional() }).passthrough().optional(),
  deliveryDelay: z.object({ timestamp: time.optional(), delayType: z.string().max(64).optional(), delayedRecipients: z.array(recipient).max(100).optional() }).passthrough().optional(),
  failure: z.object({ errorMessage: z.string().max(4096).optional(), templateName: z.string().max(256).optional() }).passthrough().optional(),
};

export const sesEventSchema = z.union([
  z.object({ eventType: z.string().min(1).max(64), ...payload }).passthrough(),
  z.object({ notificationType: z.string().min(1).max(64), ...payload }).passthrough(),
]);
export type SesEvent = z.infer<typeof sesEventSchema>;

export const SES_FEEDBACK_KINDS = ['send', 'delivery', 'bounce', 'complaint', 'reject', 'delay', 'rendering_failure'] as const;
export type SesFeedbackKind = (typeof SES_FEEDBACK_KINDS)[number];

/** The BehaviorEvent type of each kind (docs/topics.md). */
export const FEEDBACK_EVENT_TYPES: Record<SesFeedbackKind, string> = {
  send: 'email_sent',
  delivery: 'email_delivered',
  bounce: 'email_bounced',
  complaint: 'email_complained',
  reject: 'email_rejected',
  delay: 'email_delayed',
  rendering_failure: 'email_rendering_failed',
};

const KIND_OF: Record<string, SesFeedbackKind> = {
  Send: 'send',
  Delivery: 'delivery',
  Bounce: 'bounce',
  Complaint: 'complaint',
  Reject: 'reject',
  DeliveryDelay: 'delay',
  'Rendering Failure': 'rendering_failure',
  RenderingFailure: 'rendering_failure',
};

export interface Attribution {
  triggerId: string | null;
  campaign: string | null;
  variant: string | null;
  customerId: string | null;
}

export interface SuppressionAction {
  mailbox: Mailbox;
  reason: 'bounced' | 'complained';
}

export interface FeedbackActions {
  kind: SesFeedbackKind;
  sesMessageId: string;
  /** When it happened at SES (epoch ms); `receivedAt` when the event names no time. */
  occurredAt: number;
  attribution: Attribution;
  /** Hard bounces and complaints: the addresses to put on the suppression list. */
  suppress: SuppressionAction[];
  /** Recipients that were not exactly one mailbox (never the value: the parser's problem). */
  unparseable: MailboxProblem[];
  /** Send: SES took the email of this trigger. */
  sent: { triggerId: string; messageId: string } | null;
  /** What the deliverability guard counts for the campaign, if anything. */
  guard: 'send' | 'bounce' | 'complaint' | null;
  /** One id per SES event, the same for a redelivery of it: the guard's and the BehaviorEvent's dedupe key. */
  eventId: string;
  /** The BehaviorEvent type and properties (no address, no free text that could hold one). */
  eventType: string;
  properties: Record<string, string>;
}

export type Interpretation = { ok: true; actions: FeedbackActions } | { ok: false; ignored: string };

function firstTag(tags: Record<string, string[]> | undefined, name: string): string | null {
  const value = tags?.[name]?.[0];
  return value === undefined || value === '' ? null : value;
}

function header(headers: Array<{ name: string; value: string }> | undefined, name: string): string | null {
  const found = headers?.find((h) => h.name.toLowerCase() === name.toLowerCase());
  return found === undefined || found.value.trim() === '' ? null : found.value.trim();
}

/** SES tag values allow only [A-Za-z0-9_-]: a customer id outside that travels base64url-encoded. */
export const SES_TAG_VALUE = /^[A-Za-z0-9_-]{1,256}$/;

/** The customer_id / customer_b64 tag of a customer id, or null when neither fits SES's 256 characters. */
export function customerTag(customerId: string): { Name: 'customer_id' | 'customer_b64'; Value: string } | null {
  if (SES_TAG_VALUE.test(customerId)) return { Name: 'customer_id', Value: customerId };
  const encoded = Buffer.from(customerId, 'utf8').toString('base64url');
  return encoded.length <= 256 ? { Name: 'customer_b64', Value: encoded } : null;
}

/**
 * The `variant` tag of an experiment arm. SES tag values allow only letters, digits, `_` and
 * `-`, and a multivariate arm's name joins level names with `+` (`question+popular`); level
 * names are lower_snake_case (never a `-`), so `+` -> `-` is exact and reversible.
 */
export function variantTagValue(variant: string): string {
  return variant.replace(/\+/g, '-');
}

/** The arm name of a `variant` tag value (variantTagValue undone). */
export function variantOfTagValue(value: string): string {
  return value.replace(/-/g, '+');
}

const variantOrNull = (value: string | null): string | null => (value === null ? null : variantOfTagValue(value));

export function attributionOf(mail: SesEvent['mail']): Attribution {
  const tags = mail.tags;
  const b64 = firstTag(tags, 'customer_b64');
  const decoded = b64 === null ? null : Buffer.from(b64, 'base64url').toString('utf8');
  return {
    triggerId: firstTag(tags, 'trigger_id') ?? header(mail.headers, 'X-Kairos-Trigger-Id'),
    campaign: firstTag(tags, 'campaign') ?? header(mail.headers, 'X-Kairos-Campaign'),
    variant: variantOrNull(firstTag(tags, 'variant')),
    customerId: firstTag(tags, 'customer_id') ?? (decoded === null || decoded === '' ? null : decoded),
  };
}

/** `a@b`, or the address inside `Name <a@b>` (SES usually gives the bare one). */
function bareAddress(value: string): string {
  const angle = /<([^<>]*)>\s*$/.exec(value);
  return angle === null ? value.trim() : (angle[1] as string).trim();
}

function timeOf(value: string | undefined, fallback: number): number {
  const at = value === undefined ? NaN : Date.parse(value);
  return Number.isFinite(at) ? at : fallback;
}

const CODE = /^[A-Za-z0-9 _.:-]{1,64}$/;
/** A short SES code (bounce type, feedback type) as a property, or nothing when it looks like anything else. */
function code(value: string | null | undefined): string | undefined {
  return value !== null && value !== undefined && CODE.test(value) ? value : undefined;
}

/** Decides what one SES event means for Kairos; `receivedAt` stands in for a missing event time. */
export function interpretSesEvent(event: SesEvent, receivedAt: number): Interpretation {
  const typeName = 'eventType' in event ? (event.eventType as string) : (event.notificationType as string);
  const kind = KIND_OF[typeName];
  if (kind === undefined) return { ok: false, ignored: `event type ${CODE.test(typeName) ? typeName : '(unreadable)'} is not SES feedback Kairos acts on` };
  const attribution = attributionOf(event.mail);
  const sesMessageId = event.mail.messageId;
  const suppress: SuppressionAction[] = [];
  const unparseable: MailboxProblem[] = [];
  const addSuppression = (values: Array<{ emailAddress: string }>, reason: SuppressionAction['reason']) => {
    for (const { emailAddress } of values) {
      const parsed = parseMailbox(bareAddress(emailAddress));
      if (parsed.ok) suppress.push({ mailbox: parsed.mailbox, reason });
      else unparseable.push(parsed.problem);
    }
  };
  const properties: Record<string, string> = { source: 'ses' };
  let occurredAt = timeOf(event.mail.timestamp, receivedAt);
  let feedbackId: string | null = null;
  let guard: FeedbackActions['guard'] = null;
  switch (kind) {
    case 'send':
      guard = 'send';
      break;
    case 'delivery':
      occurredAt = timeOf(event.delivery?.timestamp, occurredAt);
      break;
    case 'bounce': {
      const bounce = event.bounce;
      if (bounce === undefined) return { ok: false, ignored: 'a Bounce event without its bounce object' };
      occurredAt = timeOf(bounce.timestamp, occurredAt);
      feedbackId = bounce.feedbackId ?? null;
      const type = code(bounce.bounceType);
      if (type !== undefined) properties.bounce_type = type;
      const subtype = code(bounce.bounceSubType);
      if (subtype !== undefined) properties.bounce_subtype = subtype;
      // Only a permanent bounce says the address is gone; transient and undetermined ones may pass.
      if (bounce.bounceType === 'Permanent') {
        addSuppression(bounce.bouncedRecipients, 'bounced');
        guard = 'bounce';
      }
      break;
    }
    case 'complaint': {
      const complaint = event.complaint;
      if (complaint === undefined) return { ok: false, ignored: 'a Complaint event without its complaint object' };
      occurredAt = timeOf(complaint.timestamp, occurredAt);
      feedbackId = complaint.feedbackId ?? null;
      const type = code(complaint.complaintFeedbackType);
      if (type !== undefined) properties.feedback_type = type;
      const subtype = code(complaint.complaintSubType);
      if (subtype !== undefined) properties.complaint_subtype = subtype;
      // complaintSubType OnAccountSuppressionList: SES did not send; still a reason to suppress.
      addSuppression(complaint.complainedRecipients, 'complained');
      guard = 'complaint';
      break;
    }
    case 'reject': {
      const reason = code(event.reject?.reason);
      if (reason !== undefined) properties.reject_reason = reason;
      break;
    }
    case 'delay': {
      occurredAt = timeOf(event.deliveryDelay?.timestamp, occurredAt);
      const type = code(event.deliveryDelay?.delayType);
      if (type !== undefined) properties.delay_type = type;
      break;
    }
    case 'rendering_failure':
      break;
  }
  if (attribution.triggerId !== null) properties.trigger_id = attribution.triggerId;
  if (attribution.variant !== null) properties.variant = attribution.variant;
  const eventId = `ses-${kind}-${createHash('sha256').update(`${sesMessageId}\u0000${kind}\u0000${feedbackId ?? String(occurredAt)}`).digest('hex').slice(0, 40)}`;
  return {
    ok: true,
    actions: {
      kind,
      sesMessageId,
      occurredAt,
      attribution,
      suppress,
      unparseable,
      sent: kind === 'send' && attribution.triggerId !== null ? { triggerId: attribution.triggerId, messageId: sesMessageId } : null,
      guard: attribution.campaign === null ? null : guard,
      eventId,
      eventType: FEEDBACK_EVENT_TYPES[kind],
      properties,
    },
  };
}
