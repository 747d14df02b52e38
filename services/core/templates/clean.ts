/**
 * The last line of defence: a rendered part must not show a broken token. render() runs it on
 * the output with customer values still replaced by markers (values.ts), so it judges only
 * what the templates produced: a customer called "Null" is not a broken token.
 */
import { DirtyRenderError } from './errors';
import type { Assembly } from './assembly';

const EMPTY_ELEMENT = /<(a|b|strong|em|h1|h2|h3|li)\b[^>]*>\s*<\/\1>/i;
/** `<x\b` (case-insensitive, as the pattern's \1 under /i) per element name in lower case. */
const EMPTY_ELEMENT_OPEN = new Map<string, RegExp>();
const WHITESPACE = /\s/;

function isWhitespace(char: number): boolean {
  if (char === 0x20 || char === 0x0a || char === 0x09 || char === 0x0d) return true;
  return char > 0x7f ? WHITESPACE.test(String.fromCharCode(char)) : char === 0x0b || char === 0x0c;
}

/** True when `text` has the ASCII letter `lower` (a-z) at `at`, in either case (as /i reads it without the u flag). */
function letterAt(text: string, at: number, lower: number): boolean {
  return (text.charCodeAt(at) | 0x20) === lower;
}

/**
 * The element name of EMPTY_ELEMENT's (a, b, strong, em, h1, h2, h3, li), in lower case, that
 * `text` has at `at` followed by '>' (where `</` ends); '' when none. What the pattern's
 * `(a|b|strong|em|h1|h2|h3|li)>` after `<\/` reads, by character codes.
 */
function closingName(text: string, at: number): string {
  switch (text.charCodeAt(at) | 0x20) {
    case 0x61: // a>
      return text.charCodeAt(at + 1) === 0x3e ? 'a' : '';
    case 0x62: // b>
      return text.charCodeAt(at + 1) === 0x3e ? 'b' : '';
    case 0x65: // em>
      return letterAt(text, at + 1, 0x6d) && text.charCodeAt(at + 2) === 0x3e ? 'em' : '';
    case 0x68: { // h1> h2> h3>
      const digit = text.charCodeAt(at + 1);
      return digit >= 0x31 && digit <= 0x33 && text.charCodeAt(at + 2) === 0x3e ? `h${digit - 0x30}` : '';
    }
    case 0x6c: // li>
      return letterAt(text, at + 1, 0x69) && text.charCodeAt(at + 2) === 0x3e ? 'li' : '';
    case 0x73: // strong>
      return letterAt(text, at + 1, 0x74) && letterAt(text, at + 2, 0x72) && letterAt(text, at + 3, 0x6f) && letterAt(text, at + 4, 0x6e)
        && letterAt(text, at + 5, 0x67) && text.charCodeAt(at + 6) === 0x3e ? 'strong' : '';
    default:
      return '';
  }
}

/**
 * True when some closing tag `</x>` of EMPTY_ELEMENT's names has only whitespace (\s) between it
 * and a `>` that ends an opening `<x` of the same name (as `<x\b[^>]*>` reads it): exactly when
 * EMPTY_ELEMENT matches. A scan from each `</`, instead of the pattern trying every `<`.
 */
function mayShowEmptyElement(text: string): boolean {
  for (let close = text.indexOf('</'); close >= 0; close = text.indexOf('</', close + 2)) {
    // Most closing tags are td, tr, p, div...: their name is read without a pattern.
    const name = closingName(text, close + 2);
    if (name === '') continue;
    let end = close - 1;
    while (end >= 0 && isWhitespace(text.charCodeAt(end))) end -= 1;
    if (end < 0 || text.charCodeAt(end) !== 0x3e) continue;
    // The opening tag lies between the previous '>' and this one (`[^>]*` holds no '>').
    let open = EMPTY_ELEMENT_OPEN.get(name);
    if (open === undefined) {
      open = new RegExp(`<${name}\\b`, 'i');
      EMPTY_ELEMENT_OPEN.set(name, open);
    }
    if (open.test(text.slice(text.lastIndexOf('>', end - 1) + 1, end))) return true;
  }
  return false;
}

/** True when a ' ' or a tab stands right before a comma (the "empty token before a comma" pattern needs one). */
function mayShowSpaceBeforeComma(text: string): boolean {
  for (let comma = text.indexOf(','); comma >= 0; comma = text.indexOf(',', comma + 1)) {
    const before = comma > 0 ? text.charCodeAt(comma - 1) : -1;
    if (before === 0x20 || before === 0x09) return true;
  }
  return false;
}

/** Any of the three words the next signs look for (one scan instead of three on a clean text). */
const WORDS = /\b(?:undefined|null|NaN)\b/;

interface Sign {
  problem: string;
  pattern: RegExp;
}

/**
 * The signs in the order they are looked for, in groups that share `mayMatch`: a cheap test
 * that is true whenever one of the group's patterns can match (a necessary condition), so the
 * patterns run only on text that might show them. The verdict and the excerpt are the
 * patterns', as without the tests; a render is checked four times (subject, preheader, HTML,
 * text) and the HTML part is several kilobytes.
 */
