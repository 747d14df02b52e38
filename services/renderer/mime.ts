/** The MIME message of one email, built with nodemailer's composer (no transport, no I/O). */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RenderedEmail } from '../core/templates';

export interface MimeInput {
  from: string;
  to: string;
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

/** The List-Unsubscribe value: the https URL first, then the mailto (RFC 2369 order of preference). */
export function listUnsubscribe(url: string, mailto: string | null): string {
  return mailto === null ? `<${url}>` : `<${url}>, <${mailto}>`;
}

/** The mailto: unsubscribe address carrying the signed token in its subject. */
export function unsubscribeMailto(address: string, token: string): string {
  return `mailto:${address}?subject=${encodeURIComponent(`unsubscribe ${token}`)}`;
}

/** Builds the raw message: text and HTML alternatives, List-Unsubscribe(-Post), X-Kairos-Trigger-Id. */
export function buildMime(input: MimeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: input.from,
    to: input.to,
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
  return new Promise((resolve, reject) => {
    composer.compile().build((error, message) => (error ? reject(error) : resolve(message)));
  });
}
