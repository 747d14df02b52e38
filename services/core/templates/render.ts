/** Rendering one email from a compiled set: synchronous, one object parameter, no I/O. */
import Handlebars from 'handlebars';
import { resolveTimeZone } from '../campaigns/quiet-hours';
import { BoundedCache } from '../bounded-cache';
import type { TemplateSet } from './compile';
import { TemplateRenderError } from './errors';
import { assemble, assemblyOf, type Assembly } from './assembly';
import type { CheckedText } from './clean';
import { LinkWrapper, openPixel, planHtmlTracking, planTextTracking, trackParts, type LinkTracking } from './tracking';
import { escapeHtml, MARKERS_DATA_KEY, ValueMarkers } from './values';
import { buildView, type RenderData } from './view';

export interface RenderInput {
  templates: TemplateSet;
  /** An email template name (folder under emails/). */
  template: string;
  data: RenderData;
  /** BCP 47, e.g. "de-DE"; invalid or missing falls back to en-US. */
  locale?: string | null;
  /** IANA zone for dates; invalid or missing falls back to UTC. */
  timeZone?: string | null;
  /** Id of a subject passed to compileTemplates({ subjects }) that replaces subject.hbs. */
  subjectOverride?: string | null;
  /** Id of a line passed to compileTemplates({ subjects }) that replaces preheader.hbs (an experiment's preheader). */
  preheaderOverride?: string | null;
  /**
   * Tracks the template's own http(s) links and adds the open pixel (tracking.ts); data links
   * are expected signed already. Absent: the parts are left as rendered.
   */
  tracking?: LinkTracking | null;
}

export interface RenderedEmail {
  subject: string;
  preheader: string;
  html: string;
  text: string;
}

/** Locales resolved so far (Intl.getCanonicalLocales costs about 3 µs), at most 500. */
const resolvedLocales = new BoundedCache<string>(500);

/** A locale Intl accepts, canonicalized; en-US when missing or invalid. */
export function resolveLocale(locale: string | null | undefined): string {
  if (typeof locale !== 'string') return 'en-US';
  return resolvedLocales.get(locale, () => canonicalLocale(locale));
}

function canonicalLocale(locale: string): string {
  if (locale.trim() === '') return 'en-US';
  try {
    return Intl.getCanonicalLocales(locale.trim().replace(/_/g, '-'))[0] ?? 'en-US';
  } catch {
    return 'en-US';
  }
}

/** A UTF-16 code unit that /\s/ matches, other than ' ' (ASCII controls, then the Unicode spaces). */
export function isOtherWhitespace(char: number): boolean {
  if (char < 0x80) return char >= 0x09 && char <= 0x0d;
  return char === 0xa0 || char === 0x1680 || (char >= 0x2000 && char <= 0x200a) || char === 0x2028 || char === 0x2029
    || char === 0x202f || char === 0x205f || char === 0x3000 || char === 0xfeff;
}

/**
 * True when oneLine would leave `value` as it is: no whitespace run of two, none but ' ', none
 * at either end (false exactly when /\s\s|[^\S ]|^\s|\s$/ matches). One look at each
 * character instead of that pattern's four alternatives at each.
 */
export function isOneLine(value: string): boolean {
  const last = value.length - 1;
  for (let at = 0; at <= last; at += 1) {
    const char = value.charCodeAt(at);
    if (char === 0x20) {
      // A ' ' at either end, or before another whitespace (a ' ' here, any other found next).
      if (at === 0 || at === last || value.charCodeAt(at + 1) === 0x20) return false;
    } else if (isOtherWhitespace(char)) {
      return false;
    }
  }
  return true;
}

/** Subject and preheader are one line: no header injection, no stray layout whitespace. */
export function oneLine(value: string): string {
  // Most subjects are one line already: one look instead of a replace and a trim.
  return isOneLine(value) ? value : value.replace(/\s+/g, ' ').trim();
}

/**
 * The longest subject sent, in characters (code points). RFC 5322 caps a header line at 998
 * octets; inboxes show about 60. A longer one (a very long name in it) is cut, with "…".
 */
export const MAX_SUBJECT_CHARS = 200;
/** The longest preheader, in characters; inboxes show about 100. */
export const MAX_PREHEADER_CHARS = 250;

/** `value` cut to `max` code points (never inside a surrogate pair), ending in "…" when cut. */
export function bounded(value: string, max: number): string {
  if (value.length <= max) return value;
  const points = Array.from(value);
  return points.length <= max ? value : `${points.slice(0, max - 1).join('').trimEnd()}…`;
}

/** Text part: no trailing spaces, at most one blank line in a row. */
function tidyText(value: string): string {
  return value.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim() + '\n';
}

