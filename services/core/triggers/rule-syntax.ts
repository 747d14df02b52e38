/**
 * The schemas and messages rule files are checked with, shared by rules.ts (the keys every rule
 * has) and each kind (its own keys). Each message names the bad value and what is expected; the
 * path is added by rules.ts. Pure.
 */
import { z } from 'zod';
import { KNOWN_EVENT_TYPES } from '../types';
import { parseDuration } from './durations';
import { EVENT_STRING_FIELDS, isEventField } from './fields';
import { MAX_DURATION_MS } from './limits';

type IssueLike = { input?: unknown };

/** A value as a message shows it: strings quoted, lists and mappings named. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** An error function: "<value> is not <noun>; expected <hint>", or "is missing; ...". */
export function expecting(noun: string, hint = '') {
  return (issue: IssueLike): string =>
    issue.input === undefined
      ? `is missing; expected ${noun}${hint === '' ? '' : ` (${hint})`}`
      : `${show(issue.input)} is not ${noun}${hint === '' ? '' : `; expected ${hint}`}`;
}

/** A mapping with exactly these keys; an unknown key is named with the allowed ones. */
export function strictMapping<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed keys: ${allowed}`
        : expecting('a mapping', `key: value pairs (${allowed})`)(issue),
  });
}

const durationHint = 'like 15m, 24h, 30d';

/** A duration like 15m (see durations.ts), at most MAX_DURATION_MS. */
export function duration(options: { allowZero: boolean }) {
  return z.string({ error: expecting('a duration', durationHint) }).check((ctx) => {
    const ms = parseDuration(ctx.value);
    const problem =
      ms === null
        ? `is not a duration; expected ${durationHint}`
        : ms > MAX_DURATION_MS
          ? 'is longer than the longest allowed, 365d'
          : ms === 0 && !options.allowZero
            ? `is zero; expected a positive duration ${durationHint}`
            : null;
    if (problem !== null) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${show(ctx.value)} ${problem}` });
  });
}

const eventTypeHint = `one of ${KNOWN_EVENT_TYPES.join(', ')}`;
const eventType = z.enum(KNOWN_EVENT_TYPES, { error: expecting('a known event type', eventTypeHint) });

/** One event type or a non-empty list of them; a single string is read as a list of one. */
export const eventTypes = z.preprocess(
  (value) => (typeof value === 'string' ? [value] : value),
  z
    .array(eventType, { error: expecting('an event type or a list of them', eventTypeHint) })
    .min(1, { error: `is an empty list; expected ${eventTypeHint}` })
    .refine((list) => new Set(list).size === list.length, { error: 'lists an event type twice' }),
);

/** The hint naming the fields rules may use. */
export const fieldHint = `${EVENT_STRING_FIELDS.join(', ')} or properties.<key>`;

/** An event field a rule names (see fields.ts). */
export const eventField = z
  .string({ error: expecting('an event field', fieldHint) })
  .refine(isEventField, { error: (issue) => `${show(issue.input)} is not an event field; expected ${fieldHint}` });

/** A whole number from 0 to `max`. */
export function wholeNumber(max: number) {
  const notCount = expecting(`a whole number from 0 to ${max}`);
  return z.number({ error: notCount }).int({ error: notCount }).min(0, { error: notCount }).max(max, { error: notCount });
}
