/**
 * Each experiment variable kind visibly changes the rendered email (through previewEmail, the
 * renderer's own render path with the shipped templates), and every link carries the arm.
 */
import { parseCampaigns, variantSubjects } from '../../../services/core/campaigns';
import { LinkSigner, verifyLinkToken } from '../../../services/core/links';
import type { RecommendationRequest } from '../../../services/core/recommendations';
import { compileTemplates } from '../../../services/core/templates';
import { customerProfile } from '../../../services/core/types';
import { partialNames } from '../../../services/renderer/assets';
import { previewEmail, PreviewError, type Preview } from '../../../services/renderer/preview';
import { validateCampaignBlocks } from '../../../services/core/campaigns';
import { shippedTemplateFiles } from '../core/templates/shipped';

const KEY = { id: 'k1', secret: 'unit-test-secret-0123456789abcdef0123' };
const NOW = Date.UTC(2026, 5, 1, 12);
const BASE = 'https://t.example.com';

const yaml = `campaigns:
  - name: standard_message
    rules: [high_interest, cart_abandoned]
    priority: 10
    template: standard_message
    offer: { headline: "Campaign offer", code: CAMPAIGN5 }
    experiment:
      name: everything
      holdout: 10%
      combinations:
        - [a, a, a, a, a, a, a]
        - [b, a, a, a, a, a, a]
        - [a, b, a, a, a, a, a]
        - [a, a, b, a, a, a, a]
        - [a, a, a, b, a, a, a]
        - [a, a, a, a, b, a, a]
        - [a, a, a, a, a, b, a]
        - [a, a, a, a, a, a, b]
        - [a, a, a, a, a, c, a]
      variables:
        subject: [{ name: a, value: "Plain subject for {{product.title}}" }, { name: b, value: "Still thinking about {{product.title}}?" }]
        preheader: [{ name: a, value: "Plain preheader" }, { name: b, value: "A question for {{default customer.first_name \\"you\\"}}" }]
        look: { kind: template, levels: [{ name: a, value: standard_message }, { name: b, value: upsell }] }
        block_order: [{ name: a, value: [cart, recommendations, offer] }, { name: b, value: [recommendations, cart] }]
        offer: [{ name: a, value: none }, { name: b, value: { headline: "Arm offer", code: ARM10 } }]
        recommendations: [{ name: a, value: co_viewed }, { name: b, value: popular }, { name: c, value: none }]
        send_delay: [{ name: a, value: 0s }, { name: b, value: 2h }]
`;

const campaigns = parseCampaigns('campaigns.yaml', yaml);
const files = shippedTemplateFiles();
const assets = { campaigns, templates: compileTemplates(files, { subjects: variantSubjects(campaigns) }), historyMs: 86_400_000 };
const requests: RecommendationRequest[] = [];
const recommendations = {
  recommend: async (request: RecommendationRequest) => {
    requests.push(request);
    const id = request.strategy === 'popular' ? 'best-seller' : 'co-viewed';
    return { items: [{ product_id: id, title: id === 'best-seller' ? 'Best Seller Mug' : 'Co-viewed Socks', url: `https://shop.example.com/p/${id}` }], fallback: false };
  },
};
const content = { links: new LinkSigner(KEY, BASE), productUrlTemplate: 'https://shop.example.com/p/{product_id}', shopUrl: 'https://shop.example.com/', brandName: 'Kairos Shop', brandAddress: null, recommendationsLimit: 2 };
const profile = customerProfile({ customer_id: 'c-1', updated_at: 1, email: 'c1@example.com', first_name: 'Ann', consent_email: true });

function preview(arm: string): Promise<Preview> {
  return previewEmail({
    assets, campaign: 'standard_message', profile, rule: 'cart_abandoned', now: NOW, recommendations, content, arm,
    context: { product_id: 'sku-1', product_title: 'Blue Kettle', cart_product_ids: 'sku-2' },
  });
}

const control = 'a+a+a+a+a+a+a';

