/**
 * Customer values are data, never template text. render() replaces every data string of the
 * view (names, attributes, product titles, trigger context, links) by an inert marker before a
 * template sees it, runs the templates and the cleanliness check on the marked output, and only
 * then puts the values in: HTML-escaped in the HTML part, as they are in the text parts. So a
 * surname "Null", a first name "{{x}}" or "Ann}}" renders literally, while a template that
 * prints "null" or leaves a "{{" still fails the check. Error messages and excerpts show a
 * marker as "[value]", so no customer value reaches a log line, an outcome reason or a DLQ
 * header through a render error.
 *
 * A marker is U+E000, the value's index in private-use digits U+E010..U+E019, U+E001: code
 * points that Handlebars' escaping, `oneLine` and the check's patterns leave alone.
 */
import Handlebars from 'handlebars';

const OPEN = '\uE000';
const CLOSE = '\uE001';
const DIGIT_ZERO = 0xe010;
const MARKER = /\uE000([\uE010-\uE019]+)\uE001/g;
const EXACT_MARKER = /^\uE000([\uE010-\uE019]+)\uE001$/;

/** What a masked value looks like in messages. */
export const MASKED_VALUE = '[value]';

function encodeIndex(index: number): string {
  return [...String(index)].map((digit) => String.fromCharCode(DIGIT_ZERO + Number(digit))).join('');
}

function decodeIndex(digits: string): number {
  return Number([...digits].map((char) => char.charCodeAt(0) - DIGIT_ZERO).join(''));
}

/** The values of one render and their markers. */
export class ValueMarkers {
  private readonly values: string[] = [];

  /** A marker standing for `value`. */
  mark(value: string): string {
    this.values.push(value);
    return `${OPEN}${encodeIndex(this.values.length - 1)}${CLOSE}`;
  }

  /** The value a whole-string marker stands for; anything else as it is (for helpers that read a value). */
  plain<T>(value: T): T | string {
    if (typeof value !== 'string') return value;
    const match = EXACT_MARKER.exec(value);
    return match === null ? value : (this.values[decodeIndex(match[1] as string)] ?? value);
  }

  /** True when every marker character in `text` belongs to a marker of this render. */
  intact(text: string): boolean {
    let found = 0;
    for (const match of text.matchAll(MARKER)) {
      if (decodeIndex(match[1] as string) >= this.values.length) return false;
      found += 1;
    }
    const opens = text.split(OPEN).length - 1;
    const closes = text.split(CLOSE).length - 1;
    return opens === found && closes === found;
  }

  /** `text` with its markers replaced by their values, each passed through `encode` (HTML-escaping for the HTML part). */
  fill(text: string, encode: (value: string) => string = (value) => value): string {
    return text.replace(MARKER, (_marker, digits: string) => encode(this.values[decodeIndex(digits)] ?? ''));
  }

  /** `text` with its markers shown as "[value]" (messages, excerpts); a marker cut in half by an excerpt is dropped. */
  mask(text: string): string {
    return text.replace(MARKER, MASKED_VALUE).replace(/[\uE000\uE001\uE010-\uE019]+/g, '');
  }
}

/** Handlebars' own escaping, the one `{{value}}` applies in the HTML part. */
export function escapeHtml(value: string): string {
  return Handlebars.Utils.escapeExpression(value);
}

/** A copy of `value` with every string (at any depth) replaced by its marker. */
export function markStrings(value: unknown, markers: ValueMarkers): unknown {
  if (typeof value === 'string') return markers.mark(value);
  if (Array.isArray(value)) return value.map((item) => markStrings(item, markers));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, markStrings(item, markers)]));
  }
  return value;
}

/** The key of the render's ValueMarkers in Handlebars' data frame (`options.data`). */
export const MARKERS_DATA_KEY = 'kairosValues';

/** The value behind a marker, for helpers: reads the render's markers from the data frame. */
export function plainValue<T>(value: T, data: unknown): T | string {
  const markers = (data as Record<string, unknown> | undefined)?.[MARKERS_DATA_KEY];
  return markers instanceof ValueMarkers ? markers.plain(value) : value;
}
