/**
 * Segment definition files: YAML text -> validated, normalized SegmentDefinition objects.
 * Pure: the caller reads the file; this module only parses text, so start-up errors can name
 * the file, the segment and the exact field that is wrong.
 */
import { z } from 'zod';
import {
  DefinitionProblem,
  durationSchema,
  eventFieldSchema,
  formatDuration,
  isMapping,
  parseWith,
  parseYaml,
  reportProblems,
  SECOND_MS,
  show,
  strictMapping,
  whereSchema,
  type EventField,
  type FieldEquals,
} from '../definitions';
import { KNOWN_EVENT_TYPES, isKnownEventType } from '../types';

export const COMPARISON_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];
export const PROFILE_OPS = [...COMPARISON_OPS, 'in', 'not_in', 'exists', 'not_exists'] as const;
export type ProfileOp = (typeof PROFILE_OPS)[number];
export type ProfileValue = string | number | boolean;

/** Top-level profile fields a condition may test; `attributes.<key>` is allowed too. */
export const PROFILE_FIELDS = ['email', 'first_name', 'last_name', 'locale', 'timezone', 'country', 'consent_email'] as const;

/** Count thresholds are capped because the state keeps threshold + 1 timestamps. */
export const MAX_COUNT_THRESHOLD = 1000;

export interface Comparison {
  op: ComparisonOp;
  value: number;
}

/** Which events an aggregate looks at: any of `types`, narrowed by `where`. */
export interface EventFilter {
  /** Sorted, without duplicates. */
  types: string[];
  /** Every condition must hold (see core/definitions/where.ts). */
  where: FieldEquals[];
}

export type Condition =
  | { kind: 'all'; conditions: Condition[] }
  | { kind: 'any'; conditions: Condition[] }
  | { kind: 'not'; condition: Condition }
  /** `values` holds one value for comparisons, the list for in/not_in, nothing for exists. */
  | { kind: 'profile'; field: string; op: ProfileOp; values: ProfileValue[] }
  /**
   * groupBy null: the customer's count. Else counted per value of that event field (events
   * without it do not count), and the condition holds when some group's count passes (gt or gte only).
   */
  | { kind: 'count'; filter: EventFilter; windowMs: number; comparison: Comparison; groupBy: EventField | null }
  | { kind: 'recency'; filter: EventFilter; windowMs: number }
  | { kind: 'sum'; filter: EventFilter; windowMs: number; comparison: Comparison }
  /** windowMs null: never at all; else none within the window. */
  | { kind: 'never'; filter: EventFilter; windowMs: number | null }
  | { kind: 'first'; filter: EventFilter; windowMs: number }
  /**
   * Some `filter` event at most `windowMs` and at least `forMs` old with no `cancelledBy` event
   * at or after it (e.g. an add_to_cart 15 minutes old and no purchase since).
   */
  | { kind: 'absence'; filter: EventFilter; cancelledBy: EventFilter; forMs: number; windowMs: number };

export type LeafCondition = Exclude<Condition, { kind: 'all' | 'any' | 'not' }>;
export type EventCondition = Exclude<LeafCondition, { kind: 'profile' }>;

export interface SegmentDefinition {
  name: string;
  description: string | null;
  /** Entering the segment emits a TriggerFired with rule `segment:<name>`. */
  triggerOnEntry: boolean;
  conditions: Condition;
}

/** A definition file is wrong; the message names the file, the segment and the field. */
export class SegmentDefinitionError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly segment: string | null,
    readonly field: string | null,
  ) {
    super(message);
    this.name = 'SegmentDefinitionError';
  }
}

/** The shortest trailing window: sums are bucketed by the second at best. */
const MIN_WINDOW_MS = SECOND_MS;
const SEGMENT_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const ATTRIBUTE_FIELD = /^attributes\.[A-Za-z0-9_.-]{1,100}$/;
const CONDITION_KEYS = ['all', 'any', 'not', 'profile', 'count', 'recency', 'sum', 'never', 'first', 'absence'] as const;
/** The comparisons a grouped count takes: "some group has at least N" is the only question a bounded set of groups answers. */
const GROUPED_COMPARISONS: readonly ComparisonOp[] = ['gt', 'gte'];

const windowSchema = durationSchema({ minMs: MIN_WINDOW_MS }).transform((window) => window.ms);

const eventTypesSchema = z.unknown().transform((raw, ctx): string[] => {
  const list = Array.isArray(raw) ? raw : [raw];
  const expected = `expected an event type or a non-empty list of them (${KNOWN_EVENT_TYPES.join(', ')})`;
  if (list.length === 0) {
    ctx.addIssue({ code: 'custom', message: `empty list; ${expected}` });
    return z.NEVER;
  }
  for (const type of list) {
    if (typeof type !== 'string' || !isKnownEventType(type)) {
      ctx.addIssue({ code: 'custom', message: `${show(type)} is not a known event type; ${expected}` });
      return z.NEVER;
    }
  }
  return [...new Set(list as string[])].sort();
});

