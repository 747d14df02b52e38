/**
 * Issue 11, customer values in templates: a name is data. `Null`, `{{x}}`, `Ann}}` and the like
 * render literally (HTML-escaped in HTML) and the email goes out; the cleanliness check still
 * catches what a template gets wrong; no render error quotes a customer value.
 */
import { compileTemplates, render, TemplateRenderError, type RenderData, type TemplateFile } from '../../../services/core/templates';
import { MAX_SUBJECT_CHARS } from '../../../services/core/templates/render';
import { thrownBy } from '../../support/thrown';
import { shippedTemplateFiles } from '../core/templates/shipped';

const HOSTILE = ['Null', 'null', 'NULL', '{{x}}', 'Ann}}', '{{', '}}', 'undefined', '[object Object]', 'NaN', '{{#each this}}x{{/each}}', '{{> footer}}', '\uE000\uE100\uE100\uE001', '\uE001',
  // A value that looks like a marker (values.ts) or holds a marker's characters is a value too.
  '\x01\x80\x80\x80\x02', '\x01\x80\x80\x81\x02', '\x01', '\x02', '\x85\x9f'];

/** A set that prints every kind of customer value in every part. */
function valueSet(overrides: Record<string, string> = {}): TemplateFile[] {
  const files: Record<string, string> = {
    'layouts/main.hbs': '<html><head><title>{{subject}}</title></head><body><div>{{preheader}}</div>{{{body}}}{{> footer}}</body></html>',
    'layouts/main.text.hbs': '{{body}}\n{{> footer}}',
    'partials/footer.hbs': '<a href="{{links.unsubscribe_url}}">Unsubscribe</a>',
    'partials/footer.text.hbs': 'Unsubscribe: {{links.unsubscribe_url}}',
    'emails/hello/subject.hbs': 'Hello {{default customer.first_name "there"}}',
    'emails/hello/preheader.hbs': 'For {{customer.last_name}}',
    'emails/hello/html.hbs':
      '<p>Hi {{customer.first_name}} {{customer.last_name}}!</p><p>Tier {{customer.attributes.tier}}</p>{{#if product}}<p>{{product.title}}</p>{{/if}}',
    'emails/hello/text.hbs': 'Hi {{customer.first_name}} {{customer.last_name}}!\nTier {{customer.attributes.tier}}\n{{#if product}}{{product.title}}{{/if}}',
    ...overrides,
  };
  return Object.entries(files).map(([path, text]) => ({ path, text }));
}

function data(value: string, extra: Partial<RenderData> = {}): RenderData {
  return {
    customer: { customer_id: 'c-1', first_name: value, last_name: value, attributes: { tier: value } },
    product: { product_id: 'p-1', title: value, url: 'https://shop.example/p/1' },
    links: { unsubscribe_url: 'https://t.example/u/x' },
    ...extra,
  };
}

const escape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;').replace(/`/g, '&#x60;').replace(/=/g, '&#x3D;');

const renderError = (fn: () => unknown): TemplateRenderError => thrownBy(TemplateRenderError, fn);

describe('customer values are data, never template text', () => {
  const templates = compileTemplates(valueSet());

  it.each(HOSTILE)('renders %j literally in names, attributes and product titles', (value) => {
    const email = render({ templates, template: 'hello', data: data(value) });
    expect(email.subject).toBe(`Hello ${value}`);
    expect(email.preheader).toBe(`For ${value}`);
    expect(email.text).toContain(`Hi ${value} ${value}!\nTier ${value}\n${value}`);
    expect(email.html).toContain(`<p>Hi ${escape(value)} ${escape(value)}!</p><p>Tier ${escape(value)}</p><p>${escape(value)}</p>`);
    expect(email.html).toContain(`<title>Hello ${escape(value)}</title>`);
  });

  it('sends a customer whose surname is Null with the shipped templates', () => {
    const shipped = compileTemplates(shippedTemplateFiles());
    for (const template of shipped.names) {
      const email = render({ templates: shipped, template, data: { ...data('Null'), customer: { first_name: 'Null', last_name: 'Null' } } });
      expect(email.html).toContain('Hi Null,');
      expect(email.text).toContain('Hi Null,');
    }
    const cart = render({ templates: shipped, template: 'cart_reminder', data: { ...data('x'), customer: { first_name: 'Ann}}' } } });
    expect(cart.subject).toBe('Ann}}, your cart is waiting');
  });

  it('escapes a value even where a template prints it with {{{triple}}} (no raw HTML from customers)', () => {
    const set = compileTemplates(valueSet({ 'emails/hello/html.hbs': '<p>{{{customer.first_name}}}</p>' }));
    const email = render({ templates: set, template: 'hello', data: data('<img src=x onerror=alert(1)>') });
    expect(email.html).toContain('<p>&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;</p>');
  });

  it('helpers still read values: money with the currency, lookup with a value as key, default', () => {
    const set = compileTemplates(valueSet({
      'emails/hello/html.hbs': '<p>{{money product.price_cents product.currency}}</p><p>{{lookup customer.attributes customer.attributes.pick}}</p><p>{{default customer.first_name "there"}}</p>',
      'emails/hello/text.hbs': '{{default customer.first_name "there"}}',
    }));
    const email = render({
      templates: set, template: 'hello', locale: 'de-DE',
      data: { customer: { first_name: '  ', last_name: 'Tester', attributes: { pick: 'gold', gold: 'Gold member' } }, product: { product_id: 'p', title: 't', url: 'https://s.example/p', price_cents: 12999, currency: 'eur' }, links: { unsubscribe_url: 'https://t.example/u' } },
    });
    expect(email.html).toMatch(/<p>129,99\s€<\/p><p>Gold member<\/p><p>there<\/p>/);
  });

  it('cuts a very long subject to the limit, with an ellipsis, and still sends', () => {
    const name = 'A'.repeat(100_000);
    const email = render({ templates, template: 'hello', data: data(name) });
    expect(Array.from(email.subject)).toHaveLength(MAX_SUBJECT_CHARS);
    expect(email.subject.endsWith('…')).toBe(true);
    expect(email.html).toContain(name);
  });

  it('cuts by characters, never inside a surrogate pair', () => {
    const email = render({ templates, template: 'hello', data: data('😀'.repeat(500)) });
    expect(email.subject).toBe(`Hello ${'😀'.repeat(MAX_SUBJECT_CHARS - 7)}…`);
  });
});

