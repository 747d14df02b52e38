/**
 * A small HTTP proxy in front of the SES emulator for renderer tests: it records every
 * SendEmail call (arrival time, raw MIME) and can answer instead of SES (throttling,
 * permanent errors), as real SES would with its REST-JSON error shape.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const EMULATOR = process.env.SES_EMULATOR_URL ?? 'http://127.0.0.1:8005';

export interface RecordedCall {
  at: number;
  raw: string;
  /** The To: address of the raw message. */
  to: string;
  answered: number;
}

/** Decides per call whether to answer with an error instead of forwarding. */
export type FaultPlan = (call: { to: string; raw: string; attemptOfRecipient: number }) => { status: number; errorType: string; message: string } | null;

export interface SesProxy {
  url: string;
  calls: RecordedCall[];
  setFaults(plan: FaultPlan | null): void;
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startSesProxy(): Promise<SesProxy> {
  const calls: RecordedCall[] = [];
  const attempts = new Map<string, number>();
  let faults: FaultPlan | null = null;
  const target = new URL(EMULATOR);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const at = Date.now();
      const payload = await body(req);
      let raw = '';
      let to = '';
      if (req.method === 'POST' && req.url === '/v2/email/outbound-emails') {
        const parsed = JSON.parse(payload.toString('utf8')) as { Content?: { Raw?: { Data?: string } } };
        raw = Buffer.from(parsed.Content?.Raw?.Data ?? '', 'base64').toString('utf8');
        to = /^To: (.*)$/m.exec(raw)?.[1]?.trim() ?? '';
        const attemptOfRecipient = (attempts.get(to) ?? 0) + 1;
        attempts.set(to, attemptOfRecipient);
        const fault = faults?.({ to, raw, attemptOfRecipient }) ?? null;
        if (fault !== null) {
          calls.push({ at, raw, to, answered: fault.status });
          const text = JSON.stringify({ message: fault.message });
          res.writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-errortype': fault.errorType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (answer) => {
          if (raw !== '') calls.push({ at, raw, to, answered: answer.statusCode ?? 0 });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(payload);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    setFaults: (plan) => (faults = plan),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export interface StoredEmail {
  messageId: string;
  subject: string;
  destination: { to: string[] };
  body: { html?: string; text?: string };
}

/** Every email the emulator holds. */
export async function emulatorEmails(): Promise<StoredEmail[]> {
  const response = await fetch(`${EMULATOR}/store`);
  return ((await response.json()) as { emails: StoredEmail[] }).emails;
}