describe('experiment variables in the rendered email', () => {
  it('renders the control arm with its subject, preheader, template and no offer', async () => {
    const email = await preview(control);
    expect(email).toMatchObject({ subject: 'Plain subject for Blue Kettle', preheader: 'Plain preheader', template: 'standard_message', variant: control });
    expect(email.html).not.toContain('Campaign offer');
  });

  it('subject', async () => {
    expect((await preview('b+a+a+a+a+a+a')).subject).toBe('Still thinking about Blue Kettle?');
  });

  it('preheader', async () => {
    const email = await preview('a+b+a+a+a+a+a');
    expect(email.preheader).toBe('A question for Ann');
    expect(email.html).toContain('A question for Ann');
  });

  it('template', async () => {
    const email = await preview('a+a+b+a+a+a+a');
    expect(email.template).toBe('upsell');
    expect(email.html).toContain('You keep coming back to this one');
  });

  it('block order', async () => {
    const cartFirst = await preview(control);
    const recsFirst = await preview('a+a+a+b+a+a+a');
    const order = (html: string) => [html.indexOf('Co-viewed Socks'), html.indexOf('sku-2')];
    const [recsA, cartA] = order(cartFirst.html);
    const [recsB, cartB] = order(recsFirst.html);
    expect(recsA).toBeGreaterThan(-1);
    expect(cartA).toBeGreaterThan(-1);
    expect(cartA).toBeLessThan(recsA);
    expect(recsB).toBeLessThan(cartB);
    const textOrder = (text: string) => text.indexOf('Co-viewed Socks') < text.indexOf('Still in your cart');
    expect(textOrder(cartFirst.text)).toBe(false);
    expect(textOrder(recsFirst.text)).toBe(true);
  });

  it('offer: none drops the campaign offer; a mapping replaces it', async () => {
    const email = await preview('a+a+a+a+b+a+a');
    expect(email.html).toContain('Arm offer');
    expect(email.html).toContain('ARM10');
    expect(email.html).not.toContain('Campaign offer');
  });

  it('recommendations: co_viewed, popular and none', async () => {
    requests.length = 0;
    expect((await preview(control)).html).toContain('Co-viewed Socks');
    const popular = await preview('a+a+a+a+a+b+a');
    expect(popular.html).toContain('Best Seller Mug');
    expect(popular.html).not.toContain('Co-viewed Socks');
    const none = await preview('a+a+a+a+a+c+a');
    expect(none.html).not.toContain('Co-viewed Socks');
    expect(none.html).not.toContain('Best Seller Mug');
    expect(requests.map((request) => request.strategy)).toEqual(['co_viewed', 'popular']); // none asks nobody
  });

  it('send delay changes when, not what: the email is the control email', async () => {
    const delayed = await preview('a+a+a+a+a+a+b');
    const plain = await preview(control);
    expect(delayed.subject).toBe(plain.subject);
    expect(delayed.variant).toBe('a+a+a+a+a+a+b');
  });

  it('every link carries the arm name as variant', async () => {
    const email = await preview('a+a+a+a+a+b+a');
    const hrefs = [...email.html.matchAll(/(?:href|src)="(https?:[^"]*)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&')).filter((url) => url.startsWith(BASE));
    expect(hrefs.length).toBeGreaterThan(3);
    for (const url of hrefs) {
      expect(verifyLinkToken(url.slice(BASE.length + 3), { current: KEY, previous: [] }, NOW)).toMatchObject({ ok: true, claims: { campaign: 'standard_message', variant: 'a+a+a+a+a+b+a' } });
    }
  });

  it('refuses an arm the experiment does not have', async () => {
    await expect(preview('z')).rejects.toThrow(PreviewError);
  });
});

describe('block_order names at start-up', () => {
  it('are checked against the partials that exist in both parts', () => {
    expect(partialNames(files).sort()).toEqual(['blocks', 'cart', 'footer', 'hero', 'offer', 'recent_purchase', 'recommendations']);
    expect(() => validateCampaignBlocks(campaigns, partialNames(files))).not.toThrow();
    expect(() => validateCampaignBlocks(campaigns, ['cart'])).toThrow(/block recommendations, offer has no partial/);
  });
});
