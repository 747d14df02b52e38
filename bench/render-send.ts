/**
 * Render + send to the SES emulator through the renderer's send path: render() (the pure core),
 * buildMime (services/renderer/mime.ts) and SesEmailSender over the long-lived SES v2 client
 * (services/renderer/ses.ts), with the send-rate limit lifted (no RetryingSender/limiter) and a
 * fixed number of sends in flight. The ledger and the outcome relay are not included: they are
 * Redis/Kafka work measured by the throughput figures.
 *
 * The reference (`measureBareSes`) is a bare SESv2Client (SDK defaults, the endpoint and static
 * credentials only) sending the same kind of raw MIME emails, built once before it is timed,
 * with the same SendEmail request (Raw content, Destination, the same tags), the same number in
 * flight, the same warm-up and duration, to the same endpoint.
 */
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { requireMailbox, type Mailbox } from '../services/core/recipients';
import { compileTemplates, render } from '../services/core/templates';
import { buildMime } from '../services/renderer/mime';
import { createSesClient, SesEmailSender } from '../services/renderer/ses';
import { RENDER_TEMPLATE, sampleData, shippedTemplateFiles } from './render';
import { SES_ENDPOINT, type BenchStack } from './stack';

export interface RenderSendFigure {
  eps: number | null;
  note: string;
  sent?: number;
  in_flight?: number;
  endpoint?: string;
}

export const IN_FLIGHT = 16;
const SENDER = { name: 'Kairos Shop', mailbox: requireMailbox('shop@example.com') };

type Templates = ReturnType<typeof compileTemplates>;

/** Email i of a run as the renderer builds it: render() of the cart reminder, then buildMime. */
async function buildEmail(templates: Templates, run: string, i: number): Promise<{ raw: Buffer; to: Mailbox; triggerId: string }> {
  const data = sampleData(i, true);
  const rendered = render({ templates, template: RENDER_TEMPLATE, data, locale: 'de-DE', timeZone: 'Europe/Berlin' });
  const triggerId = `${run}-${i}`;
  const to = requireMailbox(`customer${i}@example.com`);
  const raw = await buildMime({
    from: SENDER,
    to,
    rendered,
    triggerId,
    campaign: 'cart_reminder',
    unsubscribeUrl: data.links.unsubscribe_url,
    unsubscribeMailto: null,
    messageIdDomain: 'bench.kairos.local',
    date: new Date(),
  });
  return { raw, to, triggerId };
}

/** `IN_FLIGHT` loops calling `sendOne` until the warm-up, then until `seconds` have passed; sends/s of the timed part. */
async function timedSends(seconds: number, sendOne: () => Promise<void>): Promise<{ eps: number; sent: number }> {
  const run = async (until: number) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (Date.now() < until) {
          await sendOne();
          sent += 1;
        }
      }),
    );
    return sent;
  };
  await run(Date.now() + Math.min(1000, seconds * 250)); // warm-up
  const started = Date.now();
  const sent = await run(started + seconds * 1000);
  return { eps: Math.round(sent / ((Date.now() - started) / 1000)), sent };
}

export interface BareSesFigure {
  eps: number | null;
  note: string;
  sent?: number;
  distinct_emails?: number;
  mean_raw_bytes?: number;
}

/** How many distinct emails the bare client cycles through (built before timing). */
const BARE_EMAILS = 500;

/** A bare SESv2Client sending pre-built raw emails (see the file comment). */
export async function measureBareSes(stack: BenchStack, seconds: number, progress: (text: string) => void, label = 'bare SESv2 client'): Promise<BareSesFigure> {
  const templates = compileTemplates(shippedTemplateFiles());
  const emails = await Promise.all(Array.from({ length: BARE_EMAILS }, (_, i) => buildEmail(templates, `${stack.run}-bare`, i)));
  const useStatic = !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE;
  const client = new SESv2Client({
    region: process.env.AWS_REGION ?? 'us-east-1',
    endpoint: SES_ENDPOINT,
    ...(useStatic ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  let n = 0;
  const sendOne = async () => {
    const email = emails[n++ % emails.length];
    const output = await client.send(
      new SendEmailCommand({
        Content: { Raw: { Data: email.raw } },
        Destination: { ToAddresses: [email.to.address] },
        EmailTags: [{ Name: 'trigger_id', Value: email.triggerId }, { Name: 'campaign', Value: 'cart_reminder' }],
      }),
    );
    if (!output.MessageId) throw new Error('bench: SES answered without a MessageId');
  };
  try {
    await sendOne();
  } catch (error) {
    const note = `not measured: the bare client's send to ${SES_ENDPOINT} failed: ${(error as Error).message}`;
    progress(`${label}: ${note}`);
    client.destroy();
    return { eps: null, note };
  }
  try {
    const { eps, sent } = await timedSends(seconds, sendOne);
    progress(`${label}: ${eps} emails/s (${sent} sent, ${IN_FLIGHT} in flight, ${BARE_EMAILS} distinct pre-built emails)`);
    const meanRaw = Math.round(emails.reduce((sum, e) => sum + e.raw.length, 0) / emails.length);
    return { eps, note: 'bare SESv2Client, SendEmail (raw, same Destination and tags) of pre-built emails', sent, distinct_emails: BARE_EMAILS, mean_raw_bytes: meanRaw };
  } finally {
    client.destroy();
  }
}

export async function measureRenderSend(stack: BenchStack, seconds: number, progress: (text: string) => void): Promise<RenderSendFigure> {
  const templates = compileTemplates(shippedTemplateFiles());
  const client = createSesClient({ region: process.env.AWS_REGION ?? 'us-east-1', endpoint: SES_ENDPOINT, requestTimeoutMs: 10_000 });
  const sender = new SesEmailSender(client, null);
  let n = 0;
  const sendOne = async () => {
    const { raw, to, triggerId } = await buildEmail(templates, stack.run, n++);
    await sender.send({ raw, to, triggerId, campaign: 'cart_reminder', variant: null });
  };
  try {
    await sendOne(); // fails fast when the emulator is not there
  } catch (error) {
    const note = `not measured: sending to the SES emulator at ${SES_ENDPOINT} failed: ${(error as Error).message}`;
    progress(`render + send: ${note}`);
    client.destroy();
    return { eps: null, note };
  }
  const { eps, sent } = await timedSends(seconds, sendOne);
  client.destroy();
  progress(`render + send: ${eps} emails/s (${sent} sent, ${IN_FLIGHT} in flight)`);
  return { eps, note: 'render(), buildMime, SES v2 SendEmail (raw) to the emulator, no rate limit', sent, in_flight: IN_FLIGHT, endpoint: SES_ENDPOINT };
}