function toFilter(event: string[], where: FieldEquals[] | undefined): EventFilter {
  return { types: event, where: where ?? [] };
}

/** Exactly one of eq..lte, or an issue that says so. */
function pickComparison(
  body: Partial<Record<ComparisonOp, number>>,
  ctx: z.RefinementCtx,
): Comparison | typeof z.NEVER {
  const present = COMPARISON_OPS.filter((op) => body[op] !== undefined);
  if (present.length !== 1) {
    const got = present.length === 0 ? 'none' : present.join(', ');
    ctx.addIssue({ code: 'custom', message: `expected exactly one comparison (${COMPARISON_OPS.join(', ')}); got ${got}` });
    return z.NEVER;
  }
  return { op: present[0], value: body[present[0]] as number };
}

function comparisonShape(value: z.ZodType<number>) {
  return Object.fromEntries(COMPARISON_OPS.map((op) => [op, value.optional()])) as Record<ComparisonOp, z.ZodOptional<z.ZodType<number>>>;
}

const countThreshold = z
  .number()
  .int(`expected a whole number from 0 to ${MAX_COUNT_THRESHOLD}`)
  .min(0, `expected a whole number from 0 to ${MAX_COUNT_THRESHOLD}`)
  .max(MAX_COUNT_THRESHOLD, `expected a whole number from 0 to ${MAX_COUNT_THRESHOLD}`);
const centsThreshold = z.number().int('expected a whole number of cents').min(0, 'expected cents >= 0').max(Number.MAX_SAFE_INTEGER);

const eventShape = { event: eventTypesSchema, where: whereSchema.optional(), within: windowSchema };

const countSchema = strictMapping({ ...eventShape, group_by: eventFieldSchema.optional(), ...comparisonShape(countThreshold) }).transform(
  (body, ctx): Condition => {
    const comparison = pickComparison(body, ctx);
    if (comparison === z.NEVER) return z.NEVER;
    const groupBy = body.group_by ?? null;
    if (groupBy !== null && !GROUPED_COMPARISONS.includes(comparison.op)) {
      ctx.addIssue({
        code: 'custom',
        path: ['group_by'],
        message: `counts per ${groupBy} and asks whether some ${groupBy} reaches the threshold, so it takes gt or gte; got ${comparison.op}`,
      });
      return z.NEVER;
    }
    return { kind: 'count', filter: toFilter(body.event, body.where), windowMs: body.within, comparison, groupBy };
  },
);

const sumSchema = strictMapping({ ...eventShape, ...comparisonShape(centsThreshold) }).transform(
  (body, ctx): Condition => {
    const comparison = pickComparison(body, ctx);
    return { kind: 'sum', filter: toFilter(body.event, body.where), windowMs: body.within, comparison };
  },
);

const recencySchema = strictMapping(eventShape).transform(
  (body): Condition => ({ kind: 'recency', filter: toFilter(body.event, body.where), windowMs: body.within }),
);

const neverSchema = strictMapping({ ...eventShape, within: windowSchema.optional() }).transform(
  (body): Condition => ({ kind: 'never', filter: toFilter(body.event, body.where), windowMs: body.within ?? null }),
);

const firstSchema = strictMapping(eventShape).transform(
  (body): Condition => ({ kind: 'first', filter: toFilter(body.event, body.where), windowMs: body.within }),
);

const absenceSchema = strictMapping({
  ...eventShape,
  not_followed_by: eventTypesSchema,
  for: durationSchema({ minMs: 0 }).transform((duration) => duration.ms).optional(),
}).transform((body, ctx): Condition => {
  const forMs = body.for ?? 0;
  if (forMs >= body.within) {
    ctx.addIssue({
      code: 'custom',
      path: ['for'],
      message: `${formatDuration(forMs)} is not shorter than within (${formatDuration(body.within)}); the event would leave the window before it counts`,
    });
    return z.NEVER;
  }
  return {
    kind: 'absence',
    filter: toFilter(body.event, body.where),
    cancelledBy: toFilter(body.not_followed_by, undefined),
    forMs,
    windowMs: body.within,
  };
});

const profileField = z.string().refine((field) => (PROFILE_FIELDS as readonly string[]).includes(field) || ATTRIBUTE_FIELD.test(field), {
  error: (issue) => `${show(issue.input)} is not a profile field; expected one of ${PROFILE_FIELDS.join(', ')} or attributes.<key>`,
});
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });
const orderable = z.union([z.string(), z.number()], { error: 'expected a string or number' });
const scalarList = z.array(scalar).min(1, 'expected a non-empty list');

