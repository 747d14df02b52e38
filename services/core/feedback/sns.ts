/**
 * Amazon SNS HTTP(S) messages, pure: the envelope's shape (zod), the string SNS signs for
 * each message type, and the checks that need no I/O (URL allow-lists, message age). The
 * tracker's adapter (services/tracker/feedback/sns-verifier.ts) fetches the certificate and
 * checks the signature against this string.
 *
 * The string to sign (AWS, "Verifying the signatures of Amazon SNS messages"): for each field
 * in this fixed order, its name, a newline, its value, a newline.
 * - Notification: Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type.
 * - SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
 *   Timestamp, Token, TopicArn, Type.
 * SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA, over that string; Signature is base64.
 */
import { z } from 'zod';

export const SNS_MESSAGE_TYPES = ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const;
export type SnsMessageType = (typeof SNS_MESSAGE_TYPES)[number];

// SNS messages are at most 256 KiB; the envelope's JSON escaping can grow the Message field.
const text = (max: number) => z.string().min(1).max(max);

const common = {
  MessageId: text(128),
  TopicArn: text(1024),
  Message: z.string().max(512 * 1024),
  Timestamp: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, 'an ISO 8601 UTC time like 2026-12-01T08:00:00.000Z'),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1).max(4096).regex(/^[A-Za-z0-9+/=\s]+$/, 'base64'),
  SigningCertURL: text(2048),
};

export const snsMessageSchema = z.discriminatedUnion('Type', [
  z.object({ Type: z.literal('Notification'), Subject: z.string().max(1024).optional(), UnsubscribeURL: text(2048).optional(), ...common }),
  z.object({ Type: z.literal('SubscriptionConfirmation'), Token: text(2048), SubscribeURL: text(2048), ...common }),
  z.object({ Type: z.literal('UnsubscribeConfirmation'), Token: text(2048), SubscribeURL: text(2048), ...common }),
]);

export type SnsMessage = z.infer<typeof snsMessageSchema>;

/** The exact string SNS signed for `message` (see the header). */
export function snsStringToSign(message: SnsMessage): string {
  const fields: Array<[string, string]> =
    message.Type === 'Notification'
      ? [
          ['Message', message.Message],
          ['MessageId', message.MessageId],
          ...(message.Subject === undefined ? [] : [['Subject', message.Subject] as [string, string]]),
          ['Timestamp', message.Timestamp],
          ['TopicArn', message.TopicArn],
          ['Type', message.Type],
        ]
      : [
          ['Message', message.Message],
          ['MessageId', message.MessageId],
          ['SubscribeURL', message.SubscribeURL],
          ['Timestamp', message.Timestamp],
          ['Token', message.Token],
          ['TopicArn', message.TopicArn],
          ['Type', message.Type],
        ];
  return fields.map(([name, value]) => `${name}\n${value}\n`).join('');
}

/** The node:crypto digest name of a SignatureVersion. */
export function snsSignatureAlgorithm(version: '1' | '2'): 'RSA-SHA1' | 'RSA-SHA256' {
  return version === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
}

/** The production default: SNS's own certificate hosts (aws and aws-cn partitions), https, a .pem path. */
export const DEFAULT_SNS_CERT_URL_PATTERN = '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[^?#]+\\.pem$';
/** SubscribeURL: SNS's API endpoint of a region, https. */
export const DEFAULT_SNS_SUBSCRIBE_URL_PATTERN = '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/\\?';

/**
 * True when `url` is a well-formed absolute URL without credentials that matches `pattern`
 * (matched against the URL as given and as normalized, so `https://sns.x.amazonaws.com@evil/`
 * or a backslash trick cannot pass one form and fetch the other).
 */
export function urlAllowed(url: string, pattern: RegExp): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '') return false;
  return pattern.test(url) && pattern.test(parsed.href);
}

/** Why a message's Timestamp is not acceptable at `nowMs`, or null. */
export function timestampProblem(timestamp: string, nowMs: number, maxAgeMs: number, maxSkewMs = 5 * 60_000): string | null {
  const at = Date.parse(timestamp);
  if (!Number.isFinite(at)) return 'Timestamp is not a time';
  if (at < nowMs - maxAgeMs) return `Timestamp is more than ${Math.round(maxAgeMs / 1000)} s old (replay refused)`;
  if (at > nowMs + maxSkewMs) return `Timestamp is more than ${Math.round(maxSkewMs / 1000)} s in the future`;
  return null;
}
