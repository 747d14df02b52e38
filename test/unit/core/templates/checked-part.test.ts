/**
 * render() finishes and checks each part of a template once per distinct marked output
 * (clean.ts, CheckedPart): an equal output gives what the first one gave, a dirty one fails
 * every time, and formatted amounts and dates are values, so emails that differ only in them
 * share their checked parts.
 */
import { compileTemplates, render, type RenderData } from '../../../../services/core/templates';
import { CHECKED_SHAPES_KEPT, CheckedPart, MAX_KEPT_UNITS } from '../../../../services/core/templates/clean';

/** A finish function that counts its calls and marks what it finished. */
function counting(): { finish: (output: string) => string; calls: () => number } {
  let calls = 0;
  return {
    finish: (output) => {
      calls += 1;
      return `${output.trim()}.`;
    },
    calls: () => calls,
  };
}

describe('CheckedPart', () => {
  it('finishes and checks an output once; an equal output (another string) gives the same finished part', () => {
    const part = new CheckedPart();
    const { finish, calls } = counting();
    const first = part.check(' Hello there ', finish);
    expect(first.text).toBe('Hello there.');
    // Built anew, as each render's output is: equal, not the same string object.
    const again = part.check([' Hello', 'there '].join(' '), finish);
    expect(again).toBe(first);
    expect(calls()).toBe(1);
    expect(part.size).toBe(1);
  });

  it('tells apart outputs of the same length', () => {
    const part = new CheckedPart();
    const { finish, calls } = counting();
    expect(part.check('cart of 1', finish).text).toBe('cart of 1.');
    expect(part.check('cart of 2', finish).text).toBe('cart of 2.');
    expect(part.check('cart of 1', finish).text).toBe('cart of 1.');
    expect(part.check('cart of 2', finish).text).toBe('cart of 2.');
    expect(calls()).toBe(2);
  });

  it('counts the outputs it found kept and those it checked anew, dirty ones included', () => {
    const part = new CheckedPart();
    const { finish } = counting();
    expect(part.counts).toEqual({ kept: 0, checked: 0 });
    part.check('one', finish);
    part.check('one', finish);
    part.check('two', finish);
    part.check('one', finish);
    expect(() => part.check('Hi undefined', finish)).toThrow(/"undefined"/);
    expect(part.counts).toEqual({ kept: 2, checked: 3 });
  });

  it('fails a dirty output every time and never keeps it', () => {
    const part = new CheckedPart();
    const { finish, calls } = counting();
    for (let i = 0; i < 3; i += 1) expect(() => part.check('Hi undefined', finish)).toThrow(/"undefined"/);
    expect(calls()).toBe(3);
    expect(part.size).toBe(0);
  });

  it('keeps the last CHECKED_SHAPES_KEPT outputs', () => {
    const part = new CheckedPart();
    const { finish, calls } = counting();
    for (let i = 0; i <= CHECKED_SHAPES_KEPT; i += 1) part.check(`shape ${i}`, finish);
    expect(part.size).toBe(CHECKED_SHAPES_KEPT);
    expect(calls()).toBe(CHECKED_SHAPES_KEPT + 1);
    part.check(`shape ${CHECKED_SHAPES_KEPT}`, finish);
    part.check('shape 1', finish);
    expect(calls()).toBe(CHECKED_SHAPES_KEPT + 1);
    // The oldest went to make room.
    part.check('shape 0', finish);
    expect(calls()).toBe(CHECKED_SHAPES_KEPT + 2);
  });

  it('keeps at most MAX_KEPT_UNITS code units, the oldest going first', () => {
    const part = new CheckedPart();
    const { finish, calls } = counting();
    // Finished forms differ from their outputs here (a "." added): an output and its finished form are a quarter.
    const eighth = (i: number) => `${i}`.padEnd(MAX_KEPT_UNITS / 8, 'x');
    for (let i = 0; i < 4; i += 1) part.check(eighth(i), finish);
    expect(part.size).toBe(3);
    part.check(eighth(3), finish);
    part.check(eighth(1), finish);
    expect(calls()).toBe(4);
    part.check(eighth(0), finish);
    expect(calls()).toBe(5);

    // Finishing that changes nothing keeps one string: twice as many fit.
    const asIs = new CheckedPart();
    for (let i = 0; i < 9; i += 1) asIs.check(eighth(i), (output) => output);
    expect(asIs.size).toBe(8);

    const tooLong = 'y'.repeat(MAX_KEPT_UNITS + 1);
    part.check(tooLong, (output) => output);
    expect(() => part.check(`${tooLong} undefined`, (output) => output)).toThrow(/"undefined"/);
    const before = part.size;
    let finishes = 0;
    part.check(tooLong, (output) => { finishes += 1; return output; });
    expect(finishes).toBe(1);
    expect(part.size).toBe(before);
  });
});

