/**
 * The last line of defence: a rendered part must not show a broken token. render() runs it on
 * the output with customer values still replaced by markers (values.ts), so it judges only
 * what the templates produced: a customer called "Null" is not a broken token.
 */
import { DirtyRenderError } from './errors';

const EMPTY_ELEMENT = /<(a|b|strong|em|h1|h2|h3|li)\b[^>]*>\s*<\/\1>/i;
const EMPTY_ELEMENT_CLOSE = /(a|b|strong|em|h1|h2|h3|li)>/iy;
/** `<x\b` (case-insensitive, as the pattern's \1 under /i) per element name in lower case. */
const EMPTY_ELEMENT_OPEN = new Map<string, RegExp>();
const WHITESPACE = /\s/;

function isWhitespace(char: number): boolean {
  if (char === 0x20 || char === 0x0a || char === 0x09 || char === 0x0d) return true;
  return char > 0x7f ? WHITESPACE.test(String.fromCharCode(char)) : char === 0x0b || char === 0x0c;
}

/**
 * True when some closing tag `</x>` of EMPTY_ELEMENT's names has only whitespace (\s) between it
 * and a `>` that ends an opening `<x` of the same name (as `<x\b[^>]*>` reads it): exactly when
 * EMPTY_ELEMENT matches. A scan from each `</`, instead of the pattern trying every `<`.
 */
function mayShowEmptyElement(text: string): boolean {
  for (let close = text.indexOf('</'); close >= 0; close = text.indexOf('</', close + 2)) {
    EMPTY_ELEMENT_CLOSE.lastIndex = close + 2;
    const name = EMPTY_ELEMENT_CLOSE.exec(text)?.[1];
    if (name === undefined) continue;
    let end = close - 1;
    while (end >= 0 && isWhitespace(text.charCodeAt(end))) end -= 1;
    if (end < 0 || text.charCodeAt(end) !== 0x3e) continue;
    // The opening tag lies between the previous '>' and this one (`[^>]*` holds no '>').
    const key = name.toLowerCase();
    let open = EMPTY_ELEMENT_OPEN.get(key);
    if (open === undefined) {
      open = new RegExp(`<${key}\\b`, 'i');
      EMPTY_ELEMENT_OPEN.set(key, open);
    }
    if (open.test(text.slice(text.lastIndexOf('>', end - 1) + 1, end))) return true;
  }
  return false;
}

/**
 * Each sign's pattern, and optionally `mayMatch`: a cheap test that is true whenever the pattern
 * can match (a necessary condition), so the pattern runs only on text that might show the sign.
 * The verdict and the excerpt are the pattern's, as without it; a render is checked four times
 * (subject, preheader, HTML, text) and the HTML part of an email is several kilobytes.
 */
const SIGNS: ReadonlyArray<{ problem: string; pattern: RegExp; mayMatch?: (text: string) => boolean }> = [
  { problem: 'a raw Handlebars token', pattern: /\{\{|\}\}/, mayMatch: (text) => text.includes('{{') || text.includes('}}') },
  { problem: '"undefined"', pattern: /\bundefined\b/ },
  { problem: '"null"', pattern: /\bnull\b/ },
  { problem: '"NaN"', pattern: /\bNaN\b/ },
  { problem: '"[object Object]"', pattern: /\[object \w+\]/ },
  { problem: 'an empty link or image address', pattern: /\b(href|src)\s*=\s*(""|'')/i, mayMatch: (text) => text.includes('""') || text.includes("''") },
  // "Hi ," is what an empty name between a word and a comma looks like.
  { problem: 'an empty token before a comma', pattern: /[^\s>][ \t]+,/, mayMatch: (text) => text.includes(' ,') || text.includes('\t,') },
  { problem: 'an empty element', pattern: EMPTY_ELEMENT, mayMatch: mayShowEmptyElement },
];

/**
 * Throws DirtyRenderError when `text` shows an empty token, undefined/null, [object Object] or a
 * raw {{. `mask` rewrites the excerpt the error quotes (render() shows value markers as
 * "[value]" there, so the message carries no customer value).
 */
export function assertRenderedClean(text: string, mask: (excerpt: string) => string = (excerpt) => excerpt): void {
  for (const { problem, pattern, mayMatch } of SIGNS) {
    if (mayMatch !== undefined && !mayMatch(text)) continue;
    const match = pattern.exec(text);
    if (match !== null) {
      const excerpt = mask(text.slice(Math.max(0, match.index - 30), match.index + match[0].length + 30)).replace(/\s+/g, ' ');
      throw new DirtyRenderError(`rendered email shows ${problem}: "…${excerpt}…"`, problem, excerpt);
    }
  }
}
