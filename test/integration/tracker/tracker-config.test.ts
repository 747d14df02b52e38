/**
 * The compiled tracker refuses to start (exit 78, EX_CONFIG) with the committed development
 * link secret outside the local stack, and on an address other hosts can reach without
 * HTTP_AUTH_TOKEN (which then guards /metrics; the link routes stay public). Its messages name
 * the variable, never the secret.
 */
import { localEnvDefaults } from '../../support/link-keys';
import { collect, exited, spawnNode } from '../../support/stack';

// Unreachable on purpose: should a check ever be missing, the tracker fails on these instead of
// reaching the shared stack.
const UNREACHABLE = { KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1/', HTTP_PORT: '0' };

describe('the tracker at start-up', () => {
  it('refuses the development secret outside the local stack', async () => {
    const local = localEnvDefaults();
    const child = spawnNode('services/tracker/main.js', [], { ...local, ...UNREACHABLE, KAIROS_ENV: '' });
    const err = collect(child.stderr);
    expect((await exited(child)).code).toBe(78);
    expect(err.text()).toMatch(/tracker: invalid configuration:\n {2}LINK_SIGNING_SECRET: \(value hidden\) is the development secret committed to this repository/);
    expect(err.text()).not.toContain(local.LINK_SIGNING_SECRET as string);
  });

  it('refuses a non-loopback HTTP_HOST without HTTP_AUTH_TOKEN', async () => {
    const child = spawnNode('services/tracker/main.js', [], { ...UNREACHABLE, LINK_SIGNING_SECRET: 'a-strong-enough-test-secret-0123456789abcdef', HTTP_HOST: '0.0.0.0' });
    const err = collect(child.stderr);
    expect((await exited(child)).code).toBe(78);
    expect(err.text()).toContain('HTTP_AUTH_TOKEN: is required because HTTP_HOST=0.0.0.0 is reachable from other hosts');
  });
});
