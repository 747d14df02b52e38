/**
 * assertRenderedClean skips a pattern when a cheap test says it cannot match (clean.ts,
 * `mayMatch`); its verdicts and excerpts must stay those of the plain patterns. Compared here
 * with the check as it was (every pattern on every text) over the shipped renders and over
 * random texts made of the tokens the patterns look for.
 */
import { assertRenderedClean, compileTemplates, render } from '../../../../services/core/templates';
import { sampleData } from '../../../../bench/render';
import { shippedTemplateFiles } from './shipped';

const PLAIN_SIGNS: ReadonlyArray<{ problem: string; pattern: RegExp }> = [
  { problem: 'a raw Handlebars token', pattern: /\{\{|\}\}/ },
  { problem: '"undefined"', pattern: /\bundefined\b/ },
  { problem: '"null"', pattern: /\bnull\b/ },
  { problem: '"NaN"', pattern: /\bNaN\b/ },
  { problem: '"[object Object]"', pattern: /\[object \w+\]/ },
  { problem: 'an empty link or image address', pattern: /\b(href|src)\s*=\s*(""|'')/i },
  { problem: 'an empty token before a comma', pattern: /[^\s>][ \t]+,/ },
  { problem: 'an empty element', pattern: /<(a|b|strong|em|h1|h2|h3|li)\b[^>]*>\s*<\/\1>/i },
];

function plainVerdict(text: string): string {
  for (const { problem, pattern } of PLAIN_SIGNS) {
    const match = pattern.exec(text);
    if (match !== null) {
      const excerpt = text.slice(Math.max(0, match.index - 30), match.index + match[0].length + 30).replace(/\s+/g, ' ');
      return `rendered email shows ${problem}: "…${excerpt}…"`;
    }
  }
  return 'clean';
}

function verdict(text: string): string {
  try {
    assertRenderedClean(text);
    return 'clean';
  } catch (error) {
    return (error as Error).message;
  }
}

const TOKENS = [
  '<a', '<A', '<a href="x"', '<b', '<B>', '<br>', '<abbr>', '<strong', '<STRONG class="s"', '<em', '<h1', '<H2 ', '<h3', '<h4', '<li', '<lip', '<img src="i">',
  '</a>', '</A>', '</b>', '</br>', '</strong>', '</Strong>', '</em>', '</h1>', '</h2>', '</H3>', '</h4>', '</li>', '</lip>', '</', '</a', '</abbr>',
  '>', '>', '<', ' ', ' ', '\t', '\n', '\u00a0', '\u2028', '\ufeff', 'x', 'word', ',', ' ,', '\t,', '>,', '=', 'href', 'src', 'HREF', ' = ', '""', "''", '"', "'",
  '{', '}', '{{', '}}', 'null', 'undefined', 'NaN', 'Nullx', '[object Foo]', '[object', '\uE000\uE100\uE100\uE001', '\x01\x80\x80\x85\x02',
];

/** Tags, whitespace and text only: no other sign hides the empty-element scan's verdict. */
const TAG_TOKENS = [
  '<a', '<A', '<a href="x"', '<b', '<B>', '<br>', '<abbr>', '<strong', '<STRONG class="s"', '<em', '<h1', '<H2 ', '<h3', '<h4', '<li', '<lip', '<img src="i">',
  '</a>', '</A>', '</b>', '</B>', '</br>', '</strong>', '</Strong>', '</sTrOnG>', '</stron>', '</em>', '</EM>', '</eM>', '</h1>', '</H1>', '</h2>', '</H3>', '</h4>', '</h0>', '</li>', '</LI>', '</lI>', '</lip>', '</', '</a', '</abbr>', '</ a>', '</a >',
  '<EM>', '<Li>', '<h1>', '<sTrOnG>', '<STRONG>',
  '>', '>', '>', '<', ' ', ' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\ufeff', '\u3000', 'x', 'word', '_', '-', '=', '"', '\uE000\uE100\uE100\uE001', '\x01\x80\x80\x85\x02',
];

function randomText(seed: number, tokens: readonly string[] = TOKENS, maxLength = 24): string {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  const length = 1 + (next() % maxLength);
  let text = '';
  for (let i = 0; i < length; i += 1) text += tokens[next() % tokens.length];
  return text;
}

describe('assertRenderedClean with its pre-tests', () => {
  it('gives the plain patterns\' verdict on the shipped renders', () => {
    const templates = compileTemplates(shippedTemplateFiles());
    for (const template of templates.names) {
      for (const i of [0, 1, 2]) {
        const email = render({ templates, template, data: sampleData(i), locale: 'de-DE', timeZone: 'Europe/Berlin' });
        for (const part of [email.subject, email.preheader, email.html, email.text]) expect(verdict(part)).toBe(plainVerdict(part));
      }
    }
  });

  it('gives the plain patterns\' verdict and excerpt on 50,000 random texts', () => {
    let dirty = 0;
    let emptyElements = 0;
    for (let seed = 1; seed <= 50_000; seed += 1) {
      const text = randomText(seed);
      const expected = plainVerdict(text);
      if (verdict(text) !== expected) expect({ text, verdict: verdict(text) }).toEqual({ text, verdict: expected });
      if (expected !== 'clean') dirty += 1;
      if (expected.includes('an empty element')) emptyElements += 1;
    }
    // The texts exercise both outcomes, the empty-element scan included.
    expect(dirty).toBeGreaterThan(1000);
    expect(50_000 - dirty).toBeGreaterThan(1000);
    expect(emptyElements).toBeGreaterThan(100);
  });

  it('gives the plain patterns\' verdict and excerpt on 100,000 random tag soups (the empty-element scan)', () => {
    let emptyElements = 0;
    for (let seed = 1; seed <= 100_000; seed += 1) {
      const text = randomText(seed, TAG_TOKENS, 40);
      const expected = plainVerdict(text);
      if (verdict(text) !== expected) expect({ text, verdict: verdict(text) }).toEqual({ text, verdict: expected });
      if (expected.includes('an empty element')) emptyElements += 1;
    }
    expect(emptyElements).toBeGreaterThan(5_000);
    expect(100_000 - emptyElements).toBeGreaterThan(5_000);
  });
});
