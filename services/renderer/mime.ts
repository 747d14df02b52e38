/**
 * The MIME message of one email, built with nodemailer's composer (no transport, no I/O).
 *
 * Recipients: the composer gets the one recipient as a validated {@link Mailbox}, passed as an
 * address object (never a string for nodemailer to parse), and the built message is checked
 * to hold exactly that address in exactly one To header and no Cc, Bcc or Resent-* recipient
 * header; anything else is refused before SES sees it.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { Mailbox, type Sender } from '../core/recipients';
import type { RenderedEmail } from '../core/templates';
import { KairosError } from '../kit/errors';

export interface MimeInput {
  /** FROM_ADDRESS, parsed at start-up. */
  from: Sender;
  /** The one recipient; only parseMailbox makes one. */
  to: Mailbox;
  rendered: RenderedEmail;
  triggerId: string;
  campaign: string;
  /** The https one-click unsubscribe URL (RFC 8058 POST target). */
  unsubscribeUrl: string;
  /** A mailto: alternative, for clients that do not do one-click. */
  unsubscribeMailto: string | null;
  /** The Message-ID domain; SES replaces the id with its own anyway. */
  messageIdDomain: string;
  date: Date;
}

/**
 * The message would not go to exactly the one validated mailbox. Its message names the rule
 * that failed, never an address: it becomes an outcome reason and a log line.
 */
export class RecipientRefusedError extends KairosError {
  constructor(rule: string) {
    super(`refusing to build the email: ${rule}`, { retriable: false });
  }
}

/** The List-Unsubscribe value: the https URL first, then the mailto (RFC 2369 order of preference). */
export function listUnsubscribe(url: string, mailto: string | null): string {
  return mailto === null ? `<${url}>` : `<${url}>, <${mailto}>`;
}

/** The mailto: unsubscribe address carrying the signed token in its subject. */
export function unsubscribeMailto(address: string, token: string): string {
  return `mailto:${address}?subject=${encodeURIComponent(`unsubscribe ${token}`)}`;
}

const RECIPIENT_HEADER = /^(to|cc|bcc|resent-to|resent-cc|resent-bcc|apparently-to)[ \t]*:/i;

/**
 * Throws RecipientRefusedError unless the header block of `raw` holds exactly one recipient
 * header, a To whose value is `to`'s address (bare or in angle brackets).
 */
export function assertOnlyRecipient(raw: Buffer | string, to: Mailbox): void {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\r\n[ \t]+/g, ' ');
  const recipients = head.split('\r\n').filter((line) => RECIPIENT_HEADER.test(line));
  if (recipients.length !== 1) throw new RecipientRefusedError(`the message has ${recipients.length} recipient headers; expected one To`);
  const [line] = recipients as [string];
  const colon = line.indexOf(':');
  if (line.slice(0, colon).trim().toLowerCase() !== 'to') throw new RecipientRefusedError('the only recipient header is not To');
  const value = line.slice(colon + 1).trim();
  if (value !== to.address && value !== `<${to.address}>`) throw new RecipientRefusedError('the To header is not exactly the validated mailbox');
}

/** Builds the raw message: text and HTML alternatives, List-Unsubscribe(-Post), X-Kairos-Trigger-Id. */
export async function buildMime(input: MimeInput): Promise<Buffer> {
  if (!(input.to instanceof Mailbox)) throw new RecipientRefusedError('the recipient is not a validated Mailbox');
  if (!(input.from.mailbox instanceof Mailbox)) throw new RecipientRefusedError('the sender is not a validated Mailbox');
  const composer = new MailComposer({
    from: { name: input.from.name, address: input.from.mailbox.address },
    to: { name: '', address: input.to.address },
    subject: input.rendered.subject,
    text: input.rendered.text,
    html: input.rendered.html,
    date: input.date,
    messageId: `<${input.triggerId}@${input.messageIdDomain}>`,
    headers: {
      'List-Unsubscribe': listUnsubscribe(input.unsubscribeUrl, input.unsubscribeMailto),
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Kairos-Trigger-Id': input.triggerId,
      'X-Kairos-Campaign': input.campaign,
    },
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const raw = await new Promise<Buffer>((resolve, reject) => {
    composer.compile().build((error, message) => (error ? reject(error) : resolve(message)));
  });
  assertOnlyRecipient(raw, input.to);
  return raw;
}
