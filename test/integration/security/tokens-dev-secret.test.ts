/**
 * Issue 11, tokens: the compiled renderer, given infra/local.env's settings without the local
 * marker (KAIROS_ENV=local), refuses to start: exit 78 (EX_CONFIG) and a message naming
 * LINK_SIGNING_SECRET and how to make a secret, never the secret itself.
 */
import { localEnvDefaults } from '../../support/link-keys';
import { collect, exited, spawnNode } from '../../support/stack';

describe('the renderer with the committed development secret', () => {
  it('refuses to start outside the local stack', async () => {
    const local = localEnvDefaults();
    const child = spawnNode('services/renderer/main.js', [], {
      ...local,
      KAIROS_ENV: '',
      // Unreachable on purpose: should the check ever be missing, the renderer fails on these
      // instead of joining the shared stack's consumer group.
      REDIS_URL: 'redis://127.0.0.1:1',
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1/',
    });
    const err = collect(child.stderr);
    const { code } = await exited(child);
    expect(code).toBe(78);
    expect(err.text()).toMatch(/renderer: invalid configuration:\n {2}LINK_SIGNING_SECRET: \(value hidden\) is the development secret committed to this repository, and KAIROS_ENV is not set/);
    expect(err.text()).toContain('openssl rand -base64 48');
    expect(err.text()).not.toContain(local.LINK_SIGNING_SECRET as string);
  });
});
