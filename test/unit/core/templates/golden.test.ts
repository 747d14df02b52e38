/**
 * Pins the rendered output, byte for byte, of every shipped template over a fixed set of inputs
 * (the benchmark's cart reminder, a full profile with an offer, a sparse one, experiment blocks,
 * several locales, currencies and zones, tracking on and off), so that work on render speed
 * (formatter caches, fewer copies) cannot change what a customer receives.
 *
 * The expected renders are in golden/renders.json, written by the code before that work. Number
 * and date formats come from the ICU data of the pinned Node.js (infra/node.sh); on another
 * Node.js version they may differ. After an intended change of a template or of the output,
 * regenerate with `UPDATE_GOLDEN=1 npx jest --selectProjects unit --testPathPatterns golden`
 * and review the diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileTemplates, render, type RenderData, type RenderedEmail, type LinkTracking } from '../../../../services/core/templates';
import { sampleData } from '../../../../bench/render';
import { shippedTemplateFiles } from './shipped';

const GOLDEN = join(__dirname, 'golden', 'renders.json');

const templates = compileTemplates(shippedTemplateFiles(), {
  subjects: [
    { id: 'subject-b', text: '{{#if customer.first_name}}{{customer.first_name}}, {{/if}}{{#if offer}}{{offer.headline}}{{else}}a note from {{brand.name}}{{/if}}' },
    { id: 'preheader-b', text: 'Prices from {{#if product.price_cents}}{{money product.price_cents product.currency}}{{else}}little{{/if}}' },
  ],
});

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12);

const full: RenderData = {
  customer: { customer_id: 'c-1', first_name: 'Ada', last_name: 'Lovelace', attributes: { tier: 'gold', city: ' Berlin ' } },
  trigger: { rule: 'high_interest', context: { product_id: 'p-42' } },
  product: { product_id: 'p-42', title: 'Trail Runner 2', url: 'https://shop.example/p/42?sig=abc&x=1', image_url: 'https://cdn.example/42.jpg', price_cents: 12999, currency: 'EUR' },
  cart: [
    { product_id: 'p-1', title: 'Water Bottle', url: 'https://shop.example/p/1', price_cents: 999, currency: 'usd' },
    { product_id: 'p-2', title: 'Tea "Sencha" <green>', url: 'https://shop.example/p/2', price_cents: 1200, currency: 'JPY' },
    { product_id: 'p-3', title: 'Bad link', url: 'javascript:alert(1)', price_cents: 100, currency: 'EUR' },
    { product_id: 'p-4', title: 'Dinar lamp', url: 'https://shop.example/p/4', price_cents: 123456, currency: 'KWD' },
  ],
  recommendations: {
    fallback: false,
    items: [
      { product_id: 'p-7', title: 'Merino Socks', url: 'https://shop.example/p/7', price_cents: 1500, currency: 'CHF' },
      { product_id: 'p-8', title: 'Rain Jacket', url: 'https://shop.example/p/8' },
    ],
  },
  offer: { headline: '15% off your next order', description: 'For the shoes you looked at.', code: 'THANKYOU15', discount_percent: 15, expires_at: Date.UTC(2025, 5, 7, 23, 30) },
  links: { unsubscribe_url: 'https://t.example/u/abc?sig=1', preferences_url: 'https://t.example/prefs/abc', shop_url: 'https://shop.example/' },
  brand: { name: 'Kairos Shop', address: '1 Example Street, Berlin' },
  segments: ['frequent_buyer', ' '],
  facts: {
    last_purchase: { at: NOW - 3 * DAY, product: { product_id: 'p-9', title: 'Merino Beanie', url: 'https://t.example/c/beanie' } },
    last_viewed: { at: NOW - DAY, product: { product_id: 'p-42' } },
    purchases_30d: 1,
    purchases_90d: 2,
  },
};

const sparse: RenderData = { customer: { first_name: '  ' }, recommendations: { fallback: true, items: [{ product_id: 'p-9', title: 'Best Seller Tee', url: 'https://shop.example/p/9', price_cents: 2500, currency: 'GBP' }] }, links: { unsubscribe_url: 'https://t.example/u/x' } };

const tracking: LinkTracking = {
  click: (url) => `https://t.example/c/${encodeURIComponent(url)}`,
  isTracked: (url) => url.startsWith('https://t.example/'),
  openPixelUrl: 'https://t.example/o/abc.gif',
};

interface Case {
  name: string;
  template: string;
  data: RenderData;
  locale?: string | null;
  timeZone?: string | null;
  subjectOverride?: string;
  preheaderOverride?: string;
  tracking?: boolean;
}

function cases(): Case[] {
  const list: Case[] = [
    // The benchmark's render (bench/render.ts), twice: nothing may carry over from one render to the next.
    { name: 'bench cart_reminder 0', template: 'cart_reminder', data: sampleData(0), locale: 'de-DE', timeZone: 'Europe/Berlin' },
    { name: 'bench cart_reminder 7', template: 'cart_reminder', data: sampleData(7), locale: 'de-DE', timeZone: 'Europe/Berlin' },
  ];
  const locales: Array<[string | null, string | null]> = [
    ['en-US', 'America/New_York'], ['de-DE', 'Europe/Berlin'], ['de_CH', 'Europe/Zurich'], ['ja-JP', 'Asia/Tokyo'],
    ['fr-FR', 'Pacific/Kiritimati'], ['ar-EG', 'Africa/Cairo'], ['not a locale!!', 'Mars/Olympus'], [null, null],
  ];
  for (const template of templates.names) {
    for (const [locale, timeZone] of locales) list.push({ name: `${template} full ${locale} ${timeZone}`, template, data: full, locale, timeZone });
    list.push({ name: `${template} sparse`, template, data: sparse, locale: 'en-GB', timeZone: 'Europe/London' });
    list.push({ name: `${template} blocks`, template, data: { ...full, blocks: ['offer', 'recent_purchase', 'cart', 'recommendations'] }, locale: 'de-DE', timeZone: 'Europe/Berlin' });
    list.push({ name: `${template} overrides tracked`, template, data: full, locale: 'en-US', timeZone: 'UTC', subjectOverride: 'subject-b', preheaderOverride: 'preheader-b', tracking: true });
  }
  return list;
}

function renderCase(c: Case): RenderedEmail | { error: string } {
  try {
    return render({
      templates, template: c.template, data: c.data, locale: c.locale, timeZone: c.timeZone,
      subjectOverride: c.subjectOverride ?? null, preheaderOverride: c.preheaderOverride ?? null, tracking: c.tracking ? tracking : null,
    });
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

describe('rendered output is pinned', () => {
  const actual = Object.fromEntries(cases().map((c) => [c.name, renderCase(c)]));
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, `${JSON.stringify(actual, null, 1)}\n`);
  const expected = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, unknown>;

  it('covers the same cases as golden/renders.json', () => {
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.keys(actual))('%s', (name) => {
    expect(actual[name]).toEqual(expected[name]);
  });

  it('renders the same email whether or not another render ran before it', () => {
    const first = renderCase(cases()[1]);
    for (const c of cases()) renderCase(c);
    expect(renderCase(cases()[1])).toEqual(first);
  });
});
