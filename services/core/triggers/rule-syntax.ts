/**
 * The schemas and messages rule files are checked with, shared by rules.ts (the keys every rule
 * has) and each kind (its own keys). Each message names the bad value and what is expected; the
 * path is added by rules.ts. Pure.
 */
import { z } from 'zod';
import { KNOWN_EVENT_TYPES } from '../types';
import { durationProblem, EVENT_FIELD_HINT, eventFieldSchema, expecting, show, strictMapping } from '../definitions';

export { expecting, show, strictMapping };

/** A duration in the one grammar of core/definitions, kept as written (the kind parses it). */
export function duration(options: { allowZero: boolean }) {
  return z.string({ error: expecting('a duration', 'like 15m, 24h, 30d') }).check((ctx) => {
    const problem = durationProblem(ctx.value, options.allowZero ? { minMs: 0 } : {});
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
export const fieldHint = EVENT_FIELD_HINT;

/** An event field a rule names (core/definitions, where.ts). */
export const eventField = eventFieldSchema;

/** A whole number from 0 to `max`. */
export function wholeNumber(max: number) {
  const notCount = expecting(`a whole number from 0 to ${max}`);
  return z.number({ error: notCount }).int({ error: notCount }).min(0, { error: notCount }).max(max, { error: notCount });
}
