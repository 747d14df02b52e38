/**
 * Trigger rule files: their YAML format, validation with errors that name the file, the rule
 * and the field, and the typed rules the engine runs. Pure: the caller reads the file.
 *
 * Format (see config/triggers.yaml for a commented example):
 *   rules:
 *     - name: high_interest          # [a-z][a-z0-9_-]*, unique; `segment:` is reserved
 *       kind: threshold
 *       event: product_view          # one event type or a list
 *       where: { category: shoes }   # optional; the shared grammar of core/definitions (where.ts)
 *       group_by: product_id         # optional; events lacking the field are ignored by the rule
 *       window: 24h                  # trailing event-time window; durations as in core/definitions
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
import { z } from 'zod';
import {
  durationSchema,
  eventFieldSchema,
  expecting,
  isMapping,
  MAX_DURATION_MS,
  parseWith,
  parseYaml,
  reportProblems,
  show,
  strictMapping,
  whereSchema,
  type EventField,
  type FieldEquals,
} from '../definitions';
import { KNOWN_EVENT_TYPES, type KnownEventType } from '../types';

export { MAX_DURATION_MS, type FieldEquals };

/** The largest `greater_than`: the engine keeps greater_than + 1 timestamps per group. */
export const MAX_GREATER_THAN = 100;

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
  where: whereSchema.optional(),
  group_by: eventFieldSchema.optional(),
  window: durationSchema(),
  greater_than: greaterThan,
  cooldown: durationSchema({ minMs: 0 }).optional(),
});

const absenceSchema = strictMapping({
  name: ruleName,
  kind: z.literal('absence'),
  description,
  event: eventTypes,
  where: whereSchema.optional(),
  not_followed_by: eventTypes,
  within: durationSchema(),
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
  const raw = reporting(fileName, '', () => parseYaml(text));
  if (raw === null || raw === undefined) {
    throw new TriggerRuleError(fileName, 'is empty; expected a mapping with a `rules:` list');
  }
  const file = reporting(fileName, '', () => parseWith(fileSchema, raw));
  const rules = file.rules.map((rawRule, index) => parseRule(fileName, rawRule, index));
  rejectDuplicateNames(fileName, rules);
  return rules;
}

/** Runs `parse`, reporting a DefinitionProblem as a TriggerRuleError under `label` (e.g. `rule "x": `). */
function reporting<T>(fileName: string, label: string, parse: () => T): T {
  return reportProblems(parse, (problem) => new TriggerRuleError(fileName, `${label}${problem.message}`));
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

  const rule = reporting(fileName, `${label}: `, () => parseWith<ThresholdInput | AbsenceInput>(schema, raw));
  return rule.kind === 'threshold' ? toThresholdRule(rule) : toAbsenceRule(rule);
}

type ThresholdInput = z.output<typeof thresholdSchema>;
type AbsenceInput = z.output<typeof absenceSchema>;

function toThresholdRule(input: ThresholdInput): ThresholdRule {
  return {
    kind: 'threshold',
    name: input.name,
    description: input.description ?? null,
    events: input.event,
    where: input.where ?? [],
    groupBy: input.group_by ?? null,
    window: input.window.text,
    windowMs: input.window.ms,
    greaterThan: input.greater_than,
    cooldownMs: input.cooldown?.ms ?? 0,
  };
}

function toAbsenceRule(input: AbsenceInput): AbsenceRule {
  return {
    kind: 'absence',
    name: input.name,
    description: input.description ?? null,
    events: input.event,
    where: input.where ?? [],
    notFollowedBy: input.not_followed_by,
    within: input.within.text,
    withinMs: input.within.ms,
    onRepeat: input.on_repeat ?? 'restart',
    context: input.context ?? null,
  };
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
