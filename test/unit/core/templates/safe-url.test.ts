/**
 * safeUrl returns a canonical http(s) link as it is, without the URL parser (view.ts,
 * CANONICAL_URL): its answers must stay exactly those of the parser, `new URL(u).toString()`
 * for http(s) and undefined for anything else. Compared over hand-picked edge cases and over
 * random links built from the pieces the fast path looks at.
 */
import { parsedUrl, safeUrl } from '../../../../services/core/templates/view';

/** safeUrl as it was before the fast path: trim, parse, serialize. */
function reference(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

const EDGE_CASES = [
  'https://shop.example.com/products/p-1?t=abc5', 'https://shop.example.com/', 'https://shop.example.com', 'http://a/', 'https://a.b/c',
  'HTTPS://shop.example.com/', 'https://Shop.example.com/', 'https://shop.example.com:443/', 'https://shop.example.com:8443/x', 'https://u:p@shop.example.com/',
  'https://xn--bcher-kva.example/', 'https://xn--zz.example/', 'https://a.xn--zz/', 'https://127.0.0.1/', 'https://1.2.3.4/x', 'https://a.0x7f/', 'https://a.1/', 'https://a.1a/', 'https://a.b1/',
  'https://a..b/', 'https://a.b./', 'https://.a/', 'https://-a-.b-/', 'https://a_b.c/', 'https://a%41.c/',
  'https://a.b/./c', 'https://a.b/../c', 'https://a.b/c/.', 'https://a.b/c/..', 'https://a.b/c/..?x', 'https://a.b/.well-known/x', 'https://a.b/%2e/c', 'https://a.b/%2E%2e/c', 'https://a.b/.%2e/c', 'https://a.b/c?x=/../y',
  'https://a.b/c d', 'https://a.b/c\\d', 'https://a.b/c"d', 'https://a.b/c<d>', 'https://a.b/c`d', 'https://a.b/c{d}', 'https://a.b/c^d', 'https://a.b/c|d', 'https://a.b/c[d]', "https://a.b/c'd", "https://a.b/c?d='e'",
  'https://a.b/c?d`e', 'https://a.b/c?d{e}', 'https://a.b/c?d^e', 'https://a.b/c#f', 'https://a.b/c?d#f', 'https://a.b/c%zz', 'https://a.b/c%20d', 'https://a.b/c?%zz', 'https://a.b/ü', 'https://ä.b/',
  'https://a.b/c\td', 'https://a.b/c\nd', ' https://a.b/c ', 'https://a.b//c', 'https://a.b/c?', 'https://a.b/?', 'https:/a.b/c', 'https:a.b/c', 'https//a.b/c', 'ftp://a.b/c', 'javascript:alert(1)', 'data:text/html,x',
  'mailto:a@b.c', '/relative', 'https://', 'https:///x', 'http://a.b/~user/x;y=1,2:3@4!$&()*+', `https://${'a'.repeat(70)}.example/`, `https://a.example/${'x'.repeat(3000)}`,
  '', '   ', null, undefined, 42, {},
];

const SCHEMES = ['https://', 'http://', 'HTTP://', 'https:', 'ftp://', 'https:\\\\'];
const LABELS = ['a', 'shop', 'example', 'com', 'b1', '1', '0x7f', 'xn--bcher-kva', 'xn--zz', '-', 'a-b', 'Ab', 'ä', '', '0', '09', 'x_y', '%41'];
const HOST_ENDS = ['', '.', ':443', ':8080', ':', '@x'];
const PATH_PIECES = ['/', 'p', '.', '..', '%2e', '%2E', '%20', '%zz', '-', '_', '~', "'", '(', ')', '!', '$', '&', '*', '+', ',', ';', '=', ':', '@', '\\', ' ', '"', '<', '>', '`', '{', '}', '^', '|', '[', ']', 'ü', '\t', '#', '?', 'A', '9'];

function randomUrl(seed: number): string {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const pick = <T>(list: readonly T[]) => list[next(list.length)];
  // Mostly the canonical shape, so the fast path's edges are what varies.
  let url = next(4) === 0 ? pick(SCHEMES) : pick(['https://', 'http://']);
  const labels = 1 + next(4);
  for (let i = 0; i < labels; i += 1) url += (i > 0 ? '.' : '') + (next(3) === 0 ? pick(LABELS) : pick(['a', 'shop', 'example', 'com', 'b-2']));
  if (next(4) === 0) url += pick(HOST_ENDS);
  if (next(8) !== 0) url += '/';
  const pieces = next(12);
  for (let i = 0; i < pieces; i += 1) url += next(5) === 0 ? pick(PATH_PIECES) : pick(['/', 'p', 'x', '?t=', 'abc', '&a=1', '.', '/']);
  return url;
}

describe('safeUrl', () => {
  it('answers as the URL parser on edge cases', () => {
    for (const value of EDGE_CASES) {
      expect([value, safeUrl(value)]).toEqual([value, reference(value)]);
      if (typeof value === 'string' && value.trim() !== '') expect([value, parsedUrl(value.trim())]).toEqual([value, reference(value)]);
    }
  });

  it('answers as the URL parser on 200,000 random links, most of them canonical', () => {
    let unchanged = 0;
    for (let seed = 1; seed <= 200_000; seed += 1) {
      const url = randomUrl(seed);
      const expected = reference(url);
      const got = safeUrl(url);
      if (got !== expected) expect([url, got]).toEqual([url, expected]);
      if (expected === url) unchanged += 1;
    }
    // The fast path's cases are well covered: many links come back as they are.
    expect(unchanged).toBeGreaterThan(20_000);
  });
});
