import { assertRenderedClean, compileTemplates, render, type RenderData } from '../../../../services/core/templates';
import { shippedTemplateFiles } from './shipped';

const templates = compileTemplates(shippedTemplateFiles());

const fullData: RenderData = {
  customer: { customer_id: 'c-1', first_name: 'Ada', last_name: 'Lovelace' },
  trigger: { rule: 'high_interest', context: { product_id: 'p-42' } },
  product: { product_id: 'p-42', title: 'Trail Runner 2', url: 'https://shop.example/p/42?sig=abc&x=1', image_url: 'https://cdn.example/42.jpg', price_cents: 12999, currency: 'EUR' },
  recommendations: {
    fallback: false,
    items: [
      { product_id: 'p-7', title: 'Merino Socks', url: 'https://shop.example/p/7', price_cents: 1500, currency: 'EUR' },
      { product_id: 'p-8', title: 'Rain Jacket', url: 'https://shop.example/p/8' },
    ],
  },
  offer: { headline: '15% off your next order', code: 'THANKYOU15', discount_percent: 15, expires_at: Date.UTC(2025, 5, 7, 12) },
  links: { unsubscribe_url: 'https://t.example/u/abc?sig=1', preferences_url: 'https://t.example/prefs/abc' },
};

function renderOf(template: string, data: RenderData, locale = 'en-US', timeZone = 'Europe/Berlin') {
  return render({ templates, template, data, locale, timeZone });
}

function expectClean(email: { subject: string; preheader: string; html: string; text: string }) {
  for (const part of [email.subject, email.preheader, email.html, email.text]) {
    expect(() => assertRenderedClean(part)).not.toThrow();
    expect(part).not.toMatch(/undefined|null|\{\{|\[object Object\]/);
  }
}

describe('render with the shipped templates', () => {
  it('renders subject, preheader, name, product and recommendations for a full profile', () => {
    const email = renderOf('standard_message', fullData);
    expect(email.subject).toBe('Still thinking about Trail Runner 2?');
    expect(email.preheader).toBe('We picked a few things we think you will like.');
    expect(email.html).toContain('Hi Ada,');
    expect(email.html).toContain('Trail Runner 2');
    expect(email.html).toContain('€129.99');
    expect(email.html).toContain('Merino Socks');
    expect(email.html).toContain('Rain Jacket');
    expect(email.html).toContain('Picked for you');
    expect(email.html).toContain('>We picked a few things we think you will like.</div>');
    expect(email.html).toMatch(/<a href="https:\/\/t\.example\/u\/abc\?sig&#x3D;1"[^>]*>Unsubscribe<\/a>/);
    expect(email.text).toContain('Hi Ada,');
    expect(email.text).toContain('Trail Runner 2 - €129.99');
    expect(email.text).toContain('- Merino Socks (€15.00): https://shop.example/p/7');
    expect(email.text).toContain('Unsubscribe: https://t.example/u/abc?sig=1');
    expectClean(email);
  });

  it('renders the exclusive offer with offer block, code and expiry in the customer zone', () => {
    const email = renderOf('exclusive_offer', fullData);
    expect(email.subject).toBe('Ada, an exclusive offer for you: 15% off');
    expect(email.preheader).toBe('15% off your next order - a thank-you for being one of our best customers.');
    expect(email.html).toContain('THANKYOU15');
    expect(email.html).toContain('Valid until June 7, 2025.');
    expect(email.text).toContain('Use code THANKYOU15 at checkout.');
    expectClean(email);
  });

  it('falls back when the name is missing and best sellers stand in for recommendations', () => {
    const data: RenderData = {
      customer: { first_name: '   ', last_name: null },
      trigger: { rule: 'cart_abandoned', context: {} },
      product: null,
      cart: [{ product_id: 'p-1', title: 'Water Bottle', url: 'https://shop.example/p/1', price_cents: 999, currency: 'usd' }],
      recommendations: { fallback: true, items: [{ product_id: 'p-9', title: 'Best Seller Tee', url: 'https://shop.example/p/9' }] },
      offer: null,
      links: { unsubscribe_url: 'https://t.example/u/x' },
    };
    for (const template of templates.names) {
      const email = renderOf(template, data);
      expect(email.html).toContain('Hi there,');
      expect(email.text).toContain('Hi there,');
      expect(email.html).toContain('Popular right now');
      expect(email.html).toContain('Best Seller Tee');
      expect(email.html).toContain('Water Bottle');
      expect(email.html).not.toContain('Picked for you');
      expectClean(email);
    }
    expect(renderOf('cart_reminder', data).subject).toBe('Your cart is waiting');
    expect(renderOf('exclusive_offer', data).subject).toBe('An exclusive offer for you');
  });

  it('renders with the bare minimum: no product, cart, recommendations or offer', () => {
    const data: RenderData = { customer: {}, links: { unsubscribe_url: 'https://t.example/u/x' } };
    for (const template of templates.names) {
      const email = renderOf(template, data);
      expect(email.html).toContain('Unsubscribe');
      expectClean(email);
    }
  });

  it('escapes customer values in the HTML and leaves the text part unescaped', () => {
    const data: RenderData = { ...fullData, customer: { first_name: '<script>alert(1)</script>' } };
    const email = renderOf('standard_message', data);
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('Hi &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(email.text).toContain('Hi <script>alert(1)</script>,');
    expect(email.subject).toBe('Still thinking about Trail Runner 2?');
  });

  it('escapes a hostile product title and drops non-http links', () => {
    const data: RenderData = {
      ...fullData,
      product: { product_id: 'p', title: '"><img src=x onerror=alert(1)>', url: 'https://shop.example/p' },
      recommendations: { fallback: false, items: [{ product_id: 'evil', title: 'Evil', url: 'javascript:alert(1)' }] },
    };
    const email = renderOf('standard_message', data);
    expect(email.html).not.toContain('<img src=x');
    expect(email.html).toContain('&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(email.html).not.toContain('javascript:');
    expect(email.html).not.toContain('Evil');
  });

  it('formats money and dates per locale: de-DE vs en-US', () => {
    const de = renderOf('exclusive_offer', fullData, 'de-DE', 'Europe/Berlin');
    const us = renderOf('exclusive_offer', fullData, 'en-US', 'America/New_York');
    expect(de.html).toMatch(/129,99\s€/);
    expect(us.html).toContain('€129.99');
    expect(de.html).toContain('7. Juni 2025');
    expect(us.html).toContain('June 7, 2025');
    expect(de.subject).toMatch(/15\s%/);
    expect(de.html).toContain('<html lang="de-DE">');
  });

  it('refuses to render without an unsubscribe link, naming the template', () => {
    const data = { ...fullData, links: { unsubscribe_url: '' } };
    expect(() => renderOf('standard_message', data)).toThrow(/template "standard_message".*unsubscribe_url/);
  });

  it('names an unknown template', () => {
    expect(() => renderOf('nope', fullData)).toThrow(/unknown template "nope"/);
  });

  it('falls back to en-US and UTC for an invalid locale and zone', () => {
    const email = render({ templates, template: 'exclusive_offer', data: fullData, locale: 'not a locale!!', timeZone: 'Mars/Olympus' });
    expect(email.html).toContain('€129.99');
    expect(email.html).toContain('June 7, 2025');
  });
});
