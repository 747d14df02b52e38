/**
 * Checks an SNS message's signature: the certificate at SigningCertURL is fetched only when
 * the URL matches the allow-list pattern (SNS_CERT_URL_PATTERN; SNS's own hosts by default),
 * with a timeout, a size cap, no redirects, and kept in a small cache; the signature
 * (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) is verified over the string of
 * core/feedback/sns.ts.
 */
import { createVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { snsSignatureAlgorithm, snsStringToSign, urlAllowed, type SnsMessage } from '../../core/feedback';

/** Certificates are small (about 2 KiB); anything beyond this is not one. */
export const MAX_CERT_BYTES = 16 * 1024;
const CACHE_ENTRIES = 32;
const CACHE_MS = 24 * 3_600_000;

export type VerifyResult = { ok: true } | { ok: false; status: 400 | 403 | 502; reason: string };

export class SnsSignatureVerifier {
  private readonly cache = new Map<string, { key: KeyObject; until: number }>();

  constructor(
    private readonly certUrlPattern: RegExp,
    private readonly timeoutMs: number,
    private readonly clock: () => number = Date.now,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  async verify(message: SnsMessage): Promise<VerifyResult> {
    if (!urlAllowed(message.SigningCertURL, this.certUrlPattern)) {
      return { ok: false, status: 403, reason: 'SigningCertURL is not on the allow-list (SNS_CERT_URL_PATTERN); not fetched' };
    }
    let key: KeyObject;
    try {
      key = await this.certificateKey(message.SigningCertURL);
    } catch (error) {
      return { ok: false, status: 502, reason: `the signing certificate could not be loaded: ${error instanceof Error ? error.message : String(error)}` };
    }
    const verifier = createVerify(snsSignatureAlgorithm(message.SignatureVersion));
    verifier.update(snsStringToSign(message), 'utf8');
    let valid = false;
    try {
      valid = verifier.verify(key, Buffer.from(message.Signature.replace(/\s+/g, ''), 'base64'));
    } catch {
      valid = false;
    }
    return valid ? { ok: true } : { ok: false, status: 403, reason: 'the signature does not verify' };
  }

  private async certificateKey(url: string): Promise<KeyObject> {
    const now = this.clock();
    const cached = this.cache.get(url);
    if (cached !== undefined && cached.until > now) return cached.key;
    const response = await this.fetcher(url, { redirect: 'error', signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok) throw new Error(`the certificate URL answered ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > MAX_CERT_BYTES) throw new Error(`the certificate is larger than ${MAX_CERT_BYTES} bytes`);
    const pem = await readCapped(response, MAX_CERT_BYTES);
    const certificate = new X509Certificate(pem);
    const validTo = Date.parse(certificate.validTo);
    const validFrom = Date.parse(certificate.validFrom);
    if (Number.isFinite(validTo) && validTo < now) throw new Error('the certificate has expired');
    if (Number.isFinite(validFrom) && validFrom > now) throw new Error('the certificate is not valid yet');
    const key = certificate.publicKey;
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(url, { key, until: Math.min(now + CACHE_MS, Number.isFinite(validTo) ? validTo : now + CACHE_MS) });
    return key;
  }
}

/** The body as text, refusing more than `max` bytes without reading them all. */
async function readCapped(response: Response, max: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new Error(`the certificate is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
