/**
 * Issue 11, tokens: the development secret committed in infra/local.env must not verify
 * anywhere but the local stack, and weak secrets are refused. The renderer refuses to start
 * (ConfigError, exit 78) before it connects to anything.
 */
import { EXIT_CONFIG, loadConfig, runMain, secretVariables } from '../../../services/kit/config';
import { ConfigError } from '../../../services/kit/errors';
import { DEVELOPMENT_LINK_SECRETS, linkKeyring, linkKeyShape } from '../../../services/kit/link-keys';
import { rendererShape, startRenderer } from '../../../services/renderer/main';
import { thrownBy } from '../../support/thrown';
import { localEnvDefaults } from '../../support/link-keys';

const STRONG = 'Zq8v1N3xR6tY0pW4mK7jHc5gT2bL9sD1fQ8uA3eW';
const STRONG_OLD = 'p0O9i8U7y6T5r4E3w2Q1aSdFgHjKlZxCvBnM';

const keyring = (env: Record<string, string>) => linkKeyring(loadConfig(linkKeyShape, env));

describe('the development link-signing secret', () => {
  const local = localEnvDefaults();
  const devSecret = local.LINK_SIGNING_SECRET as string;

  it('is the one infra/local.env commits, which also marks the local stack with KAIROS_ENV=local', () => {
    expect(devSecret).toBeDefined();
    expect(DEVELOPMENT_LINK_SECRETS).toContain(devSecret);
    expect(local.KAIROS_ENV).toBe('local');
  });

  it.each([
    ['unset', {}],
    ['production', { KAIROS_ENV: 'production' }],
    ['empty', { KAIROS_ENV: '' }],
  ])('is refused when KAIROS_ENV is %s, naming the variable and how to make a secret, never the value', (_label, marker) => {
    const error = thrownBy(ConfigError, () => keyring({ LINK_SIGNING_SECRET: devSecret, ...marker }));
    expect(error.problems.map((p) => p.variable)).toEqual(['LINK_SIGNING_SECRET']);
    expect(error.message).toMatch(/development secret committed to this repository/);
    expect(error.message).toContain('openssl rand -base64 48');
    expect(error.message).toContain('KAIROS_ENV');
    expect(error.message).not.toContain(devSecret);
  });

  it('is refused as a retired key too, and so is the fixed key of the old preview CLI', () => {
    const previous = thrownBy(ConfigError, () => keyring({ LINK_SIGNING_SECRET: STRONG, LINK_SIGNING_KEY_ID: 'k2', LINK_SIGNING_PREVIOUS_KEYS: `k1:${devSecret}` }));
    expect(previous.problems.map((p) => p.variable)).toEqual(['LINK_SIGNING_PREVIOUS_KEYS']);
    expect(previous.message).not.toContain(devSecret);
    expect(thrownBy(ConfigError, () => keyring({ LINK_SIGNING_SECRET: 'preview-only-key-links-in-this-preview-do-not-verify' })).problems[0]?.variable).toBe('LINK_SIGNING_SECRET');
  });

  it('is accepted on the local stack (KAIROS_ENV=local)', () => {
    expect(keyring({ LINK_SIGNING_SECRET: devSecret, KAIROS_ENV: 'local' }).current).toEqual({ id: 'k1', secret: devSecret });
  });

  it('keeps the renderer from starting outside the local stack: exit 78 before it connects to anything', async () => {
    // Unreachable dependencies: a renderer that got past its configuration would fail differently (or hang).
    const env = { ...local, KAIROS_ENV: '', REDIS_URL: 'redis://127.0.0.1:1', KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1/' };
    await expect(startRenderer(loadConfig(rendererShape, env))).rejects.toBeInstanceOf(ConfigError);
    let stderr = '';
    const exit = await new Promise<number>((resolve) => {
      void runMain('renderer', () => startRenderer(loadConfig(rendererShape, env)).then(() => undefined), {
        stderr: { write: (text: string, done?: () => void) => ((stderr += text), done?.(), true) },
        exit: resolve,
      });
    });
    expect(exit).toBe(EXIT_CONFIG);
    expect(stderr).toMatch(/LINK_SIGNING_SECRET: \(value hidden\) is the development secret committed to this repository/);
    expect(stderr).toContain('openssl rand -base64 48');
    expect(stderr).not.toContain(devSecret);
  });
});

describe('weak and misconfigured link-signing secrets', () => {
  it.each([
    ['31 characters', 'x7Kp2Qr9Lm4Vn8Bz3Wc6Yt1Hg5Jd0Fs'.slice(0, 31)],
    ['one character repeated', 'a'.repeat(64)],
    ['two characters alternating', 'ab'.repeat(32)],
    ['nine distinct characters', 'abcdefghi'.repeat(5)],
  ])('refuses %s, without echoing it', (_label, secret) => {
    const error = thrownBy(ConfigError, () => loadConfig(linkKeyShape, { LINK_SIGNING_SECRET: secret }));
    expect(error.problems).toEqual([expect.objectContaining({ variable: 'LINK_SIGNING_SECRET', reason: expect.stringMatching(/^\(value hidden\) (is too short|has too few distinct characters)/) })]);
    expect(error.problems[0]).not.toHaveProperty('value');
    expect(error.message).not.toContain(secret);
    expect(error.message).toContain('openssl rand -base64 48');
  });

  it('accepts a generated secret, and a retired key under another id', () => {
    expect(keyring({ LINK_SIGNING_SECRET: STRONG, LINK_SIGNING_KEY_ID: '2026-03', LINK_SIGNING_PREVIOUS_KEYS: `2025-03:${STRONG_OLD}` })).toEqual({
      current: { id: '2026-03', secret: STRONG },
      previous: [{ id: '2025-03', secret: STRONG_OLD }],
    });
  });

  it.each([
    ['the current key id again', `k1:${STRONG_OLD}`, /current LINK_SIGNING_KEY_ID/],
    ['the current secret under another id', `k0:${STRONG}`, /same secret as the current key/],
    ['a weak retired secret', `k0:${'z'.repeat(40)}`, /secret of key k0 has too few distinct characters/],
    ['an entry without an id', STRONG_OLD, /entry 1 does not start with a key id/],
    ['an id twice', `k0:${STRONG_OLD},k0:${STRONG_OLD}x`, /names key k0 twice/],
  ])('refuses LINK_SIGNING_PREVIOUS_KEYS with %s, without echoing a secret', (_label, previous, reason) => {
    const error = thrownBy(ConfigError, () => keyring({ LINK_SIGNING_SECRET: STRONG, LINK_SIGNING_PREVIOUS_KEYS: previous }));
    expect(error.problems.map((p) => p.variable)).toEqual(['LINK_SIGNING_PREVIOUS_KEYS']);
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain(STRONG_OLD);
    expect(error.message).not.toContain(STRONG);
  });

  it('names every link-signing secret variable for the logger to redact', () => {
    expect(secretVariables(rendererShape)).toEqual(expect.arrayContaining(['LINK_SIGNING_SECRET', 'LINK_SIGNING_PREVIOUS_KEYS']));
  });
});
