/**
 * A stand-in for Amazon SNS in tests: a self-signed certificate made at test time with the
 * system's openssl, served from a loopback HTTP server (which counts what is fetched), and
 * messages signed with its key exactly as SNS signs (core/feedback/sns.ts's string).
 */
import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snsSignatureAlgorithm, snsStringToSign, type SnsMessage } from '../../services/core/feedback';

export const TEST_TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:kairos-ses-events';

export interface FakeSns {
  /** Base URL of the loopback server, like http://127.0.0.1:PORT */
  url: string;
  certUrl: string;
  /** Paths requested so far (certificate fetches, subscription confirmations). */
  hits: string[];
  /** The allow-list pattern matching this server's .pem URLs only. */
  certPattern: RegExp;
  subscribePattern: RegExp;
  key: string;
  notification(message: object, fields?: Partial<SnsMessage>): SnsMessage;
  confirmation(fields?: Partial<SnsMessage>): SnsMessage;
  sign(message: SnsMessage, key?: string): SnsMessage;
  close(): Promise<void>;
}

/** An RSA key and a self-signed certificate for it, PEM. */
export function selfSignedCertificate(commonName = 'sns.test'): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-sns-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', `/CN=${commonName}`], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startFakeSns(): Promise<FakeSns> {
  const { key, cert } = selfSignedCertificate();
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url?.endsWith('.pem')) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(cert);
    } else {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<ConfirmSubscriptionResponse/>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const certUrl = `${url}/SimpleNotificationService-test.pem`;
  const sign = (message: SnsMessage, withKey = key): SnsMessage => {
    const signer = createSign(snsSignatureAlgorithm(message.SignatureVersion));
    signer.update(snsStringToSign(message), 'utf8');
    return { ...message, Signature: signer.sign(withKey, 'base64') };
  };
  const base = () => ({ MessageId: randomUUID(), TopicArn: TEST_TOPIC_ARN, Timestamp: new Date().toISOString(), SignatureVersion: '2' as const, Signature: 'x', SigningCertURL: certUrl });
  return {
    url,
    certUrl,
    hits,
    certPattern: new RegExp(`^http://127\\.0\\.0\\.1:${port}/[^?#]+\\.pem$`),
    subscribePattern: new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?`),
    key,
    notification: (message, fields = {}) => sign({ ...base(), Type: 'Notification', Message: JSON.stringify(message), ...fields } as SnsMessage),
    confirmation: (fields = {}) => sign({ ...base(), Type: 'SubscriptionConfirmation', Message: 'You have chosen to subscribe', Token: 'tok-123', SubscribeURL: `${url}/?Action=ConfirmSubscription&Token=tok-123`, ...fields } as SnsMessage),
    sign,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An SES event as a configuration set publishes it, tagged as the renderer tags its sends. */
export function sesEvent(eventType: string, mail: { messageId: string; triggerId?: string; campaign?: string; customerId?: string }, extra: object = {}): object {
  const tags: Record<string, string[]> = { 'ses:configuration-set': ['kairos'] };
  if (mail.triggerId) tags.trigger_id = [mail.triggerId];
  if (mail.campaign) tags.campaign = [mail.campaign];
  if (mail.customerId) tags.customer_id = [mail.customerId];
  return {
    eventType,
    mail: { timestamp: new Date().toISOString(), source: 'shop@example.com', messageId: mail.messageId, destination: ['someone@example.com'], tags },
    ...extra,
  };
}
