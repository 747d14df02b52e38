/** Rendering one email from a compiled set: synchronous, one object parameter, no I/O. */
import Handlebars from 'handlebars';
import { resolveTimeZone } from '../campaigns/quiet-hours';
import { assertRenderedClean } from './clean';
import type { TemplateSet } from './compile';
import { TemplateRenderError } from './errors';
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
}

export interface RenderedEmail {
  subject: string;
  preheader: string;
  html: string;
  text: string;
}

/** A locale Intl accepts, canonicalized; en-US when missing or invalid. */
export function resolveLocale(locale: string | null | undefined): string {
  if (typeof locale !== 'string' || locale.trim() === '') return 'en-US';
  try {
    return Intl.getCanonicalLocales(locale.trim().replace(/_/g, '-'))[0] ?? 'en-US';
  } catch {
    return 'en-US';
  }
}

/** Subject and preheader are one line: no header injection, no stray layout whitespace. */
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
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

/** Renders subject, preheader, HTML and text; throws TemplateRenderError naming template and part. */
export function render(input: RenderInput): RenderedEmail {
  const { templates, template } = input;
  const email = templates.emails.get(template);
  if (email === undefined) throw new TemplateRenderError(`unknown template "${template}"; known: ${templates.names.join(', ')}`, template, null);
  let part = 'data';
  try {
    const view = buildView(input.data);
    const options = { data: { locale: resolveLocale(input.locale), timeZone: resolveTimeZone(input.timeZone) } };
    let subjectTemplate = email.parts.subject;
    if (input.subjectOverride) {
      const override = templates.subjects.get(input.subjectOverride);
      if (override === undefined) throw new Error(`unknown subject override "${input.subjectOverride}"`);
      subjectTemplate = override;
    }
    part = 'subject';
    const subject = oneLine(subjectTemplate(view, options));
    if (subject === '') throw new Error('the subject is empty');
    part = 'preheader';
    const preheader = oneLine(email.parts.preheader(view, options));
    part = 'html';
    const htmlBody = email.parts.html(view, options);
    const html = templates.layouts.html({ ...view, subject, preheader, body: new Handlebars.SafeString(htmlBody) }, options);
    part = 'text';
    const text = tidyText(templates.layouts.text({ ...view, subject, preheader, body: email.parts.text(view, options) }, options));
    const rendered = { subject, preheader, html, text };
    for (const [name, value] of Object.entries(rendered)) {
      part = name;
      assertRenderedClean(value);
    }
    return rendered;
  } catch (error) {
    throw new TemplateRenderError(`template "${template}", ${part}: ${explain(error)}`, template, part);
  }
}
