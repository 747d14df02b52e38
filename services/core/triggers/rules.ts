/**
 * Trigger rule files: their YAML format, validation with errors that name the file, the rule
 * and the field, and the typed rules the engine runs. Pure: the caller reads the file.
 *
 * Format (see config/triggers.yaml for a commented example):
 *   rules:
 *     - name: high_interest          # [a-z][a-z0-9_-]*, unique; `segment:` is reserved
 *       kind: threshold
 *       event: product_view          # one event type or a list
 *       where: { category: shoes }   # optional; equality on product_id, category, ..., properties.<key>
 *       group_by: product_id         # optional; events lacking the field are ignored by the rule
 *       window: 24h                  # trailing event-time window
 *       greater_than: 3              # fires when the count goes from 3 to 4
 *       cooldown: 12h                # optional; no second firing of a group sooner than this
 *     - name: cart_abandoned
 *       kind: absence
 *       event: add_to_cart
 *       not_followed_by: [purchase, checkout_started]
 *       within: 15m
 *       on_repeat: restart           # or keep
 *       context: cart                # optional; adds the tracked cart to the trigger context
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { KNOWN_EVENT_TYPES, type KnownEventType } from '../types';
import { parseDuration } from './durations';
import { EVENT_STRING_FIELDS, isEventField, type EventField } from './fields';

/** The largest `greater_than`: the engine keeps greater_than + 1 timestamps per group. */
export const MAX_GREATER_THAN = 100;
/** The longest window, `within` or cooldown a rule may name (365 days). */
export const MAX_DURATION_MS = 365 * 86_400_000;

/** One `where` condition: the event's field equals the value. */
export interface FieldEquals {
  field: EventField;
  value: string;
}

interface RuleBase {
  name: string;
  description: string | null;
  /** Event types the rule counts (threshold) or that arm it (absence). */
  events: KnownEventType[];
  /** All must hold for an event to count (threshold) or to arm (absence). */
  where: FieldEquals[];
}

/** Counts matching events per group within a trailing event-time window. */
export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  /** Null: one group per customer. */
  groupBy: EventField | null;
  /** As written in the file, e.g. `24h`; goes into the trigger context. */
  window: string;
  windowMs: number;
  greaterThan: number;
  cooldownMs: number;
}

/** Fires when an arming event is not followed by a cancelling one within a time. */
export interface AbsenceRule extends RuleBase {
  kind: 'absence';
  notFollowedBy: KnownEventType[];
  /** As written in the file, e.g. `15m`; goes into the trigger context. */
  within: string;
  withinMs: number;
  onRepeat: 'restart' | 'keep';
  context: 'cart' | null;
}

export type TriggerRule = ThresholdRule | AbsenceRule;

/** A rule file is invalid; the message names the file, the rule and the field. */
export class TriggerRuleError extends Error {
  override readonly name = 'TriggerRuleError';
  readonly retriable = false;
  constructor(
    readonly fileName: string,
    message: string,
  ) {
    super(`${fileName}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages. Each names the bad value and what is expected; the path is added by formatIssue.

type IssueLike = { input?: unknown };

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** An error function: "<value> is not <noun>; expected <hint>", or "is missing; ...". */
function expecting(noun: string, hint = '') {
  return (issue: IssueLike): string =>
    issue.input === undefined
      ? `is missing; expected ${noun}${hint === '' ? '' : ` (${hint})`}`
      : `${show(issue.input)} is not ${noun}${hint === '' ? '' : `; expected ${hint}`}`;
}

function strictMapping<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed keys: ${allowed}`
        : expecting('a mapping', `key: value pairs (${allowed})`)(issue),
  });
}

// ---------------------------------------------------------------------------------------------
// Field schemas.

const RULE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

const ruleName = z.string({ error: expecting('a rule name', 'like high_interest') }).check((ctx) => {
  if (ctx.value.startsWith('segment:')) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `${show(ctx.value)} is not allowed: names starting with "segment:" are reserved for segment-entry triggers`,
    });
  } else if (!RULE_NAME_PATTERN.test(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `${show(ctx.value)} is not a rule name; expected lowercase letters, digits, _ or - (starting with a letter, at most 64), like high_interest`,
    });
  }
});

const durationHint = 'like 15m, 24h, 30d';

