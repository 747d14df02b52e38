/**
 * Compiling a template set once at start-up. Two private Handlebars environments: one for the
 * HTML part (escapes values) and one with noEscape for subject, preheader and text, which are
 * not HTML. Every file is parsed, checked (helpers, partials) and precompiled here, so a broken
 * template stops start-up with its file and line instead of failing a send later.
 */
import Handlebars from 'handlebars';
import { codeUnitName } from '../limits';
import { checkTemplate } from './check';
import { CheckedPart } from './clean';
import { TemplateCompileError } from './errors';
import { classify, EMAIL_PARTS, normalizePath, type EmailPart, type FileRole } from './files';
import { HELPERS, KNOWN_HELPERS, lookupHelper } from './helpers';
import { MARKER_BOUND } from './values';

type Render = Handlebars.TemplateDelegate;
type Environment = typeof Handlebars;

export interface CompiledEmail {
  name: string;
  parts: Record<EmailPart, Render>;
  /** Each part's finishing and cleanliness check, with its memory of outputs found clean (render.ts). */
  checked: Record<EmailPart, CheckedPart>;
}

/** A compiled, immutable template set; pass it to render(). */
export interface TemplateSet {
  /** Email template names (folders under emails/), sorted. */
  readonly names: readonly string[];
  readonly emails: ReadonlyMap<string, CompiledEmail>;
  readonly layouts: { readonly html: Render; readonly text: Render };
  /** Subject overrides (A/B variants) by id. */
  readonly subjects: ReadonlyMap<string, Render>;
}

export interface TemplateFile {
  /** Relative to the templates folder, e.g. "emails/exclusive_offer/html.hbs". */
  path: string;
  text: string;
}

export interface CompileOptions {
  /** Extra subject lines (variant overrides), compiled like subject.hbs; render() picks one by id. */
  subjects?: ReadonlyArray<{ id: string; text: string }>;
}

interface Parsed {
  path: string;
  role: FileRole | { kind: 'subject-override'; id: string };
  ast: hbs.AST.Program;
}

const KNOWN_HELPER_SET = new Set(KNOWN_HELPERS);
const KNOWN_HELPER_FLAGS = Object.fromEntries(KNOWN_HELPERS.map((name) => [name, true]));

function environment(): Environment {
  const env = Handlebars.create();
  for (const [name, helper] of Object.entries(HELPERS)) env.registerHelper(name, helper as Handlebars.HelperDelegate);
  // The built-in lookup, made to read a key that is a value marker (see values.ts).
  env.registerHelper('lookup', lookupHelper as Handlebars.HelperDelegate);
  // Only our helpers exist: no logging to stdout from templates.
  env.unregisterHelper('log');
  return env;
}

function lineOf(error: unknown): number | null {
  const fromField = (error as { lineNumber?: unknown }).lineNumber;
  if (typeof fromField === 'number') return fromField;
  const match = /on line (\d+)/.exec(error instanceof Error ? error.message : String(error));
  return match === null ? null : Number(match[1]);
}

function compileFailure(path: string, error: unknown): TemplateCompileError {
  const line = lineOf(error);
  const column = (error as { column?: unknown }).column;
  const detail = (error instanceof Error ? error.message : String(error)).replace(/ - \d+:\d+$/, '').replace(/\n/g, ' | ');
  return new TemplateCompileError(`${path}${line === null ? '' : `:${line}`}: ${detail}`, path, line, typeof column === 'number' ? column + 1 : null);
}

/**
 * Refuses a template text holding a character that opens or closes a value marker (values.ts):
 * render() would read it as a broken value in every email. Said at start-up, with its place.
 */
function refuseMarkerBounds(path: string, text: string): void {
  const found = MARKER_BOUND.exec(text);
  if (found === null) return;
  const at = found.index;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  throw new TemplateCompileError(`${path}:${line}: holds the control character ${codeUnitName(text.charCodeAt(at))} (column ${column}), which render() keeps for value markers; remove it`, path, line, column);
}

function parse(env: Environment, path: string, text: string): hbs.AST.Program {
  refuseMarkerBounds(path, text);
  try {
    return env.parse(text);
  } catch (error) {
    throw compileFailure(path, error);
  }
}

function flavorOf(role: Parsed['role']): 'html' | 'text' {
  if (role.kind === 'layout' || role.kind === 'partial') return role.flavor;
  if (role.kind === 'email') return role.part === 'html' ? 'html' : 'text';
  return 'text';
}

