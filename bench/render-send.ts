/**
 * Render + send to the SES emulator through the renderer's send path: render() (the pure core),
 * buildMime (services/renderer/mime.ts) and SesEmailSender over the long-lived SES v2 client
 * (services/renderer/ses.ts), with the send-rate limit lifted (no RetryingSender/limiter) and a
 * fixed number of sends in flight. The ledger and the outcome relay are not included: they are
 * Redis/Kafka work measured by the throughput figures.
 */
import { requireMailbox } from '../services/core/recipients';
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

const IN_FLIGHT = 16;
const SENDER = { name: 'Kairos Shop', mailbox: requireMailbox('shop@example.com') };

export async function measureRenderSend(stack: BenchStack, seconds: number, progress: (text: string) => void): Promise<RenderSendFigure> {
  const templates = compileTemplates(shippedTemplateFiles());
  const client = createSesClient({ region: process.env.AWS_REGION ?? 'us-east-1', endpoint: SES_ENDPOINT, requestTimeoutMs: 10_000 });
  const sender = new SesEmailSender(client, null);
  let n = 0;
  const sendOne = async () => {
    const i = n++;
    const data = sampleData(i);
    const rendered = render({ templates, template: RENDER_TEMPLATE, data, locale: 'de-DE', timeZone: 'Europe/Berlin' });
    const triggerId = `${stack.run}-${i}`;
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
  const eps = Math.round(sent / ((Date.now() - started) / 1000));
  client.destroy();
  progress(`render + send: ${eps} emails/s (${sent} sent, ${IN_FLIGHT} in flight)`);
  return { eps, note: 'render(), buildMime, SES v2 SendEmail (raw) to the emulator, no rate limit', sent, in_flight: IN_FLIGHT, endpoint: SES_ENDPOINT };
}
