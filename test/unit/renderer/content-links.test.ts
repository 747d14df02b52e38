/**
 * Every link of a rendered email is the tracker's, signed for that email with its variant: data
 * links before rendering, the preferences page, the open pixel (the shipped templates).
 */
import { readFileSync } from 'node:fs';
import { parseCampaigns } from '../../../services/core/campaigns';
import { LinkSigner, verifyLinkToken } from '../../../services/core/links';
import { compileTemplates, render } from '../../../services/core/templates';
import { customerProfile, type TriggerFired } from '../../../services/core/types';
import { buildContent } from '../../../services/renderer/content';
import { CAMPAIGNS_FILE, shippedTemplateFiles } from '../core/templates/shipped';

const KEY = { id: 'k1', secret: 'unit-test-secret-0123456789abcdef0123' };
const NOW = Date.UTC(2026, 5, 1);
const BASE = 'https://t.example.com';
const campaigns = parseCampaigns('campaigns.yaml', readFileSync(CAMPAIGNS_FILE, 'utf8'));
const templates = compileTemplates(shippedTemplateFiles());
const trigger: TriggerFired = { trigger_id: 'tid-1', rule: 'cart_abandoned', customer_id: 'c-1', fired_at: 0, cause_event_id: null, context: { product_id: 'sku-1', cart_product_ids: 'sku-1,sku-2' } };
const options = { links: new LinkSigner(KEY, BASE), productUrlTemplate: 'https://shop.example.com/p/{product_id}', shopUrl: 'https://shop.example.com/', brandName: 'Kairos Shop', brandAddress: null, recommendationsLimit: 2 };
const recs = { recommend: async () => ({ items: [{ product_id: 'r-1', title: 'Socks', url: 'https://shop.example.com/p/r-1' }], fallback: false }) };

describe('the links of a rendered email', () => {
  it.each(['cart_reminder', 'standard_message', 'exclusive_offer'])('%s: every http(s) link and the pixel are signed tracker links carrying the variant', async (name) => {
    const campaign = campaigns.find((c) => c.name === name)!;
    const profile = customerProfile({ customer_id: 'c-1', updated_at: 1, email: 'c1@example.com', first_name: 'Ann', consent_email: true });
    const content = await buildContent({ trigger, profile, campaign, variant: 'b', now: NOW, recommendations: recs, options });
    const rendered = render({ templates, template: campaign.template, data: content.data, tracking: content.tracking });
    const hrefs = [...rendered.html.matchAll(/(?:href|src)="(https?:[^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&'));
    const texts = [...rendered.text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]);
    expect(hrefs.filter((url) => !url.startsWith(`${BASE}/`))).toEqual([]);
    expect(texts.filter((url) => !url.startsWith(`${BASE}/`))).toEqual([]);
    const kinds = new Set<string>();
    for (const url of [...hrefs, ...texts]) {
      const verified = verifyLinkToken(url.slice(BASE.length + 3), { current: KEY, previous: [] }, NOW);
      expect(verified).toMatchObject({ ok: true, claims: { customer_id: 'c-1', trigger_id: 'tid-1', campaign: name, variant: 'b' } });
      if (verified.ok) kinds.add(verified.claims.kind);
    }
    expect([...kinds].sort()).toEqual(['click', 'open', 'preferences', 'unsubscribe']);
    expect(rendered.html).toMatch(/<img src="https:\/\/t\.example\.com\/o\/[^"]+" width="1" height="1"[^>]*>\s*<\/body>/);
  });
});
