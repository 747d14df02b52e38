/**
 * The link-signing keyring from the environment, for every service that signs or verifies link
 * tokens (the renderer now, the tracker next):
 *
 *   LINK_SIGNING_KEY_ID         id of the current key (default k1); travels in every token
 *   LINK_SIGNING_SECRET         the current key's secret: signs new tokens
 *   LINK_SIGNING_PREVIOUS_KEYS  retired keys that still verify: `id:secret,id:secret`
 *   KAIROS_ENV                  `local` on the local stack only (infra/local.env)
 *
 * Secrets must be strong (at least 32 characters, at least 10 distinct ones) and never a
 * development secret committed to this repository, unless KAIROS_ENV=local. Values never appear
 * in errors or logs.
 */
import { LINK_KEY_ID, type LinkKey, type LinkKeyring } from '../core/links';
import { envVar, invalid, stringVar } from './config';
import { ConfigError, type ConfigProblem } from './errors';

/** The command the errors suggest for a new secret (64 base64 characters, 384 bits). */
export const NEW_SECRET_COMMAND = 'openssl rand -base64 48';
export const MIN_SECRET_LENGTH = 32;
export const MIN_SECRET_DISTINCT_CHARACTERS = 10;
/** The one KAIROS_ENV value under which the development secrets are accepted. */
export const LOCAL_ENV = 'local';

/**
 * Secrets anyone can read in this repository: the one infra/local.env gives the local stack,
 * and the fixed key older preview CLIs signed with. Refused unless KAIROS_ENV=local.
 * (test/unit/security/tokens-config.test.ts checks infra/local.env's value is listed here.)
 */
export const DEVELOPMENT_LINK_SECRETS: readonly string[] = [
  'local-development-only-link-signing-secret',
  'preview-only-key-links-in-this-preview-do-not-verify',
];

const SECRET_EXPECTED = `a random secret of at least ${MIN_SECRET_LENGTH} characters (generate one with \`${NEW_SECRET_COMMAND}\`)`;

/** Why `secret` is too weak to sign links, or null. */
export function weakSecretProblem(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH) return `is too short (${secret.length} characters)`;
  if (new Set(secret).size < MIN_SECRET_DISTINCT_CHARACTERS) return `has too few distinct characters (${new Set(secret).size}); it is not random`;
  return null;
}

function linkSecretVar() {
  return envVar({ expected: SECRET_EXPECTED, secret: true }, (raw) => {
    const problem = weakSecretProblem(raw);
    return problem === null ? raw : invalid(problem);
  });
}

/** `id:secret` pairs separated by commas (base64 secrets hold neither ':' nor ','). */
function previousKeysVar() {
  return envVar(
    { expected: `retired keys as id:secret pairs separated by commas, like k1:SECRET,k0:SECRET; each secret ${SECRET_EXPECTED}`, secret: true },
    (raw) => {
      const keys: LinkKey[] = [];
      for (const [index, item] of raw.split(',').entries()) {
        const entry = item.trim();
        const colon = entry.indexOf(':');
        const id = colon < 0 ? '' : entry.slice(0, colon);
        if (!LINK_KEY_ID.test(id)) return invalid(`entry ${index + 1} does not start with a key id and ':'`);
        const problem = weakSecretProblem(entry.slice(colon + 1));
        if (problem !== null) return invalid(`the secret of key ${id} ${problem}`);
        if (keys.some((key) => key.id === id)) return invalid(`names key ${id} twice`);
        keys.push({ id, secret: entry.slice(colon + 1) });
      }
      return keys;
    },
  );
}

export const linkKeyShape = {
  KAIROS_ENV: stringVar({ pattern: /^[a-z][a-z0-9-]{0,31}$/, expected: `"${LOCAL_ENV}" on the local stack only, else a name like staging or production` }).optional(),
  LINK_SIGNING_KEY_ID: stringVar({ pattern: LINK_KEY_ID, expected: '1 to 32 letters, digits, "_" or "-", like k1 or 2026-01; a new one at every rotation' }).default('k1'),
  LINK_SIGNING_SECRET: linkSecretVar(),
  LINK_SIGNING_PREVIOUS_KEYS: previousKeysVar().optional(),
};

export interface LinkKeyConfig {
  KAIROS_ENV?: string;
  LINK_SIGNING_KEY_ID: string;
  LINK_SIGNING_SECRET: string;
  LINK_SIGNING_PREVIOUS_KEYS?: LinkKey[];
}

/**
 * The keyring a loaded configuration describes. Throws ConfigError (naming the variable, never
 * the value) when a development secret is used outside KAIROS_ENV=local, when two keys share an
 * id, or when a retired key has the current key's secret.
 */
export function linkKeyring(config: LinkKeyConfig): LinkKeyring {
  const problems: ConfigProblem[] = [];
  const local = config.KAIROS_ENV === LOCAL_ENV;
  const current: LinkKey = { id: config.LINK_SIGNING_KEY_ID, secret: config.LINK_SIGNING_SECRET };
  const previous = config.LINK_SIGNING_PREVIOUS_KEYS ?? [];
  const development = (secret: string) => DEVELOPMENT_LINK_SECRETS.includes(secret);
  const where = `KAIROS_ENV is ${config.KAIROS_ENV === undefined ? 'not set' : `"${config.KAIROS_ENV}"`}, not "${LOCAL_ENV}"`;
  if (!local && development(current.secret)) {
    problems.push({
      variable: 'LINK_SIGNING_SECRET',
      reason: `(value hidden) is the development secret committed to this repository, and ${where}: anyone could sign links that verify here`,
      expected: `a secret of your own from a secret store (generate one with \`${NEW_SECRET_COMMAND}\`); KAIROS_ENV=${LOCAL_ENV} only on the local stack`,
    });
  }
  const developmentIds = previous.filter((key) => development(key.secret)).map((key) => key.id);
  if (!local && developmentIds.length > 0) {
    problems.push({
      variable: 'LINK_SIGNING_PREVIOUS_KEYS',
      reason: `(value hidden) key ${developmentIds.join(', ')} has the development secret committed to this repository, and ${where}`,
      expected: 'only retired keys of your own; drop development keys from the list',
    });
  }
  if (previous.some((key) => key.id === current.id)) {
    problems.push({
      variable: 'LINK_SIGNING_PREVIOUS_KEYS',
      reason: `(value hidden) holds a key with the current LINK_SIGNING_KEY_ID "${current.id}"`,
      expected: 'a new LINK_SIGNING_KEY_ID for the new secret, and the old id with the old secret here',
    });
  }
  const reused = previous.filter((key) => key.secret === current.secret).map((key) => key.id);
  if (reused.length > 0) {
    problems.push({
      variable: 'LINK_SIGNING_PREVIOUS_KEYS',
      reason: `(value hidden) key ${reused.join(', ')} has the same secret as the current key`,
      expected: `a new secret for the current key (\`${NEW_SECRET_COMMAND}\`)`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { current, previous };
}
