/**
 * Who may look at the console. With HTTP_AUTH_TOKEN set, every page but the probes needs it:
 * browsers send it as HTTP Basic (user CONSOLE_USER, the token as password; the browser asks
 * once and remembers it for the session), scripts as `Authorization: Bearer <token>`. Without
 * a token the console only listens on loopback (start-up refuses anything else, exit 78).
 * Compared in constant time, like the services' bearer tokens.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BearerAuth, type AuthVerdict } from '../kit/http-auth';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

const BASIC = /^Basic +([A-Za-z0-9+/]+=*) *$/i;

export class ConsoleAuth {
  private readonly bearer: BearerAuth;
  private readonly passwords: Buffer[];
  private readonly user: Buffer;

  constructor(tokens: readonly string[], user: string) {
    this.bearer = new BearerAuth({ api: tokens, metrics: [] });
    this.passwords = tokens.map(digest);
    this.user = digest(user);
  }

  get required(): boolean {
    return this.passwords.length > 0;
  }

  /** The verdict on an Authorization header (Basic or Bearer); `ok` when no token is configured. */
  check(header: string | undefined): AuthVerdict {
    if (!this.required) return 'ok';
    if (header === undefined || header === '') return 'missing';
    const basic = BASIC.exec(header);
    if (basic === null) return this.bearer.check(header, 'api');
    const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'invalid';
    const user = digest(decoded.slice(0, colon));
    const password = digest(decoded.slice(colon + 1));
    let match = false;
    for (const candidate of this.passwords) match = timingSafeEqual(password, candidate) || match;
    return timingSafeEqual(user, this.user) && match ? 'ok' : 'invalid';
  }
}
