import { collect, exited, spawnNode } from '../../support/stack';

const env = { LINK_SIGNING_SECRET: 'integration-test-link-signing-secret-0123456789', RECOMMENDATIONS_SOURCE: 'static' };

async function preview(args: string[]) {
  const child = spawnNode('services/renderer/preview.js', args, env);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const { code } = await exited(child);
  return { code, out: out.text(), err: err.text() };
}

describe('the preview CLI', () => {
  it('renders a campaign for the sample profile as text, without sending', async () => {
    const result = await preview(['--campaign', 'exclusive_offer', '--format', 'text']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^Subject: .+/m);
    expect(result.out).toMatch(/^Preheader: .+/m);
    expect(result.out).toContain('Use code THANKYOU15');
    expect(result.out).toMatch(/Unsubscribe: http\S+\/u\/\S+/);
    expect(result.out).not.toMatch(/undefined|\{\{/);
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
});
