/**
 * Tracked links at render time: the templates' own http(s) links become signed click links, the
 * open pixel closes the body, data links (already signed, or carrying a customer value) and
 * mailto:/tel:/anchors stay as they are.
 */
import { compileTemplates, render, type LinkTracking, type TemplateFile } from '../../../../services/core/templates';

const TRACKER = 'https://t.example/';
const tracking: LinkTracking = {
  click: (url) => `${TRACKER}c/${Buffer.from(url).toString('base64url')}`,
  isTracked: (url) => url.startsWith(TRACKER),
  openPixelUrl: `${TRACKER}o/pixel`,
};
const untrack = (href: string) => Buffer.from(href.slice(`${TRACKER}c/`.length), 'base64url').toString();

function set(html: string, text: string): TemplateFile[] {
  const files: Record<string, string> = {
    'layouts/main.hbs': '<html><body>{{{body}}}<a href="{{links.unsubscribe_url}}">Unsubscribe</a></body></html>',
    'layouts/main.text.hbs': '{{body}}\nUnsubscribe: {{links.unsubscribe_url}}',
    'emails/hello/subject.hbs': 'Hello',
    'emails/hello/preheader.hbs': 'A short note',
    'emails/hello/html.hbs': html,
    'emails/hello/text.hbs': text,
  };
  return Object.entries(files).map(([path, content]) => ({ path, text: content }));
}

function run(html: string, text: string, data: Record<string, unknown> = {}) {
  return render({
    templates: compileTemplates(set(html, text)),
    template: 'hello',
    data: { customer: { first_name: 'Ann', attributes: { site: 'https://evil.example/x' } }, links: { unsubscribe_url: `${TRACKER}u/token` }, ...data },
    tracking,
  });
}

describe('render with link tracking', () => {
  it("wraps the template's own links in both parts, the same URL once, and adds the pixel before </body>", () => {
    const out = run(
      '<p><a href="https://shop.example.com/help?a=1&amp;b=2">Help</a> <a href=\'https://shop.example.com/help?a=1&b=2\'>again</a></p>',
      'Help: https://shop.example.com/help?a=1&b=2. Shop: http://shop.example.com/',
    );
    const hrefs = [...out.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string);
    expect(hrefs).toHaveLength(3);
    expect(untrack(hrefs[0] as string)).toBe('https://shop.example.com/help?a=1&b=2');
    expect(hrefs[1]).toBe(hrefs[0]);
    expect(hrefs[2]).toBe(`${TRACKER}u/token`); // already the tracker's: not wrapped again
    expect(out.html).toMatch(/<img src="https:\/\/t\.example\/o\/pixel" width="1" height="1" alt=""[^>]*><\/body><\/html>$/);
    expect(out.text).toContain(`Help: ${hrefs[0]}. Shop: ${TRACKER}c/`);
    expect(out.text).toContain(`Unsubscribe: ${TRACKER}u/token`);
    expect(out.text).not.toContain('shop.example.com');
  });

  it("tracks a template's own link beside, or holding, a C1 character (a marker's digits are not a marker)", () => {
    const out = run('<p>\x85<a href="https://shop.example.com/help\x9f">Help</a></p>', 'Help:\x85https://shop.example.com/help');
    const hrefs = [...out.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string);
    expect(untrack(hrefs[0] as string)).toBe('https://shop.example.com/help\x9f');
    expect(out.text).toContain(`Help:\x85${TRACKER}c/`);
    expect(out.text).not.toContain('shop.example.com');
  });

  it('leaves links that hold a value (even glued into a template address), mailto:, tel: and anchors alone', () => {
    const out = run(
      '<p><a href="{{customer.attributes.site}}">site</a> <a href="https://shop.example.com/u/{{customer.first_name}}">you</a> <a href="mailto:help@example.com">mail</a> <a href="tel:+123">call</a> <a href="#top">top</a></p>',
      'Site: {{customer.attributes.site}} and https://shop.example.com/u/{{customer.first_name}}',
    );
    expect(out.html).toContain('href="https://evil.example/x"');
    expect(out.html).toContain('href="https://shop.example.com/u/Ann"');
    expect(out.html).toContain('href="mailto:help@example.com"');
    expect(out.html).toContain('href="tel:+123"');
    expect(out.html).toContain('href="#top"');
    expect(out.text).toContain('Site: https://evil.example/x and https://shop.example.com/u/Ann');
    expect(out.html).not.toContain(`${TRACKER}c/`);
  });

  it('leaves a template link holding what money, date or percent print alone, as one holding any other value', () => {
    const out = run(
      '<a href="https://shop.example.com/sale?off={{percent offer.discount_percent}}">sale</a> <a href="https://shop.example.com/help">help</a>',
      'Sale: https://shop.example.com/sale?until={{date offer.expires_at style="short"}}',
      { offer: { headline: 'Sale', discount_percent: 15, expires_at: Date.UTC(2026, 0, 2) } },
    );
    expect(out.html).toContain('href="https://shop.example.com/sale?off=15%"');
    expect(out.html).toMatch(/<a href="https:\/\/t\.example\/c\/[^"]+">help<\/a>/);
    expect(out.text).toContain('Sale: https://shop.example.com/sale?until=1/2/26');
  });

  it('a template link that already points at the tracker is not wrapped twice', () => {
    const out = run(`<a href="${TRACKER}c/abc">x</a>`, `${TRACKER}c/abc`);
    expect(out.html).toContain(`href="${TRACKER}c/abc"`);
    expect(out.text).toContain(`${TRACKER}c/abc`);
  });

  it('without tracking the parts are left as rendered (no pixel)', () => {
    const out = render({ templates: compileTemplates(set('<a href="https://shop.example.com/">x</a>', 'x')), template: 'hello', data: { customer: {}, links: { unsubscribe_url: `${TRACKER}u/t` } } });
    expect(out.html).toContain('href="https://shop.example.com/"');
    expect(out.html).not.toContain('<img');
  });
});