function duration(options: { allowZero: boolean }) {
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
const eventTypes = z.preprocess(
  (value) => (typeof value === 'string' ? [value] : value),
  z
    .array(eventType, { error: expecting('an event type or a list of them', eventTypeHint) })
    .min(1, { error: `is an empty list; expected ${eventTypeHint}` })
    .refine((list) => new Set(list).size === list.length, { error: 'lists an event type twice' }),
);

const fieldHint = `${EVENT_STRING_FIELDS.join(', ')} or properties.<key>`;
const eventField = z
  .string({ error: expecting('an event field', fieldHint) })
  .refine(isEventField, { error: (issue) => `${show(issue.input)} is not an event field; expected ${fieldHint}` });

const whereConditions = z
  .record(
    z.string(),
    z.string({ error: expecting('text', 'quoted text, e.g. "123" (values are compared as text)') }),
    { error: expecting('a mapping of field: value', `fields ${fieldHint}`) },
  )
  .check((ctx) => {
    for (const key of Object.keys(ctx.value)) {
      if (!isEventField(key)) {
        ctx.issues.push({
          code: 'custom',
          input: key,
          path: [key],
          message: `is not an event field; expected ${fieldHint}`,
        });
      }
    }
  });

const notCount = expecting(`a whole number from 0 to ${MAX_GREATER_THAN}`);
const greaterThan = z
  .number({ error: notCount })
  .int({ error: notCount })
  .min(0, { error: notCount })
  .max(MAX_GREATER_THAN, { error: notCount });

const description = z.string({ error: expecting('text') }).optional();

const thresholdSchema = strictMapping({
  name: ruleName,
  kind: z.literal('threshold'),
  description,
  event: eventTypes,
  where: whereConditions.optional(),
  group_by: eventField.optional(),
  window: duration({ allowZero: false }),
  greater_than: greaterThan,
  cooldown: duration({ allowZero: true }).optional(),
});

const absenceSchema = strictMapping({
  name: ruleName,
  kind: z.literal('absence'),
  description,
  event: eventTypes,
  where: whereConditions.optional(),
  not_followed_by: eventTypes,
  within: duration({ allowZero: false }),
  on_repeat: z.enum(['restart', 'keep'], { error: expecting('an on_repeat choice', 'restart or keep') }).optional(),
  context: z.enum(['cart'], { error: expecting('a context option', 'cart') }).optional(),
}).check((ctx) => {
  const both = ctx.value.event.filter((type) => ctx.value.not_followed_by.includes(type));
  if (both.length > 0) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value.not_followed_by,
      path: ['not_followed_by'],
      message: `lists ${both.join(', ')}, which also arms the rule (event); an event cannot cancel itself`,
    });
  }
});

const fileSchema = strictMapping({
  rules: z.array(z.unknown(), { error: expecting('a list of rules', 'a YAML list of rule mappings') }),
});

// ---------------------------------------------------------------------------------------------
// Parsing.

/** Parses and validates a trigger rule file (YAML text); throws TriggerRuleError on any problem. */
export function parseTriggerRules(fileName: string, text: string): TriggerRule[] {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new TriggerRuleError(fileName, `is not valid YAML: ${document.errors[0]!.message}`);
  }
  const raw: unknown = document.toJS();
  if (raw === null || raw === undefined) {
    throw new TriggerRuleError(fileName, 'is empty; expected a mapping with a `rules:` list');
  }
  const file = fileSchema.safeParse(raw, { reportInput: true });
  if (!file.success) throw new TriggerRuleError(fileName, formatIssue(raw, mostUseful(file.error.issues)));

  const rules = file.data.rules.map((rawRule, index) => parseRule(fileName, rawRule, index));
  rejectDuplicateNames(fileName, rules);
  return rules;
}

function parseRule(fileName: string, raw: unknown, index: number): TriggerRule {
  const name = isMapping(raw) ? raw['name'] : undefined;
  const label = typeof name === 'string' ? `rule ${JSON.stringify(name)}` : `rule #${index + 1}`;
  const fail = (message: string): never => {
    throw new TriggerRuleError(fileName, `${label}: ${message}`);
  };
  if (!isMapping(raw)) return fail(expecting('a mapping', 'name, kind and the fields of that kind')({ input: raw }));

  const kind = raw['kind'];
  const schema = kind === 'threshold' ? thresholdSchema : kind === 'absence' ? absenceSchema : null;
  if (schema === null) return fail(`kind: ${expecting('a rule kind', 'threshold or absence')({ input: kind })}`);

  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) return fail(formatIssue(raw, mostUseful(result.error.issues)));
  return result.data.kind === 'threshold' ? toThresholdRule(result.data) : toAbsenceRule(result.data);
}

type ThresholdInput = z.output<typeof thresholdSchema>;
type AbsenceInput = z.output<typeof absenceSchema>;

function toThresholdRule(input: ThresholdInput): ThresholdRule {
  return {
    kind: 'threshold',
    name: input.name,
    description: input.description ?? null,
    events: input.event,
    where: toConditions(input.where),
    groupBy: (input.group_by as EventField | undefined) ?? null,
    window: input.window.trim(),
    windowMs: parseDuration(input.window)!,
    greaterThan: input.greater_than,
    cooldownMs: input.cooldown === undefined ? 0 : parseDuration(input.cooldown)!,
  };
}

function toAbsenceRule(input: AbsenceInput): AbsenceRule {
  return {
    kind: 'absence',
    name: input.name,
    description: input.description ?? null,
    events: input.event,
    where: toConditions(input.where),
    notFollowedBy: input.not_followed_by,
    within: input.within.trim(),
    withinMs: parseDuration(input.within)!,
    onRepeat: input.on_repeat ?? 'restart',
    context: input.context ?? null,
  };
}

function toConditions(where: Record<string, string> | undefined): FieldEquals[] {
  return Object.entries(where ?? {}).map(([field, value]) => ({ field: field as EventField, value }));
}

function rejectDuplicateNames(fileName: string, rules: TriggerRule[]): void {
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.name)) {
      throw new TriggerRuleError(fileName, `rule ${JSON.stringify(rule.name)}: name: is used by an earlier rule; expected unique names`);
    }
    seen.add(rule.name);
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The issue to report: an unknown key first, since a misspelt key also shows up as a missing one. */
function mostUseful(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0]!;
}

/** "path: message", where list indexes read [i] and a lone value read as a list drops its [0]. */
function formatIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  let text = '';
  let node: unknown = raw;
  for (const segment of issue.path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(node)) break; // `event: foo` was read as [foo]; name the field, not [0]
      text += `[${segment}]`;
    } else {
      text += text === '' ? String(segment) : `.${String(segment)}`;
    }
    node = isMapping(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
  }
  return text === '' ? issue.message : `${text}: ${issue.message}`;
}
