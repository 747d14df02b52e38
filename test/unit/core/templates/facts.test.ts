/**
 * What templates see of the segmenter (segments, facts), and the brief's examples in the shipped
 * upsell template: the last purchased product in the preheader and the 30-day conditional block,
 * each branch and each fallback.
 */
import { compileTemplates, render, type RenderData, type RenderFacts } from '../../../../services/core/templates';
import { buildView } from '../../../../services/core/templates/view';
import { shippedTemplateFiles } from './shipped';

const templates = compileTemplates(shippedTemplateFiles());
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12);

const base: RenderData = {
  customer: { customer_id: 'c-1', first_name: 'Ada' },
  trigger: { rule: 'high_interest', context: { product_id: 'p-42' } },
  product: { product_id: 'p-42', title: 'Trail Runner 2', url: 'https://shop.example/p/42' },
  offer: { headline: '10% off the one you keep coming back to', code: 'LOOKAGAIN10', discount_percent: 10 },
  links: { unsubscribe_url: 'https://t.example/u/abc' },
};

const bought: RenderFacts = {
  last_purchase: { at: NOW - 3 * DAY, product: { product_id: 'p-9', title: 'Merino Beanie', url: 'https://t.example/c/beanie' } },
  purchases_30d: 1,
  purchases_90d: 2,
};

function upsell(facts: RenderFacts | null, extra: Partial<RenderData> = {}) {
  const email = render({ templates, template: 'upsell', data: { ...base, facts, ...extra }, locale: 'en-US', timeZone: 'UTC' });
  for (const part of [email.subject, email.preheader, email.html, email.text]) expect(part).not.toMatch(/undefined|null|\{\{|\[object Object\]/);
  return email;
}

describe('the upsell template with facts', () => {
  it('names the last purchased product in the preheader and thanks a recent buyer', () => {
    const email = upsell(bought);
    expect(email.subject).toBe('Ada, still thinking about Trail Runner 2?');
    expect(email.preheader).toBe('Exclusive deal for Merino Beanie fans: 10% off the one you keep coming back to.');
    expect(email.html).toContain("Thank you for your recent purchase of Merino Beanie! Here's a special offer just for you.");
    expect(email.text).toContain("Thank you for your recent purchase of Merino Beanie! Here's a special offer just for you.");
    expect(email.html).not.toContain('We miss you');
    expect(email.html).toContain('LOOKAGAIN10');
  });

  it('falls back when the last purchase has no title (no catalogue entry) or no product', () => {
    const untitled = upsell({ ...bought, last_purchase: { at: NOW - DAY, product: { product_id: 'p-9', url: 'https://t.example/c/x' } } });
    expect(untitled.preheader).toBe('An exclusive deal for you: 10% off the one you keep coming back to.');
    expect(untitled.text).toContain("Thank you for your recent purchase! Here's a special offer just for you.");
    const unknown = upsell({ ...bought, last_purchase: { at: NOW - DAY, product: null } });
    expect(unknown.preheader).toBe('An exclusive deal for you: 10% off the one you keep coming back to.');
    expect(unknown.text).toContain('Thank you for your recent purchase!');
  });

  it('says "we miss you" without a purchase in the last 30 days, and with no facts at all', () => {
    const lapsed = upsell({ ...bought, purchases_30d: 0 });
    expect(lapsed.preheader).toBe('Exclusive deal for Merino Beanie fans: 10% off the one you keep coming back to.');
    expect(lapsed.html).toContain("We miss you! Come back and see what's new.");
    expect(lapsed.text).toContain("We miss you! Come back and see what's new.");
    expect(lapsed.html).not.toContain('Thank you for your recent purchase');
    const none = upsell(null);
    expect(none.preheader).toBe('An exclusive deal for you: 10% off the one you keep coming back to.');
    expect(none.text).toContain("We miss you! Come back and see what's new.");
  });

  it('without an offer or a product it still reads', () => {
    const email = upsell(bought, { offer: null, product: null, customer: { customer_id: 'c-1' } });
    expect(email.subject).toBe('Take another look');
    expect(email.preheader).toBe('Exclusive deal for Merino Beanie fans.');
  });

  it('treats a product title as data, like every customer value', () => {
    const email = upsell({ ...bought, last_purchase: { at: NOW, product: { product_id: 'p-1', title: '<b>Tee & "Cap"</b>', url: 'https://t.example/c/1' } } });
    expect(email.html).toContain('purchase of &lt;b&gt;Tee &amp; &quot;Cap&quot;&lt;/b&gt;!');
    expect(email.preheader).toBe('Exclusive deal for <b>Tee & "Cap"</b> fans: 10% off the one you keep coming back to.');
  });
});

describe('the view of segments and facts', () => {
  const view = (data: Partial<RenderData>) => buildView({ ...base, ...data }) as Record<string, unknown>;

  it('gives segments as { name: true } and facts as documented, with counts 0 when unknown', () => {
    const shown = view({ segments: ['engaged', 'high_interest'], facts: { ...bought, last_viewed: { at: NOW, product: { product_id: 'p-42', url: 'https://t.example/c/42' } } } });
    expect(shown.segments).toEqual({ engaged: true, high_interest: true });
    expect(shown.facts).toEqual({
      last_purchase: { at: NOW - 3 * DAY, product_id: 'p-9', title: 'Merino Beanie', url: 'https://t.example/c/beanie' },
      last_viewed: { at: NOW, product_id: 'p-42', url: 'https://t.example/c/42' },
      purchases_30d: 1,
      purchases_90d: 2,
    });
    expect(view({}).segments).toEqual({});
    expect(view({}).facts).toEqual({ purchases_30d: 0, purchases_90d: 0 });
    expect(view({ facts: { last_purchase: { at: NOW, product: null } } }).facts).toEqual({ last_purchase: { at: NOW }, purchases_30d: 0, purchases_90d: 0 });
  });

  it('lets a template test segments and show fact times with the date helper', () => {
    const files = [
      ...shippedTemplateFiles().filter((file) => !file.path.replace(/\\/g, '/').startsWith('emails/')),
      { path: 'emails/t/subject.hbs', text: '{{#if segments.high_interest}}Interested{{else}}Hello{{/if}}' },
      { path: 'emails/t/preheader.hbs', text: '{{#if facts.last_purchase}}Last order {{date facts.last_purchase.at style="medium"}}{{else}}Welcome{{/if}}' },
      { path: 'emails/t/html.hbs', text: '<p>{{facts.purchases_90d}} orders</p>' },
      { path: 'emails/t/text.hbs', text: '{{facts.purchases_90d}} orders' },
    ];
    const custom = compileTemplates(files);
    const email = render({ templates: custom, template: 't', data: { ...base, segments: ['high_interest'], facts: bought }, locale: 'en-US', timeZone: 'UTC' });
    expect(email.subject).toBe('Interested');
    expect(email.preheader).toBe('Last order Jun 12, 2026');
    expect(email.text).toContain('2 orders');
    const other = render({ templates: custom, template: 't', data: base, locale: 'en-US', timeZone: 'UTC' });
    expect(other.subject).toBe('Hello');
    expect(other.preheader).toBe('Welcome');
    expect(other.text).toContain('0 orders');
  });
});
