/**
 * Trigger rule files: their YAML format, validation with errors that name the file, the rule
 * and the field, and the typed rules the engine runs. Pure: the caller reads the file. The keys
 * every rule has are read here; each kind reads its own (see kinds.ts and registry.ts).
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
import { z } from 'zod';
import { isMapping, parseWith, parseYaml, reportProblems, whereSchema, type FieldEquals } from '../definitions';
import type { KnownEventType } from '../types';
import type { RuleKindTypes, RuleSyntax } from './kinds';
import { findRuleKind, ruleKindNames } from './registry';
import { eventTypes, expecting, show, strictMapping } from './rule-syntax';

export type { FieldEquals };

/** What every rule has, whatever its kind. */
export interface RuleBase {
  /** Names the kind, whose descriptor knows the rest of the rule (see kinds.ts). */
  kind: string;
  name: string;
  description: string | null;
  /** Event types the rule counts (threshold) or that arm it (absence). */
  events: KnownEventType[];
  /** All must hold for an event to count (threshold) or to arm (absence). */
  where: FieldEquals[];
}

/** A rule of any kind declared in RuleKindTypes (kinds.ts). */
export type TriggerRule = RuleKindTypes[keyof RuleKindTypes]['rule'];

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
// The keys every rule has.

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

const description = z.string({ error: expecting('text') }).optional();

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
  const rawName = isMapping(raw) ? raw['name'] : undefined;
  const label = typeof rawName === 'string' ? `rule ${JSON.stringify(rawName)}` : `rule #${index + 1}`;
  const fail = (message: string): never => {
    throw new TriggerRuleError(fileName, `${label}: ${message}`);
  };
  if (!isMapping(raw)) return fail(expecting('a mapping', 'name, kind and the fields of that kind')({ input: raw }));

  const kind = findRuleKind(raw['kind']);
  if (kind === undefined) return fail(`kind: ${expecting('a rule kind', kindNamesHint())({ input: raw['kind'] })}`);

  const parsed = reporting(fileName, `${label}: `, () => parseWith(ruleSchema(kind.name, kind.syntax), raw));
  const { name, kind: _kind, description, event, where, ...fields } = parsed;
  return kind.syntax.toRule(fields, { name, description: description ?? null, events: event, where: where ?? [] });
}

/** A rule mapping of the kind: the keys every rule has, then the kind's own. */
function ruleSchema(kindName: string, syntax: RuleSyntax<TriggerRule>) {
  return strictMapping({
    name: ruleName,
    kind: z.literal(kindName),
    description,
    event: eventTypes,
    where: whereSchema.optional(),
    ...syntax.fields,
  }).check((ctx) => {
    const { name: _name, kind: _kind, description: _description, event, where: _where, ...fields } = ctx.value;
    for (const { path, input, message } of syntax.problems(fields, event)) {
      ctx.issues.push({ code: 'custom', input, path: [path], message });
    }
  });
}

/** "threshold or absence", or "a, b or c". */
function kindNamesHint(): string {
  const names = ruleKindNames();
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
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
