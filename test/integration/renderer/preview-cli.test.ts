import { verifyLinkToken } from '../../../services/core/links';
import { localEnvDefaults, TEST_LINK_KEYRING, TEST_LINK_SECRET } from '../../support/link-keys';
import { collect, exited, spawnNode } from '../../support/stack';

// KAIROS_ENV '' counts as unset, whatever the environment running the tests says.
const env = { LINK_SIGNING_SECRET: TEST_LINK_SECRET, RECOMMENDATIONS_SOURCE: 'static', KAIROS_ENV: '' };

async function preview(args: string[], overrides: Record<string, string> = {}) {
  const child = spawnNode('services/renderer/preview.js', args, { ...env, ...overrides });
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const { code } = await exited(child);
  return { code, out: out.text(), err: err.text() };
}

const tokensIn = (text: string) => [...text.matchAll(/\/[cou]\/(v2\.[A-Za-z0-9_.-]+)/g)].map((m) => m[1] as string);

describe('the preview CLI', () => {
  it('renders a campaign for the sample profile as text, without sending', async () => {
    const result = await preview(['--campaign', 'exclusive_offer', '--format', 'text']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^Subject: .+/m);
    expect(result.out).toMatch(/^Preheader: .+/m);
    expect(result.out).toContain('Use code THANKYOU15');
    expect(result.out).toMatch(/Unsubscribe: http\S+\/u\/\S+/);
    expect(result.out).not.toMatch(/undefined|\{\{/);
    // Signed with the configured key.
    const tokens = tokensIn(result.out);
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((token) => verifyLinkToken(token, TEST_LINK_KEYRING, Date.now()).ok)).toBe(true);
  });

  it('renders HTML with the layout and the escaped values', async () => {
    const result = await preview(['--campaign', 'standard_message', '--format', 'html']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/<html[\s>]/i);
    expect(result.out).not.toMatch(/undefined|\{\{/);
  });

  it('names an unknown campaign and exits non-zero', async () => {
    const result = await preview(['--campaign', 'nope']);
    expect(result.code).not.toBe(0);
    expect(result.err).toContain('nope');
  });

  it('without LINK_SIGNING_SECRET signs with a throw-away key whose links verify nowhere', async () => {
    const result = await preview(['--campaign', 'exclusive_offer', '--format', 'text'], { LINK_SIGNING_SECRET: '' });
    expect(result.code).toBe(0);
    expect(result.err).toContain('throw-away preview key');
    const tokens = tokensIn(result.out);
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((token) => token.startsWith('v2.preview.'))).toBe(true);
    // Not even with the fixed key older versions of this CLI signed with.
    const old = { current: { id: 'preview', secret: 'preview-only-key-links-in-this-preview-do-not-verify' }, previous: [] };
    expect(tokens.map((token) => verifyLinkToken(token, old, Date.now()).ok)).toEqual(tokens.map(() => false));
  });

  it('refuses the development secret of infra/local.env outside the local stack', async () => {
    const devSecret = localEnvDefaults().LINK_SIGNING_SECRET as string;
    const refused = await preview(['--campaign', 'exclusive_offer'], { LINK_SIGNING_SECRET: devSecret });
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/LINK_SIGNING_SECRET: \(value hidden\) is the development secret/);
    expect(refused.err).not.toContain(devSecret);
    expect((await preview(['--campaign', 'exclusive_offer'], { LINK_SIGNING_SECRET: devSecret, KAIROS_ENV: 'local' })).code).toBe(0);
  });
});