const profileSchema = strictMapping({
  field: profileField,
  eq: scalar.optional(),
  neq: scalar.optional(),
  gt: orderable.optional(),
  gte: orderable.optional(),
  lt: orderable.optional(),
  lte: orderable.optional(),
  in: scalarList.optional(),
  not_in: scalarList.optional(),
  exists: z.literal(true, { error: 'expected true' }).optional(),
  not_exists: z.literal(true, { error: 'expected true' }).optional(),
}).transform((body, ctx): Condition => {
  const present = PROFILE_OPS.filter((op) => body[op] !== undefined);
  if (present.length !== 1) {
    const got = present.length === 0 ? 'none' : present.join(', ');
    ctx.addIssue({ code: 'custom', message: `expected exactly one operator (${PROFILE_OPS.join(', ')}); got ${got}` });
    return z.NEVER;
  }
  const op = present[0];
  const raw = body[op];
  const values: ProfileValue[] = op === 'exists' || op === 'not_exists' ? [] : Array.isArray(raw) ? raw : [raw as ProfileValue];
  return { kind: 'profile', field: body.field, op, values };
});

const LEAF_SCHEMAS: Record<string, z.ZodType<Condition>> = {
  profile: profileSchema,
  count: countSchema,
  recency: recencySchema,
  sum: sumSchema,
  never: neverSchema,
  first: firstSchema,
  absence: absenceSchema,
};

function parseCondition(raw: unknown, path: string): Condition {
  const keys = isMapping(raw) ? Object.keys(raw) : [];
  if (!isMapping(raw) || keys.length !== 1 || !(CONDITION_KEYS as readonly string[]).includes(keys[0])) {
    const got = isMapping(raw) ? `keys ${keys.join(', ') || '(none)'}` : show(raw);
    throw new DefinitionProblem(path, `expected an object with exactly one of ${CONDITION_KEYS.join(', ')}; got ${got}`);
  }
  const key = keys[0];
  const body = raw[key];
  const bodyPath = `${path}.${key}`;
  if (key === 'not') return { kind: 'not', condition: parseCondition(body, bodyPath) };
  if (key === 'all' || key === 'any') {
    if (!Array.isArray(body) || body.length === 0) {
      throw new DefinitionProblem(bodyPath, `expected a non-empty list of conditions; got ${show(body)}`);
    }
    return { kind: key, conditions: body.map((child, index) => parseCondition(child, `${bodyPath}[${index}]`)) };
  }
  return parseWith(LEAF_SCHEMAS[key]!, body, bodyPath);
}

const segmentShape = strictMapping({
  name: z.string(),
  description: z.string().optional(),
  trigger_on_entry: z.boolean().optional(),
  conditions: z.unknown().refine((value) => value !== undefined, 'required; expected a condition'),
});

function parseSegment(raw: unknown): SegmentDefinition {
  const body = parseWith(segmentShape, raw, '');
  return {
    name: body.name,
    description: body.description ?? null,
    triggerOnEntry: body.trigger_on_entry ?? false,
    conditions: parseCondition(body.conditions, 'conditions'),
  };
}

function segmentLabel(raw: unknown, index: number): { label: string; name: string | null } {
  const name = isMapping(raw) ? raw.name : undefined;
  if (typeof name === 'string' && SEGMENT_NAME.test(name)) return { label: `segment "${name}"`, name };
  return { label: `segments[${index}]`, name: null };
}

function segmentsList(fileName: string, root: unknown): unknown[] {
  const keys = isMapping(root) ? Object.keys(root) : [];
  if (!isMapping(root) || !Array.isArray(root.segments) || keys.some((key) => key !== 'segments')) {
    const message = `${fileName}: expected a top-level "segments:" list and nothing else`;
    throw new SegmentDefinitionError(message, fileName, null, 'segments');
  }
  return root.segments;
}

/** Parses and validates a segment definition file; throws SegmentDefinitionError naming file, segment and field. */
export function parseSegmentDefinitions(fileName: string, text: string): SegmentDefinition[] {
  const root = reportProblems(
    () => parseYaml(text),
    (problem) => new SegmentDefinitionError(`${fileName}: ${problem.message}`, fileName, null, null),
  );
  const rawSegments = segmentsList(fileName, root);
  const seen = new Set<string>();
  return rawSegments.map((raw, index) => {
    const { label, name } = segmentLabel(raw, index);
    const fail = (field: string, problem: string): never => {
      throw new SegmentDefinitionError(`${fileName}: ${label}: ${field}: ${problem}`, fileName, name, field);
    };
    if (name === null) {
      const got = isMapping(raw) ? show(raw.name) : show(raw);
      return fail('name', `${got} is not a segment name; expected lower_snake_case like frequent_buyer (letters, digits, _; up to 63)`);
    }
    if (seen.has(name)) return fail('name', `duplicate segment name; each name must be unique in the file`);
    seen.add(name);
    return reportProblems(() => parseSegment(raw), (problem) => fail(problem.field, problem.problem));
  });
}
