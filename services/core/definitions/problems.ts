/**
 * Problems found in a definition file, before the parser knows which entry they belong to,
 * and how values and field paths are shown in messages. Pure: no I/O.
 */

/** A problem at a field path ('' for the whole file or entry); each parser adds file and entry. */
export class DefinitionProblem extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(field === '' ? problem : `${field}: ${problem}`);
    this.name = 'DefinitionProblem';
  }
}

/** A value as messages show it: text quoted, lists and mappings by what they are. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** A zod error function: `<value> is not <noun>; expected <hint>`, or `is missing; expected <noun> (<hint>)`. */
export function expecting(noun: string, hint = '') {
  return (issue: { input?: unknown }): string =>
    issue.input === undefined
      ? `is missing; expected ${noun}${hint === '' ? '' : ` (${hint})`}`
      : `${show(issue.input)} is not ${noun}${hint === '' ? '' : `; expected ${hint}`}`;
}

function isIndexable(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * A field path as people read it: `conditions.any[0].recency.within`. With `raw` (the value the
 * path walks), an index into something that is not a list is dropped: a lone `event: foo` read
 * as `[foo]` is reported as `event`, not `event[0]`.
 */
export function formatPath(path: readonly PropertyKey[], raw?: unknown, base = ''): string {
  let text = base;
  let node: unknown = raw;
  for (const key of path) {
    if (typeof key === 'number') {
      if (raw !== undefined && !Array.isArray(node)) break;
      text += `[${key}]`;
    } else {
      text += text === '' ? String(key) : `.${String(key)}`;
    }
    node = isIndexable(node) ? node[key] : undefined;
  }
  return text;
}

/** Runs `parse`; a DefinitionProblem it throws becomes the parser's own error (naming file and entry). */
export function reportProblems<T>(parse: () => T, toError: (problem: DefinitionProblem) => Error): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DefinitionProblem) throw toError(error);
    throw error;
  }
}
