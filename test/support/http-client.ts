/**
 * What tests of the HTTP surfaces share without any stack: test tokens, a logger whose lines
 * can be read, this machine's non-loopback address, and a raw HTTP client.
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../services/kit/logger';

/** A token of the right shape for tests (never a real one). */
export const TEST_TOKEN = 'test-token-0123456789abcdef0123456789abcdef';
export const TEST_METRICS_TOKEN = 'test-metrics-token-0123456789abcdef012345';

/** A logger whose JSON lines the test can read. */
export function capturingLogger(service: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    service,
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { logger, lines };
}

/** An IPv4 address of this machine that is not loopback, if it has one (to call a server bound wider). */
export function nonLoopbackAddress(): string | undefined {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  return undefined;
}

/** The answer to one raw request: status, headers, body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends `path` as the request target byte for byte (fetch would normalize it: resolve `..`,
 * re-encode `%`), with an optional bearer token; gives up after `timeoutMs`.
 */
export function rawGet(port: number, path: string, options: { token?: string; timeoutMs?: number; method?: string; signal?: AbortSignal } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
        timeout: options.timeoutMs ?? 10_000,
        signal: options.signal,
        insecureHTTPParser: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path.slice(0, 80)} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}
