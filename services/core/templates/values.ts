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
 * A marker is U+0001, the value's index as three C1 control characters (U+0080..U+009F, base
 * 32), U+0002: five code points that Handlebars' escaping, `oneLine` and the check's patterns
 * leave alone, that the input checks refuse in the events' and profiles' text fields and map
 * keys (types.ts), and that no template may hold (compile.ts refuses U+0001 and U+0002). All
 * are below U+0100, so a marked part stays a one-byte string in V8 when the template's own text
 * has no character above U+00FF: half the bytes to build, compare (CheckedPart) and cut that
 * the earlier private-use markers (U+E000...) took, which made every marked part two-byte.
 */

const OPEN = '\x01';
const CLOSE = '\x02';
const CLOSE_CODE = 0x02;
const DIGIT_ZERO = 0x80;
const BASE = 0x20;
/** The length of a marker in UTF-16 code units. */
export const MARKER_LENGTH = 5;
const MAX_VALUES = BASE * BASE * BASE;
// eslint-disable-next-line no-control-regex
const MARKER = /\x01[\x80-\x9f]{3}\x02/g;
/**
 * A marker's first or last character, which no template may hold (compile.ts). Every marker of
 * a marked part is whole, so a link holding or touching a value holds or touches one of these
 * (tracking.ts: such a link is data, not template text); the digits alone may be template text.
 */
// eslint-disable-next-line no-control-regex
export const MARKER_BOUND = /[\x01\x02]/;

/** What a masked value looks like in messages. */
export const MASKED_VALUE = '[value]';

/** The index a marker starting at `at` stands for, or -1 when it is not a whole marker. */
function indexAt(text: string, at: number): number {
  if (text.charCodeAt(at + MARKER_LENGTH - 1) !== CLOSE_CODE) return -1;
  const high = text.charCodeAt(at + 1) - DIGIT_ZERO;
  const middle = text.charCodeAt(at + 2) - DIGIT_ZERO;
  const low = text.charCodeAt(at + 3) - DIGIT_ZERO;
  return high >= 0 && high < BASE && middle >= 0 && middle < BASE && low >= 0 && low < BASE ? (high * BASE + middle) * BASE + low : -1;
}

function count(text: string, char: string): number {
  let found = 0;
  for (let at = text.indexOf(char); at >= 0; at = text.indexOf(char, at + 1)) found += 1;
  return found;
}

/** The marker of the value at `index`. */
function markerOf(index: number): string {
  const digits = String.fromCharCode(DIGIT_ZERO + Math.floor(index / (BASE * BASE)), DIGIT_ZERO + (Math.floor(index / BASE) % BASE), DIGIT_ZERO + (index % BASE));
  return `${OPEN}${digits}${CLOSE}`;
}

/**
 * Markers are the same strings in every render (the first value is always U+0001 U+0080 U+0080
 * U+0080 U+0002), so the first SHARED_MARKERS are built once and shared: an email has a few dozen
 * values, and a new string per value and render was garbage. A fixed number: the table never grows past it.
 */
const SHARED_MARKERS = 1024;
const sharedMarkers: string[] = [];

function sharedMarker(index: number): string {
  let marker = sharedMarkers[index];
  if (marker === undefined) {
    for (let next = sharedMarkers.length; next <= index; next += 1) sharedMarkers.push(markerOf(next));
    marker = sharedMarkers[index] as string;
  }
  return marker;
}

/** The values of one render and their markers. */
export class ValueMarkers {
  private readonly values: string[] = [];

  /** A marker standing for `value`. */
  mark(value: string): string {
    const index = this.values.length;
    if (index >= MAX_VALUES) throw new Error(`more than ${MAX_VALUES} values in one email`);
    this.values.push(value);
    return index < SHARED_MARKERS ? sharedMarker(index) : markerOf(index);
  }

  /** The value a whole-string marker stands for; anything else as it is (for helpers that read a value). */
  plain<T>(value: T): T | string {
    if (typeof value !== 'string' || value.length !== MARKER_LENGTH || value[0] !== OPEN) return value;
    return this.values[indexAt(value, 0)] ?? value;
  }