function readFiles(env: Environment, files: readonly TemplateFile[], options: CompileOptions): Parsed[] {
  const parsed: Parsed[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const path = normalizePath(file.path);
    const role = classify(path);
    if (role === null) continue;
    if (seen.has(path)) throw new TemplateCompileError(`${path}: given twice`, path, null, null);
    seen.add(path);
    parsed.push({ path, role, ast: parse(env, path, file.text) });
  }
  for (const subject of options.subjects ?? []) {
    const path = `subject override "${subject.id}"`;
    parsed.push({ path, role: { kind: 'subject-override', id: subject.id }, ast: parse(env, path, subject.text) });
  }
  return parsed;
}

/** Checks and compiles one file; precompile makes Handlebars' own (lazy) errors happen now. */
function compileOne(env: Environment, file: Parsed, knownPartials: ReadonlySet<string>, noEscape: boolean): Render {
  const problem = checkTemplate(file.ast, { knownHelpers: KNOWN_HELPER_SET, knownPartials })[0];
  if (problem !== undefined) {
    const at = problem.line === null ? '' : `:${problem.line}`;
    throw new TemplateCompileError(`${file.path}${at}: ${problem.message}`, file.path, problem.line, problem.column);
  }
  // strict: a bare {{field}} whose field is missing throws instead of rendering an empty token.
  const options = { strict: true, knownHelpers: KNOWN_HELPER_FLAGS, knownHelpersOnly: true, noEscape };
  try {
    env.precompile(file.ast, options);
    return env.compile(file.ast, options);
  } catch (error) {
    throw compileFailure(file.path, error);
  }
}

function requireLayout(parsed: Parsed[], flavor: 'html' | 'text'): Parsed {
  const layout = parsed.find((file) => file.role.kind === 'layout' && file.role.flavor === flavor);
  if (layout !== undefined) return layout;
  const path = flavor === 'html' ? 'layouts/main.hbs' : 'layouts/main.text.hbs';
  throw new TemplateCompileError(`${path}: missing; every template set needs an HTML and a text layout`, path, null, null);
}

/** Compiles a template set from file texts; throws TemplateCompileError naming file and line. */
export function compileTemplates(files: readonly TemplateFile[], options: CompileOptions = {}): TemplateSet {
  const envs = { html: environment(), text: environment() };
  const parsed = readFiles(envs.html, files, options);
  const partialNames = {
    html: new Set(parsed.flatMap((file) => (file.role.kind === 'partial' && file.role.flavor === 'html' ? [file.role.name] : []))),
    text: new Set(parsed.flatMap((file) => (file.role.kind === 'partial' && file.role.flavor === 'text' ? [file.role.name] : []))),
  };
  const compiled = new Map<Parsed, Render>();
  for (const file of parsed) {
    const flavor = flavorOf(file.role);
    const render = compileOne(envs[flavor], file, partialNames[flavor], flavor === 'text');
    compiled.set(file, render);
    if (file.role.kind === 'partial') envs[flavor].registerPartial(file.role.name, render);
  }

  const emails = new Map<string, CompiledEmail>();
  for (const name of [...new Set(parsed.flatMap((file) => (file.role.kind === 'email' ? [file.role.name] : [])))].sort()) {
    const parts = {} as Record<EmailPart, Render>;
    const checked = {} as Record<EmailPart, CheckedPart>;
    for (const part of EMAIL_PARTS) {
      const file = parsed.find((candidate) => candidate.role.kind === 'email' && candidate.role.name === name && candidate.role.part === part);
      if (file === undefined) {
        const path = `emails/${name}/${part}.hbs`;
        throw new TemplateCompileError(`${path}: missing; every email needs ${EMAIL_PARTS.map((p) => `${p}.hbs`).join(', ')}`, path, null, null);
      }
      parts[part] = compiled.get(file) as Render;
      checked[part] = new CheckedPart();
    }
    emails.set(name, { name, parts, checked });
  }
  const subjects = new Map(parsed.flatMap((file) => (file.role.kind === 'subject-override' ? [[file.role.id, compiled.get(file) as Render] as const] : [])));
  return {
    names: [...emails.keys()],
    emails,
    layouts: { html: compiled.get(requireLayout(parsed, 'html')) as Render, text: compiled.get(requireLayout(parsed, 'text')) as Render },
    subjects,
  };
}
