import { parseCampaigns } from '../../../services/core/campaigns';
import { LinkSigner, verifyLinkToken } from '../../../services/core/links';
import { compileTemplates, render } from '../../../services/core/templates';
import { requireMailbox } from '../../../services/core/recipients';
import { customerProfile, type TriggerFired } from '../../../services/core/types';
import { buildContent } from '../../../services/renderer/content';
import { buildMime, unsubscribeMailto } from '../../../services/renderer/mime';
import { readFileSync } from 'node:fs';
import { CAMPAIGNS_FILE, shippedTemplateFiles } from '../core/templates/shipped';

const KEY = { id: 'k1', secret: 'unit-test-secret-0123456789abcdef0123' };
const NOW = Date.UTC(2026, 5, 1);
const campaigns = parseCampaigns('campaigns.yaml', readFileSync(CAMPAIGNS_FILE, 'utf8'));
const templates = compileTemplates(shippedTemplateFiles());
const links = new LinkSigner(KEY, 'https://t.example.com');
const trigger: TriggerFired = { trigger_id: 'tid-1', rule: 'cart_abandoned', customer_id: 'c-1', fired_at: 0, cause_event_id: null, context: { product_id: 'sku-1', cart_product_ids: 'sku-1,sku-2' } };
const options = { links, productUrlTemplate: 'https://shop.example.com/p/{product_id}', shopUrl: 'https://shop.example.com/', brandName: 'Kairos Shop', brandAddress: null, recommendationsLimit: 2 };
const none = { recommend: async () => ({ items: [], fallback: true }) };

async function email(firstName: string | null) {
  const profile = customerProfile({ customer_id: 'c-1', updated_at: 1, email: 'c1@example.com', first_name: firstName, consent_email: true });
  const campaign = campaigns.find((c) => c.name === 'cart_reminder')!;
  const content = await buildContent({ trigger, profile, campaign, now: NOW, recommendations: none, options });
  const rendered = render({ templates, template: 'cart_reminder', data: content.data });
  const raw = await buildMime({
    from: { name: 'Shop', mailbox: requireMailbox('shop@example.com') }, to: requireMailbox('c1@example.com'), rendered, triggerId: 'tid-1', campaign: 'cart_reminder',
    unsubscribeUrl: content.unsubscribeUrl, unsubscribeMailto: unsubscribeMailto('unsubscribe@example.com', content.unsubscribeToken),
    messageIdDomain: 'example.com', date: new Date(Date.UTC(2026, 5, 1)),
  });
  return { rendered, raw: raw.toString('utf8'), content };
}

describe('content and MIME of one email', () => {
  it('carries RFC 8058 one-click unsubscribe headers, the trigger id, and text + HTML alternatives', async () => {
    const { raw, content } = await email('Dana');
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    expect(head).toContain(`List-Unsubscribe: <${content.unsubscribeUrl}>, <mailto:unsubscribe@example.com?subject=unsubscribe%20${content.unsubscribeToken}>`);
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(head).toMatch(/^X-Kairos-Trigger-Id: tid-1$/im);
    expect(head).toMatch(/^Subject: Dana, your cart is waiting$/m);
    expect(raw).toMatch(/Content-Type: multipart\/alternative/);
    expect(raw).toMatch(/Content-Type: text\/plain; charset=utf-8/);
    expect(raw).toMatch(/Content-Type: text\/html; charset=utf-8/);
  });

  it('escapes a <script> first name in the HTML and wraps cart links in signed click links', async () => {
    const { rendered } = await email('<script>alert(1)</script>');
    expect(rendered.html).toContain('Hi &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(rendered.html).not.toContain('<script>');
    const clicks = [...rendered.html.matchAll(/href="https:\/\/t\.example\.com\/c\/([^"]+)"/g)].map((m) => verifyLinkToken(m[1], { current: KEY, previous: [] }, NOW));
    expect(clicks.length).toBeGreaterThanOrEqual(2);
    expect(clicks.every((c) => c.ok && c.claims.trigger_id === 'tid-1')).toBe(true);
    expect(clicks.map((c) => (c.ok ? c.claims.url : null))).toEqual(expect.arrayContaining(['https://shop.example.com/p/sku-1', 'https://shop.example.com/p/sku-2']));
  });

  it('falls back to "there" without a name', async () => {
    const { rendered } = await email(null);
    expect(rendered.html).toContain('Hi there,');
    expect(rendered.subject).toBe('Your cart is waiting');
  });
});
