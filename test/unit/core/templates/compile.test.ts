import { assertRenderedClean, compileTemplates, DirtyRenderError, render, TemplateCompileError, type TemplateFile } from '../../../../services/core/templates';

/** A minimal valid set; tests replace or add files. */
function minimalSet(overrides: Record<string, string> = {}): TemplateFile[] {
  const files: Record<string, string> = {
    'layouts/main.hbs': '<html><body>{{{body}}}{{> footer}}</body></html>',
    'layouts/main.text.hbs': '{{body}}\n{{> footer}}',
    'partials/footer.hbs': '<a href="{{links.unsubscribe_url}}">Unsubscribe</a>',
    'partials/footer.text.hbs': 'Unsubscribe: {{links.unsubscribe_url}}',
    'emails/hello/subject.hbs': 'Hello {{default customer.first_name "there"}}',
    'emails/hello/preheader.hbs': 'A short note',
    'emails/hello/html.hbs': '<p>Hi {{default customer.first_name "there"}}!</p>',
    'emails/hello/text.hbs': 'Hi {{default customer.first_name "there"}}!',
    ...overrides,
  };
  return Object.entries(files).map(([path, text]) => ({ path, text }));
}

function compileError(files: TemplateFile[]): TemplateCompileError {
  try {
    compileTemplates(files);
  } catch (error) {
    if (error instanceof TemplateCompileError) return error;
    throw error;
  }
  throw new Error('expected compileTemplates to throw');
}

const links = { unsubscribe_url: 'https://t.example/u' };

describe('compileTemplates', () => {
  it('compiles a minimal set and ignores non-template files', () => {
    const set = compileTemplates([...minimalSet(), { path: 'README.md', text: '{{ not a template' }]);
    expect(set.names).toEqual(['hello']);
  });

  it('accepts Windows-style and ./ paths', () => {
    const files = minimalSet().map((file) => ({ ...file, path: `./${file.path.replace(/\//g, '\\')}` }));
    expect(compileTemplates(files).names).toEqual(['hello']);
  });

  it('names the file and line of a syntax error', () => {
    const error = compileError(minimalSet({ 'emails/hello/html.hbs': '<p>one</p>\n<p>two</p>\n<p>{{customer.first_name</p>' }));
    expect(error.file).toBe('emails/hello/html.hbs');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^emails\/hello\/html\.hbs:3: Parse error on line 3/);
  });

  it('names the file and line of a mismatched block', () => {
    const error = compileError(minimalSet({ 'partials/footer.hbs': 'x\n{{#if links}}\n<a href="{{links.unsubscribe_url}}">u</a>{{/each}}' }));
    expect(error.file).toBe('partials/footer.hbs');
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/if doesn't match each/);
  });

  it('fails at compile time on an unknown partial, with its line', () => {
    const error = compileError(minimalSet({ 'emails/hello/html.hbs': '<p>hi</p>\n{{> heroo}}' }));
    expect(error.message).toMatch(/^emails\/hello\/html\.hbs:2: unknown partial "heroo"; known partials: footer/);
    expect(error.line).toBe(2);
  });

  it('checks text parts against text partials: an HTML-only partial is unknown there', () => {
    const files = minimalSet({ 'partials/hero.hbs': '<h1>hi</h1>', 'emails/hello/text.hbs': 'x\n{{> hero}}' });
    expect(compileError(files).message).toMatch(/^emails\/hello\/text\.hbs:2: unknown partial "hero"/);
  });

  it('accepts inline partials and the layout partial block', () => {
    const html = '{{#*inline "greeting"}}Hi {{default customer.first_name "there"}}{{/inline}}<p>{{> greeting}}</p>';
    expect(() => compileTemplates(minimalSet({ 'emails/hello/html.hbs': html }))).not.toThrow();
  });

  it('fails at compile time on an unknown helper, with its line', () => {
    const error = compileError(minimalSet({ 'emails/hello/subject.hbs': '{{shout customer.first_name}}' }));
    expect(error.message).toMatch(/^emails\/hello\/subject\.hbs:1: unknown helper "shout"/);
    const sub = compileError(minimalSet({ 'emails/hello/html.hbs': '\n\n{{#if (upper x)}}y{{/if}}' }));
    expect(sub.message).toMatch(/:3: unknown helper "upper"/);
  });

  it('rejects the log helper and dynamic partials', () => {
    expect(compileError(minimalSet({ 'emails/hello/html.hbs': '{{log "x"}}' })).message).toMatch(/unknown helper "log"/);
    expect(compileError(minimalSet({ 'emails/hello/html.hbs': '{{> (lookup . "x")}}' })).message).toMatch(/dynamic partial/);
  });

  it('checks helper arity', () => {
    const error = compileError(minimalSet({ 'emails/hello/html.hbs': 'Hi {{default customer.first_name}}' }));
    expect(error.message).toMatch(/helper "default" takes 2 argument\(s\); got 1/);
  });

  it('requires all four parts of an email and both layouts', () => {
    const withoutText = minimalSet().filter((file) => file.path !== 'emails/hello/text.hbs');
    expect(compileError(withoutText).message).toMatch(/^emails\/hello\/text\.hbs: missing/);
    const withoutLayout = minimalSet().filter((file) => file.path !== 'layouts/main.text.hbs');
    expect(compileError(withoutLayout).message).toMatch(/^layouts\/main\.text\.hbs: missing/);
  });

  it('rejects a template file in an unknown place', () => {
    expect(compileError(minimalSet({ 'partial/hero.hbs': 'x' })).message).toMatch(/^partial\/hero\.hbs: not a place for a template/);
    expect(compileError(minimalSet({ 'emails/Hello/body.hbs': 'x' })).file).toBe('emails/Hello/body.hbs');
  });

  it('compiles variant subject overrides and reports their errors by id', () => {
    const set = compileTemplates(minimalSet(), { subjects: [{ id: 'hello/b', text: 'Psst, {{default customer.first_name "friend"}}' }] });
    const email = render({ templates: set, template: 'hello', data: { customer: {}, links }, subjectOverride: 'hello/b' });
    expect(email.subject).toBe('Psst, friend');
    expect(() => compileTemplates(minimalSet(), { subjects: [{ id: 'hello/c', text: '{{nope x}}' }] })).toThrow(/subject override "hello\/c":1: unknown helper "nope"/);
  });
});