describe('the cleanliness check still judges what the templates produced', () => {
  it.each([
    ['a literal null', '<p>Hi {{customer.first_name}}, null</p>', '"null"'],
    ['an object printed', '<p>{{customer}}</p>', '[object Object]'],
    ['an escaped mustache left in the copy', '<p>\\{{customer.first_name}}</p>', 'raw Handlebars token'],
    ['an empty token before a comma', '<p>Hi {{#if customer.nickname}}{{customer.nickname}}{{/if}} , welcome</p>', 'empty token'],
  ])('fails the render for %s', (_label, html, problem) => {
    const set = compileTemplates(valueSet({ 'emails/hello/html.hbs': html }));
    const error = renderError(() => render({ templates: set, template: 'hello', data: data('Zyxwv') }));
    expect(error.message).toContain(problem);
  });

  it('a template printing "null" next to a name quotes the name as [value], never the name', () => {
    const set = compileTemplates(valueSet({ 'emails/hello/html.hbs': '<p>Dear {{customer.first_name}} {{customer.last_name}}: null</p>' }));
    const error = renderError(() => render({ templates: set, template: 'hello', data: data('Zyxwv Secretname') }));
    expect(error.message).toMatch(/rendered email shows "null": .*Dear \[value\] \[value\]: null/);
    expect(error.message).not.toMatch(/Zyxwv|Secretname/);
  });

  it('a Handlebars error on a value names no value (strict lookup into a string)', () => {
    const set = compileTemplates(valueSet({ 'emails/hello/html.hbs': '<p>{{customer.first_name.nope}}</p>' }));
    const error = renderError(() => render({ templates: set, template: 'hello', data: data('Zyxwv Secretname') }));
    expect(error.message).toMatch(/^template "hello", html: /);
    expect(error.message).not.toMatch(/Zyxwv|Secretname/);
  });

  it.each([['\x01', 'U+0001'], ['\x02', 'U+0002']])('a template holding %j, which opens or closes a value marker, is refused at compile time with its place', (char, code) => {
    const html = `<p>Hi</p>\n<p>${char}{{customer.first_name}}</p>`;
    expect(() => compileTemplates(valueSet({ 'emails/hello/html.hbs': html }))).toThrow(
      `emails/hello/html.hbs:2: holds the control character ${code} (column 4), which render() keeps for value markers; remove it`,
    );
    expect(() => compileTemplates(valueSet(), { subjects: [{ id: 'b', text: `Hi ${char}` }] })).toThrow(`subject override "b":1: holds the control character ${code} (column 4)`);
  });

  it("a template's other control characters (a marker's digits among them) are its text, beside values too", () => {
    const set = compileTemplates(valueSet({ 'emails/hello/html.hbs': '<p>\x85{{customer.first_name}}\x9f\x80{{customer.last_name}}</p>' }));
    expect(render({ templates: set, template: 'hello', data: data('Dana') }).html).toContain('<p>\x85Dana\x9f\x80Dana</p>');
  });

  it('a subject that is too long because of the template alone is cut as well', () => {
    const set = compileTemplates(valueSet({ 'emails/hello/subject.hbs': 'x'.repeat(5000) }));
    expect(render({ templates: set, template: 'hello', data: data('Dana') }).subject).toHaveLength(MAX_SUBJECT_CHARS);
  });
});