const SIGN_GROUPS: ReadonlyArray<{ mayMatch?: (text: string) => boolean; signs: readonly Sign[] }> = [
  { mayMatch: (text) => text.includes('{{') || text.includes('}}'), signs: [{ problem: 'a raw Handlebars token', pattern: /\{\{|\}\}/ }] },
  {
    mayMatch: (text) => WORDS.test(text),
    signs: [
      { problem: '"undefined"', pattern: /\bundefined\b/ },
      { problem: '"null"', pattern: /\bnull\b/ },
      { problem: '"NaN"', pattern: /\bNaN\b/ },
    ],
  },
  { mayMatch: (text) => text.includes('[object '), signs: [{ problem: '"[object Object]"', pattern: /\[object \w+\]/ }] },
  { mayMatch: (text) => text.includes('""') || text.includes("''"), signs: [{ problem: 'an empty link or image address', pattern: /\b(href|src)\s*=\s*(""|'')/i }] },
  // "Hi ," is what an empty name between a word and a comma looks like.
  { mayMatch: mayShowSpaceBeforeComma, signs: [{ problem: 'an empty token before a comma', pattern: /[^\s>][ \t]+,/ }] },
  { mayMatch: mayShowEmptyElement, signs: [{ problem: 'an empty element', pattern: EMPTY_ELEMENT }] },
];

/**
 * Throws DirtyRenderError when `text` shows an empty token, undefined/null, [object Object] or a
 * raw {{. `mask` rewrites the excerpt the error quotes (render() shows value markers as
 * "[value]" there, so the message carries no customer value).
 */
export function assertRenderedClean(text: string, mask: (excerpt: string) => string = (excerpt) => excerpt): void {
  for (const { mayMatch, signs } of SIGN_GROUPS) {
    if (mayMatch !== undefined && !mayMatch(text)) continue;
    for (const { problem, pattern } of signs) {
      const match = pattern.exec(text);
      if (match !== null) {
        const excerpt = mask(text.slice(Math.max(0, match.index - 30), match.index + match[0].length + 30)).replace(/\s+/g, ' ');
        throw new DirtyRenderError(`rendered email shows ${problem}: "…${excerpt}…"`, problem, excerpt);
      }
    }
  }
}

/** How many outputs of one part of one template a CheckedPart keeps: as many shapes of data. */
export const CHECKED_SHAPES_KEPT = 32;
/**
 * The UTF-16 code units a CheckedPart keeps in all (its outputs and their finished forms; their
 * assemblies are slices of the finished forms and a few numbers per value and link): 512 KiB a
 * part, 2 MiB a template. The oldest outputs go first; an output that alone needs more is
 * finished and checked every time.
 */
export const MAX_KEPT_UNITS = 262_144;

/** A template's output, finished and found clean, with what render() derives from it once. */
export interface CheckedText {
  /** As the template wrote it (values as markers). */
  readonly output: string;
  /** Finished (one line, tidied...): what render() goes on with. */
  readonly text: string;
  /** How each email fills it in without tracking (assembly.ts), built at its first use. */
  plain: Assembly | undefined;
  /** The same with link tracking; null where tracking cannot be put in by pieces. */
  tracked: Assembly | null | undefined;
}

/** The code units a kept part holds (one string when finishing left the output as it was). */
function unitsOf({ output, text }: CheckedText): number {
  return text === output ? output.length : output.length + text.length;
}

/**
 * One part of one template (its subject, its HTML...) as render() finishes and checks it, with a
 * memory of the outputs it passed. render() works on parts whose values are still markers
 * (values.ts), so a template's output repeats from email to email while the data has the same
 * shape (as many cart items, the same branches taken); finishing (one line, the text's tidy-up)
 * and the check are pure functions of that output, so an equal output gives the same finished
 * part, clean again. The last CHECKED_SHAPES_KEPT outputs are kept (at most MAX_KEPT_UNITS), and
 * an output is looked for among them by length, then with === (up to the first different
 * character): a Map keyed by the output itself would hash all of it, which costs more than the
 * check. Dirty outputs are never kept, and kept ones hold no customer value (only markers).
 */
export class CheckedPart {
  private readonly kept: CheckedText[] = [];
  private units = 0;
  private reused = 0;
  private checkedAnew = 0;

  /**
   * finish(output), checked, or what it gave for an equal output (the same CheckedText, with what
   * was derived from it since); throws DirtyRenderError as assertRenderedClean does.
   */
  check(output: string, finish: (output: string) => string, mask?: (excerpt: string) => string): CheckedText {
    const length = output.length;
    for (let i = 0; i < this.kept.length; i += 1) {
      const kept = this.kept[i] as CheckedText;
      if (kept.output.length === length && kept.output === output) {
        this.reused += 1;
        return kept;
      }
    }
    this.checkedAnew += 1;
    const text = finish(output);
    assertRenderedClean(text, mask);
    const checked: CheckedText = { output, text, plain: undefined, tracked: undefined };
    const units = unitsOf(checked);
    if (units > MAX_KEPT_UNITS) return checked;
    this.kept.push(checked);
    this.units += units;
    while (this.kept.length > CHECKED_SHAPES_KEPT || this.units > MAX_KEPT_UNITS) {
      this.units -= unitsOf(this.kept.shift() as CheckedText);
    }
    return checked;
  }

  /**
   * Outputs found kept (their check, finish and cut reused) and outputs finished and checked
   * anew (dirty ones included), since the template was compiled: the renderer's
   * kairos_renderer_template_parts_total.
   */
  get counts(): { kept: number; checked: number } {
    return { kept: this.reused, checked: this.checkedAnew };
  }

  /** How many outputs are kept (tests). */
  get size(): number {
    return this.kept.length;
  }
}