  /**
   * `text` with its markers replaced by their values, each passed through `encode`
   * (HTML-escaping for the HTML part). Throws when a marker was damaged (a helper or template
   * changed a value it should only print): every marker character must belong to a whole marker.
   */
  fill(text: string, encode?: (value: string) => string): string {
    const { starts, indices } = planMarkers(text);
    if (starts.length === 0) return text;
    const print = this.printer(encode);
    let out = '';
    let last = 0;
    for (let i = 0; i < starts.length; i += 1) {
      const at = starts[i] as number;
      out += text.slice(last, at) + print(indices[i] as number);
      last = at + MARKER_LENGTH;
    }
    return out + text.slice(last);
  }

  /**
   * Prints the value of a marker's index (planMarkers) through `encode`, for one part: a value
   * printed more than once (a product's link and title) is encoded once. Throws as fill() does
   * for a marker of no value.
   */
  printer(encode?: ((value: string) => string) | null): (index: number) => string {
    const { values } = this;
    const value = (index: number): string => {
      const found = values[index];
      if (found === undefined) throw new Error(DAMAGED);
      return found;
    };
    if (encode === undefined || encode === null) return value;
    const encoded: Array<string | undefined> = [];
    return (index) => (encoded[index] ??= encode(value(index)));
  }

  /** `text` with its markers shown as "[value]" (messages, excerpts); a marker cut in half by an excerpt is dropped. */
  mask(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(MARKER, MASKED_VALUE).replace(/[\x01\x02\x80-\x9f]+/g, '');
  }
}

const DAMAGED = 'rendered email shows a damaged value marker (a helper or template changed a value it should only print)';

/** Where the markers of a marked text stand (`starts`) and the values they stand for (`indices`). */
export interface MarkerPlan {
  readonly starts: readonly number[];
  readonly indices: readonly number[];
}

/**
 * The markers of `text`, for filling it in without a scan (render.ts keeps it with a checked
 * part). Throws as fill() does when a marker was damaged.
 */
export function planMarkers(text: string): MarkerPlan {
  const starts: number[] = [];
  const indices: number[] = [];
  for (let at = text.indexOf(OPEN); at >= 0; at = text.indexOf(OPEN, at + MARKER_LENGTH)) {
    const index = indexAt(text, at);
    if (index < 0) throw new Error(DAMAGED);
    starts.push(at);
    indices.push(index);
  }
  if (count(text, CLOSE) !== starts.length) throw new Error(DAMAGED);
  return { starts, indices };
}

const HTML_ESCAPES: Readonly<Record<number, string>> = {
  0x26: '&amp;', 0x3c: '&lt;', 0x3e: '&gt;', 0x22: '&quot;', 0x27: '&#x27;', 0x60: '&#x60;', 0x3d: '&#x3D;',
};
const HTML_SPECIAL = /[&<>"'`=]/;

/**
 * Handlebars' own escaping of a string, the one `{{value}}` applies in the HTML part
 * (Handlebars.Utils.escapeExpression: the same seven characters, the same entities), written
 * as a loop over the string instead of a replace with a callback per character.
 */
export function escapeHtml(value: string): string {
  const first = value.search(HTML_SPECIAL);
  if (first < 0) return value;
  let out = value.slice(0, first);
  let last = first;
  for (let at = first; at < value.length; at += 1) {
    const entity = HTML_ESCAPES[value.charCodeAt(at)];
    if (entity !== undefined) {
      out += value.slice(last, at) + entity;
      last = at + 1;
    }
  }
  return out + value.slice(last);
}

/** The key of the render's ValueMarkers in Handlebars' data frame (`options.data`). */
export const MARKERS_DATA_KEY = 'kairosValues';

/**
 * `text` as a value of the render whose data frame is `data` (a marker), for helpers that print
 * what they formatted (money, dates, percentages): like customer values, it is filled in after
 * the check. Without the render's markers (a bare Handlebars environment), `text` as it is.
 */
export function markedValue(text: string, data: unknown): string {
  const markers = markersOf(data);
  return markers === null ? text : markers.mark(text);
}

/** The value behind a marker, for helpers: reads the render's markers from the data frame. */
export function plainValue<T>(value: T, data: unknown): T | string {
  const markers = markersOf(data);
  return markers === null ? value : markers.plain(value);
}

/** The render's ValueMarkers in a Handlebars data frame, or null outside render(). */
function markersOf(data: unknown): ValueMarkers | null {
  const markers = (data as Record<string, unknown> | undefined)?.[MARKERS_DATA_KEY];
  return markers instanceof ValueMarkers ? markers : null;
}
