/**
 * Sending through Amazon SES v2: one long-lived client, SendEmail with raw MIME, a configuration
 * set and tags; errors sorted into throttled / transient / permanent; retries with exponential
 * backoff and full jitter, each attempt admitted by the shared send-rate limit.
 */
import { SendEmailCommand, SESv2Client, type SendEmailCommandOutput } from '@aws-sdk/client-sesv2';
import { customerTag, variantTagValue } from '../core/feedback';
import { Mailbox } from '../core/recipients';
import { KairosError } from '../kit/errors';
import { scrubEmails } from '../kit/logger';
import type { SendRateLimiter } from './rate-limit';

export interface OutgoingEmail {
  /** The complete MIME message (its To header is `to`, checked by buildMime). */
  raw: Buffer;
  /** The one recipient: SES's Destination, so SES never derives recipients from the headers. */
  to: Mailbox;
  triggerId: string;
  /** Travels as the customer_id (or customer_b64) tag, so SES events name the customer. */
  customerId?: string;
  campaign: string;
  variant: string | null;
}

/** One attempt at handing an email to the provider; resolves with the provider's message id. */
export interface EmailSender {
  send(email: OutgoingEmail): Promise<{ messageId: string }>;
}

export type SesErrorKind = 'throttled' | 'transient' | 'permanent';

/** A send that did not go through; `errorName` is SES's (MessageRejected, ...). */
export class SesSendError extends KairosError {
  constructor(
    message: string,
    readonly errorName: string,
    readonly kind: SesErrorKind,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super(message, { retriable: kind !== 'permanent', cause });
  }
}

const THROTTLING_NAMES = new Set([
  'TooManyRequestsException', 'LimitExceededException', 'Throttling', 'ThrottlingException',
  'ThrottledException', 'RequestLimitExceeded', 'SlowDown',
]);
const TRANSIENT_NAMES = new Set(['InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'ServiceUnavailableException', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Sorts an SDK error: throttling and transient ones are worth retrying, the rest are not. The
 * message has email addresses replaced by "[email]": SES quotes addresses in some errors
 * ("Email address is not verified ... : a@b"), and it reaches logs.
 */
export function classifySesError(error: unknown): { name: string; kind: SesErrorKind; message: string } {
  const err = error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = typeof err?.name === 'string' && err.name !== 'Error' ? err.name : (err?.code ?? 'Error');
  const message = scrubEmails(typeof err?.message === 'string' ? err.message : String(error));
  const status = err?.$metadata?.httpStatusCode;
  if (THROTTLING_NAMES.has(name) || status === 429) return { name, kind: 'throttled', message };
  if (TRANSIENT_NAMES.has(name) || (status !== undefined && status >= 500)) return { name, kind: 'transient', message };
  // No HTTP answer at all (socket reset, timeout, DNS): the request may not have reached SES.
  if (status === undefined || NETWORK_CODES.has(err?.code ?? '')) return { name, kind: 'transient', message };
  return { name, kind: 'permanent', message };
}

/** SES v2 SendEmail with Content.Raw, the configuration set and tags that identify the trigger. */
export class SesEmailSender implements EmailSender {
  constructor(
    private readonly client: Pick<SESv2Client, 'send'>,
    private readonly configurationSet: string | null,
  ) {}

  async send(email: OutgoingEmail): Promise<{ messageId: string }> {
    if (!(email.to instanceof Mailbox)) throw new SesSendError('refusing to call SES: the recipient is not a validated Mailbox', 'InvalidRecipient', 'permanent', 0);
    const customer = email.customerId === undefined ? null : customerTag(email.customerId);
    const tags = [
      { Name: 'trigger_id', Value: email.triggerId },
      { Name: 'campaign', Value: email.campaign },
      ...(email.variant === null ? [] : [{ Name: 'variant', Value: variantTagValue(email.variant) }]),
      ...(customer === null ? [] : [customer]),
    ];
    const output = (await this.client.send(
      new SendEmailCommand({
        Content: { Raw: { Data: email.raw } },
        Destination: { ToAddresses: [email.to.address] },
        ...(this.configurationSet === null ? {} : { ConfigurationSetName: this.configurationSet }),
        EmailTags: tags,
      }),
    )) as SendEmailCommandOutput;
    if (!output.MessageId) throw new SesSendError('SES answered without a MessageId', 'MissingMessageId', 'transient', 1);
    return { messageId: output.MessageId };
  }
}

/** The long-lived SES client; the SDK's own retries are off because RetryingSender does them. */
export function createSesClient(options: { region: string; endpoint?: string; requestTimeoutMs: number }): SESv2Client {
  const useStatic = options.endpoint !== undefined && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE;
  return new SESv2Client({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    // A local endpoint (the emulator) takes any static credentials; real SES uses the default chain.
    ...(useStatic ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 1,
    requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: Math.min(options.requestTimeoutMs, 5000) },
  });
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RetryEvents {
  /** Called before waiting to retry. */
  retrying?(info: { attempt: number; delayMs: number; errorName: string; kind: SesErrorKind }): void;
}

/**
 * Wraps an EmailSender: every attempt first takes a slot from the shared rate limit; throttling
 * and transient errors are retried after min(maxDelay, base * 2^n) * random() (full jitter, so
 * many instances throttled at once do not retry in lockstep). Throws SesSendError: permanent
 * ones at once, retriable ones after the last attempt.
 */
export class RetryingSender implements EmailSender {
  constructor(
    private readonly inner: EmailSender,
    private readonly limiter: SendRateLimiter,
    private readonly policy: RetryPolicy,
    private readonly events: RetryEvents = {},
    private readonly random: () => number = Math.random,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async send(email: OutgoingEmail): Promise<{ messageId: string }> {
    for (let attempt = 1; ; attempt += 1) {
      await this.limiter.acquire();
      try {
        return await this.inner.send(email);
      } catch (error) {
        const { name, kind, message } = error instanceof SesSendError ? { name: error.errorName, kind: error.kind, message: error.message } : classifySesError(error);
        if (kind === 'permanent' || attempt >= this.policy.maxAttempts) {
          throw new SesSendError(`SES ${name} after ${attempt} attempt(s): ${message}`, name, kind, attempt, error);
        }
        const delayMs = Math.round(this.random() * Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1)));
        this.events.retrying?.({ attempt, delayMs, errorName: name, kind });
        await this.sleep(delayMs);
      }
    }
  }
}