describe('render() and its checked parts', () => {
  const files = [
    { path: 'layouts/main.hbs', text: '<html><body>{{body}}</body></html>' },
    { path: 'layouts/main.text.hbs', text: '{{body}}\n\n\n\nBye  ' },
    { path: 'emails/receipt/subject.hbs', text: '{{customer.first_name}}, your order of {{money product.price_cents product.currency}}' },
    { path: 'emails/receipt/preheader.hbs', text: 'Sent {{date offer.expires_at style="short"}}' },
    { path: 'emails/receipt/html.hbs', text: '<p>{{product.title}}: {{money product.price_cents product.currency}}, {{percent offer.discount_percent}} off</p>{{#each cart}}<p>{{title}}</p>{{/each}}' },
    { path: 'emails/receipt/text.hbs', text: '{{product.title}}: {{money product.price_cents product.currency}}  ' },
    { path: 'emails/dirty/subject.hbs', text: 'Hello' },
    { path: 'emails/dirty/preheader.hbs', text: 'Hello' },
    { path: 'emails/dirty/html.hbs', text: '<p>{{product.title}} costs null</p>' },
    { path: 'emails/dirty/text.hbs', text: 'Hello' },
  ];
  const templates = compileTemplates(files);
  const product = (i: number) => ({ product_id: `p-${i}`, title: `Shoe <${i}> & co`, url: `https://shop.example/p/${i}`, price_cents: 1000 + i * 37, currency: 'EUR' });
  const data = (i: number, cartItems: number): RenderData => ({
    customer: { first_name: `Ada ${i}` },
    product: product(i),
    cart: Array.from({ length: cartItems }, (_, n) => product(100 + n)),
    offer: { headline: 'Offer', discount_percent: 5 + i, expires_at: Date.UTC(2026, 0, 1 + i) },
    links: { unsubscribe_url: 'https://t.example/u/1' },
  });

  it('checks a part once for emails that differ only in names, titles, prices, percentages and dates', () => {
    const emails = Array.from({ length: 20 }, (_, i) => render({ templates, template: 'receipt', data: data(i, 2), locale: 'de-DE', timeZone: 'UTC' }));
    const checked = templates.emails.get('receipt')?.checked;
    expect([checked?.subject.size, checked?.preheader.size, checked?.html.size, checked?.text.size]).toEqual([1, 1, 1, 1]);
    // Each email still has its own values, formatted and (in the HTML) escaped.
    expect(emails[3].subject).toBe('Ada 3, your order of 11,11 €');
    expect(emails[3].preheader).toBe('Sent 04.01.26');
    expect(emails[3].html).toBe('<html><body><p>Shoe &lt;3&gt; &amp; co: 11,11\u00a0€, 8\u00a0% off</p><p>Shoe &lt;100&gt; &amp; co</p><p>Shoe &lt;101&gt; &amp; co</p></body></html>');
    expect(emails[3].text).toBe('Shoe <3> & co: 11,11\u00a0€\n\nBye\n');
    expect(emails[7].text).toBe('Shoe <7> & co: 12,59\u00a0€\n\nBye\n');
  });

  it('keeps one checked part per shape of data', () => {
    for (let i = 0; i < 12; i += 1) render({ templates, template: 'receipt', data: data(i, i % 3), locale: 'de-DE', timeZone: 'UTC' });
    expect(templates.emails.get('receipt')?.checked.html.size).toBe(3);
  });

  it('fails a dirty template at every render, not only the first', () => {
    for (let i = 0; i < 3; i += 1) {
      expect(() => render({ templates, template: 'dirty', data: data(i, 0) })).toThrow(/template "dirty", html: rendered email shows "null"/);
    }
    expect(templates.emails.get('dirty')?.checked.html.size).toBe(0);
  });
});