describe('strict rendering and the clean check', () => {
  it('fails the render instead of sending "Hi ," when a bare token has no value', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/html.hbs': '<p>Hi {{customer.first_name}},</p>' }));
    expect(() => render({ templates: set, template: 'hello', data: { customer: { first_name: null }, links } })).toThrow(
      /template "hello", html: "first_name" not defined/,
    );
    const ok = render({ templates: set, template: 'hello', data: { customer: { first_name: 'Ada' }, links } });
    expect(ok.html).toContain('<p>Hi Ada,</p>');
  });

  it('fails the render when money has no value and no fallback', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/html.hbs': '<p>{{money customer.price_cents "EUR"}}</p>' }));
    expect(() => render({ templates: set, template: 'hello', data: { customer: {}, links } })).toThrow(/money: the value is missing/);
  });

  it('explains a helper argument read from a missing object', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/html.hbs': '<p>{{money product.price_cents "EUR"}}</p>' }));
    expect(() => render({ templates: set, template: 'hello', data: { customer: {}, links } })).toThrow(
      /template "hello", html: "price_cents" read from a missing value; guard it with \{\{#if\}\}/,
    );
  });

  it('uses a money fallback when given', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/html.hbs': '<p>Price: {{money missing "EUR" fallback="on request"}}</p>' }));
    expect(render({ templates: set, template: 'hello', data: { customer: {}, links } }).html).toContain('Price: on request');
  });

  it('formats JPY without minor units', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/text.hbs': '{{money product.price_cents product.currency}}' }));
    const product = { product_id: 'p', title: 'T', url: 'https://s.example/p', price_cents: 1500, currency: 'JPY' };
    expect(render({ templates: set, template: 'hello', data: { customer: {}, product, links }, locale: 'ja-JP' }).text).toMatch(/[¥￥]1,500/);
  });

  it('formats dates in the given zone: the same instant is a different day in Tokyo and Los Angeles', () => {
    const set = compileTemplates(minimalSet({ 'emails/hello/text.hbs': '{{date offer.expires_at style="full" time=true}}' }));
    const data = { customer: {}, offer: { headline: 'x', expires_at: Date.UTC(2025, 0, 1, 3, 30) }, links };
    expect(render({ templates: set, template: 'hello', data, locale: 'en-US', timeZone: 'Asia/Tokyo' }).text).toMatch(/Wednesday, January 1, 2025 at 12:30\sPM/);
    expect(render({ templates: set, template: 'hello', data, locale: 'en-US', timeZone: 'America/Los_Angeles' }).text).toMatch(/Tuesday, December 31, 2024 at 7:30\sPM/);
    expect(render({ templates: set, template: 'hello', data, locale: 'de-DE', timeZone: 'Europe/Berlin' }).text).toMatch(/Mittwoch, 1\. Januar 2025 um 04:30/);
  });

  it.each([
    ['Hi {{first_name}}', /raw Handlebars token/],
    ['Hi undefined', /"undefined"/],
    ['Hi null!', /"null"/],
    ['Total: NaN', /"NaN"/],
    ['Hi [object Object]', /object Object/],
    ['Hi ,', /empty token before a comma/],
    ['<a href="">x</a>', /empty link or image address/],
    ['<h1>Hi</h1><strong> </strong>', /empty element/],
  ])('assertRenderedClean rejects %s', (text, problem) => {
    expect(() => assertRenderedClean(text)).toThrow(DirtyRenderError);
    expect(() => assertRenderedClean(text)).toThrow(problem);
  });

  it('assertRenderedClean accepts ordinary copy', () => {
    expect(() => assertRenderedClean('<p>Hi Ada, your nullable-free, undefinedness-free cart: 9,99 €</p>')).not.toThrow();
  });
});
