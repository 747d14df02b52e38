/**
 * kairos_renderer_template_parts_total: the renderer's count of email parts rendered with a kept
 * check (`kept`) or checked anew (`checked`), read from the compiled templates at each scrape.
 */
import { Registry } from 'prom-client';
import { compileTemplates, render, type RenderData } from '../../../services/core/templates';
import { templatePartsCounter } from '../../../services/renderer/metrics';

const files = [
  { path: 'layouts/main.hbs', text: '<html><body>{{body}}</body></html>' },
  { path: 'layouts/main.text.hbs', text: '{{body}}' },
  { path: 'emails/cart/subject.hbs', text: 'Your cart, {{customer.first_name}}' },
  { path: 'emails/cart/preheader.hbs', text: '{{product.title}}' },
  { path: 'emails/cart/html.hbs', text: '{{#each cart}}<p>{{title}}</p>{{/each}}' },
  { path: 'emails/cart/text.hbs', text: '{{#each cart}}{{title}}\n{{/each}}' },
  { path: 'emails/quiet/subject.hbs', text: 'Hello' },
  { path: 'emails/quiet/preheader.hbs', text: 'Hello' },
  { path: 'emails/quiet/html.hbs', text: '<p>Hello</p>' },
  { path: 'emails/quiet/text.hbs', text: 'Hello' },
];

function data(i: number, items: number): RenderData {
  const product = (n: number) => ({ product_id: `p-${n}`, title: `Shoe ${n}`, url: `https://shop.example/p/${n}`, price_cents: 1000, currency: 'EUR' });
  return { customer: { first_name: `Ada ${i}` }, product: product(i), cart: Array.from({ length: items }, (_, n) => product(n)), links: { unsubscribe_url: 'https://t.example/u/1' } };
}

/** The counter's samples as `template/part/result` -> value. */
async function scrape(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('kairos_renderer_template_parts_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map(({ labels, value }) => [`${labels.template}/${labels.part}/${labels.result}`, value]));
}

describe('kairos_renderer_template_parts_total', () => {
  it('counts each part of each email once, kept or checked, across scrapes', async () => {
    const templates = compileTemplates(files);
    const registry = new Registry();
    templatePartsCounter(registry, templates);

    // Every series shows before the first email, at 0.
    const before = await scrape(registry);
    expect(Object.keys(before)).toHaveLength(2 * 4 * 2);
    expect(Object.values(before).every((value) => value === 0)).toBe(true);

    // Three emails of one shape (two cart items), then one of another (three items).
    for (let i = 0; i < 3; i += 1) render({ templates, template: 'cart', data: data(i, 2) });
    render({ templates, template: 'cart', data: data(3, 3) });
    const first = await scrape(registry);
    // Subject and preheader print the same marked output for all four emails.
    expect(first['cart/subject/checked']).toBe(1);
    expect(first['cart/subject/kept']).toBe(3);
    expect(first['cart/html/checked']).toBe(2);
    expect(first['cart/html/kept']).toBe(2);
    expect(first['cart/text/checked']).toBe(2);
    expect(first['cart/text/kept']).toBe(2);
    expect(first['quiet/html/checked']).toBe(0);

    // A scrape adds only what happened since the last one.
    render({ templates, template: 'cart', data: data(4, 3) });
    render({ templates, template: 'quiet', data: data(5, 0) });
    const second = await scrape(registry);
    expect(second['cart/html/checked']).toBe(2);
    expect(second['cart/html/kept']).toBe(3);
    expect(second['cart/subject/kept']).toBe(4);
    expect(second['quiet/html/checked']).toBe(1);
    expect(second['quiet/html/kept']).toBe(0);
    expect(await scrape(registry)).toEqual(second);
  });
});
