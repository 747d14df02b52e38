/**
 * Link-signing keys for tests. Services refuse the development secret of infra/local.env unless
 * KAIROS_ENV=local, so tests sign with a secret of their own (TEST_LINK_SECRET, or a random one)
 * and read the development one from infra/local.env only to check it is refused.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkKeyring } from '../../services/core/links';

/** The secret the integration tests give the renderer (LINK_SIGNING_SECRET); not a development secret. */
export const TEST_LINK_SECRET = 'integration-test-link-signing-secret-0123456789';

/** The keyring a renderer configured with TEST_LINK_SECRET (and the default key id) signs with. */
export const TEST_LINK_KEYRING: LinkKeyring = { current: { id: 'k1', secret: TEST_LINK_SECRET }, previous: [] };

/** A fresh secret as `openssl rand -base64 48` makes one. */
export function randomLinkSecret(): string {
  return randomBytes(48).toString('base64');
}

/** What infra/local.env sets when the environment does not (`X=${X:-value}` or `X=value`). */
export function localEnvDefaults(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(join(__dirname, '..', '..', 'infra', 'local.env'), 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(?:\$\{\1:-(.*)\}|(.*))$/.exec(line.trim());
    if (match) values[match[1] as string] = (match[2] ?? match[3]) as string;
  }
  return values;
}
