/** zod helpers every definition file uses: strict mappings and one way to report an issue. Pure. */
import { z } from 'zod';
import { DefinitionProblem, expecting, formatPath } from './problems';

/** A mapping with exactly these keys; an unknown key is reported at its own path with the allowed ones. */
export function strictMapping<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key; expected one of ${allowed}`
        : expecting('a mapping', `key: value pairs (${allowed})`)(issue),
  });
}

/** True for a YAML mapping (a plain object, not a list). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates `raw` with `schema`, or throws a DefinitionProblem for the most useful issue at
 * `base` + its path. An unknown key comes first, since a misspelt key also shows up as a missing one.
 */
export function parseWith<T>(schema: z.ZodType<T>, raw: unknown, base = ''): T {
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? result.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  throw new DefinitionProblem(formatPath(path, raw, base), issue.message);
}