/** Strict mode reads `a.b` in a helper argument without checking `a`; say what to do about it. */
function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const read = /^Cannot read properties of (?:undefined|null) \(reading '([^']*)'\)/.exec(message);
  return read === null ? message : `"${read[1]}" read from a missing value; guard it with {{#if}}`;
}

/**
 * Renders subject, preheader, HTML and text; throws TemplateRenderError naming template and
 * part. Customer values are data (values.ts): the templates and the cleanliness check see
 * markers, the values go in afterwards, and an error message shows them as "[value]".
 */
export function render(input: RenderInput): RenderedEmail {
  const { templates, template } = input;
  const email = templates.emails.get(template);
  if (email === undefined) throw new TemplateRenderError(`unknown template "${template}"; known: ${templates.names.join(', ')}`, template, null);
  const markers = new ValueMarkers();
  let part = 'data';
  try {
    // Built marked: every customer or event string is a marker from the start (view.ts, ValueMarking).
    const view = buildView(input.data, markers);
    const options = { data: { locale: resolveLocale(input.locale), timeZone: resolveTimeZone(input.timeZone), [MARKERS_DATA_KEY]: markers } };
    let subjectTemplate = email.parts.subject;
    if (input.subjectOverride) {
      const override = templates.subjects.get(input.subjectOverride);
      if (override === undefined) throw new Error(`unknown subject override "${input.subjectOverride}"`);
      subjectTemplate = override;
    }
    const mask = (excerpt: string) => markers.mask(excerpt);
    part = 'subject';
    const checkedSubject = email.checked.subject.check(subjectTemplate(view, options), oneLine, mask);
    if (checkedSubject.text === '') throw new Error('the subject is empty');
    const subject = bounded(oneLine(filled(checkedSubject, markers)), MAX_SUBJECT_CHARS);
    part = 'preheader';
    let preheaderTemplate = email.parts.preheader;
    if (input.preheaderOverride) {
      const override = templates.subjects.get(input.preheaderOverride);
      if (override === undefined) throw new Error(`unknown preheader override "${input.preheaderOverride}"`);
      preheaderTemplate = override;
    }
    const checkedPreheader = email.checked.preheader.check(preheaderTemplate(view, options), oneLine, mask);
    const preheader = bounded(oneLine(filled(checkedPreheader, markers)), MAX_PREHEADER_CHARS);
    // The layouts get the finished subject and preheader as values too: checked once, above.
    const framedSubject = markers.mark(subject);
    const framedPreheader = markers.mark(preheader);
    part = 'html';
    const htmlBody = email.parts.html(view, options);
    const html = email.checked.html.check(templates.layouts.html({ ...view, subject: framedSubject, preheader: framedPreheader, body: new Handlebars.SafeString(htmlBody) }, options), asIs, mask);
    part = 'text';
    const text = email.checked.text.check(templates.layouts.text({ ...view, subject: framedSubject, preheader: framedPreheader, body: email.parts.text(view, options) }, options), tidyText, mask);
    part = 'links';
    // Every value is HTML-escaped in the HTML part, even where a template used {{{triple}}}.
    if (!input.tracking) return { subject, preheader, html: filled(html, markers, escapeHtml), text: filled(text, markers) };
    // Where tracking changes each part is worked out once per kept part; each email signs its links.
    if (html.tracked === undefined) html.tracked = assemblyOf(html.text, planHtmlTracking(html.text));
    if (text.tracked === undefined) text.tracked = assemblyOf(text.text, planTextTracking(text.text));
    if (html.tracked !== null && text.tracked !== null) {
      const wrapper = new LinkWrapper(input.tracking);
      return {
        subject,
        preheader,
        html: assemble(html.tracked, markers, escapeHtml, wrapper, openPixel(input.tracking.openPixelUrl)),
        text: assemble(text.tracked, markers, null, wrapper, ''),
      };
    }
    const tracked = trackParts({ html: html.text, text: text.text }, input.tracking);
    return { subject, preheader, html: markers.fill(tracked.html, escapeHtml), text: markers.fill(tracked.text) };
  } catch (error) {
    throw new TemplateRenderError(`template "${template}", ${part}: ${markers.mask(explain(error))}`, template, part);
  }
}

/** A checked part filled in for this email, without tracking (its assembly built at first use). */
function filled(part: CheckedText, markers: ValueMarkers, encode: ((value: string) => string) | null = null): string {
  part.plain ??= assemblyOf(part.text, null) as Assembly;
  return assemble(part.plain, markers, encode, null, '');
}

/** The HTML part is checked as the layout wrote it. */
function asIs(output: string): string {
  return output;
}
