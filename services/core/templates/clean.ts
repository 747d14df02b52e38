/**
 * The last line of defence: a rendered part must not show a broken token. render() runs it on
 * the output with customer values still replaced by markers (values.ts), so it judges only
 * what the templates produced: a customer called "Null" is not a broken token.
 */
import { DirtyRenderError } from './errors';

const SIGNS: ReadonlyArray<{ problem: string; pattern: RegExp }> = [
  { problem: 'a raw Handlebars token', pattern: /\{\{|\}\}/ },
  { problem: '"undefined"', pattern: /\bundefined\b/ },
  { problem: '"null"', pattern: /\bnull\b/ },
  { problem: '"NaN"', pattern: /\bNaN\b/ },
  { problem: '"[object Object]"', pattern: /\[object \w+\]/ },
  { problem: 'an empty link or image address', pattern: /\b(href|src)\s*=\s*(""|'')/i },
  // "Hi ," is what an empty name between a word and a comma looks like.
  { problem: 'an empty token before a comma', pattern: /[^\s>][ \t]+,/ },
  { problem: 'an empty element', pattern: /<(a|b|strong|em|h1|h2|h3|li)\b[^>]*>\s*<\/\1>/i },
];

/**
 * Throws DirtyRenderError when `text` shows an empty token, undefined/null, [object Object] or a
 * raw {{. `mask` rewrites the excerpt the error quotes (render() shows value markers as
 * "[value]" there, so the message carries no customer value).
 */
export function assertRenderedClean(text: string, mask: (excerpt: string) => string = (excerpt) => excerpt): void {
  for (const { problem, pattern } of SIGNS) {
    const match = pattern.exec(text);
    if (match !== null) {
      const excerpt = mask(text.slice(Math.max(0, match.index - 30), match.index + match[0].length + 30)).replace(/\s+/g, ' ');
      throw new DirtyRenderError(`rendered email shows ${problem}: "…${excerpt}…"`, problem, excerpt);
    }
  }
}
