/**
 * campaigns.yaml: text -> validated Campaign objects with the defaults merged in.
 * Pure: the caller reads the file, so start-up errors can name the file, the campaign and the
 * exact field that is wrong, and say what was expected.
 */
import { z } from 'zod';
import { DefinitionProblem, durationSchema, HOUR_MS, isMapping, parseWith as parseWithAt, parseYaml, reportProblems, show, strictMapping } from '../definitions';
import { controlCharacter } from '../limits';
import { overrideId } from './experiments';
import {
  PROFILE_CONDITION_OPS,
  VARIABLE_KINDS,
  type ArmSettings,
  type Campaign,
  type CampaignExperiment,
  type ExperimentVariable,
  type VariableKind,
  type CampaignCaps,
  type FrequencyCap,
  type Offer,
  type ProfileCondition,
  type QuietHours,
} from './model';

/** A campaigns file is wrong; the message names the file, the campaign and the field. */
export class CampaignDefinitionError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly campaign: string | null,
    readonly field: string | null,
  ) {
    super(message);
    this.name = 'CampaignDefinitionError';
  }
}

/** The caps used when `defaults:` leaves them out. */
export const BUILT_IN_DEFAULTS = {
  frequencyCap: { max: 3, perMs: 24 * HOUR_MS } as FrequencyCap,
  quietHours: quietHours('21:00', '08:00') as QuietHours | null,
  cooldownMs: null as number | null,
};

const CAMPAIGN_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const RULE_NAME = /^(segment:)?[a-z0-9][a-z0-9_-]{0,99}$/;
const TEMPLATE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const SEGMENT_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const CLOCK = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const PROFILE_FIELD = /^(email|first_name|last_name|locale|timezone|country|consent_email|attributes\.[A-Za-z0-9_.-]{1,100})$/;

function quietHours(start: string, end: string): QuietHours {
  const minute = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
  return { start, end, startMinute: minute(start), endMinute: minute(end) };
}

const duration = durationSchema().transform((value) => value.ms);

const namePattern = (pattern: RegExp, what: string) =>
  z.unknown().refine((raw) => typeof raw === 'string' && pattern.test(raw), {
    error: (issue) => `${show(issue.input)} is not a ${what}`,
  }) as unknown as z.ZodType<string>;

const segmentList = z.array(namePattern(SEGMENT_NAME, 'segment name; expected lower_snake_case like frequent_buyer'), {
  error: 'expected a list of segment names',
});
const clock = namePattern(CLOCK, 'time of day; expected "HH:MM" in 24-hour time, like "21:00"');
/**
 * Copy an email prints as it is (an offer's headline, description and code; a variant's
 * subject): no control character but tab and line breaks. U+0001 and U+0002 bound render()'s
 * value markers, so copy holding one would fail every render of the campaign as a damaged marker.
 */
const text = z
  .string({ error: 'expected text' })
  .min(1, 'expected non-empty text')
  .superRefine((value, ctx) => {
    const control = controlCharacter(value, true);
    if (control !== null) ctx.addIssue({ code: 'custom', message: `holds the control character ${control}; remove it (tab and line breaks are allowed)` });
  });

const frequencyCapSchema = strictMapping({
  max: z.number({ error: 'expected a whole number >= 1' }).int('expected a whole number >= 1').min(1, 'expected a whole number >= 1'),
  per: duration,
}).transform((cap): FrequencyCap => ({ max: cap.max, perMs: cap.per }));

const quietHoursSchema = z.union([
  z.literal(false),
  strictMapping({ start: clock, end: clock })
    .refine((window) => window.start !== window.end, 'start and end are equal; use quiet_hours: false to allow any time')
    .transform((window) => quietHours(window.start, window.end)),
], { error: 'expected { start: "HH:MM", end: "HH:MM" } or false' });

const capsShape = {
  cooldown: duration.optional(),
  frequency_cap: frequencyCapSchema.optional(),
  quiet_hours: quietHoursSchema.optional(),
};
const capsSchema = strictMapping(capsShape);

const profileValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected text, a number or true/false' })
  .transform((value) => String(value));
const profileConditionSchema = strictMapping({
  field: namePattern(PROFILE_FIELD, 'profile field; expected email, first_name, last_name, locale, timezone, country, consent_email or attributes.<key>'),
  eq: profileValue.optional(),
  neq: profileValue.optional(),
  in: z.array(profileValue).min(1, 'expected a non-empty list').optional(),
  not_in: z.array(profileValue).min(1, 'expected a non-empty list').optional(),
  exists: z.literal(true, { error: 'expected true' }).optional(),
  not_exists: z.literal(true, { error: 'expected true' }).optional(),
}).transform((body, ctx): ProfileCondition => {
  const present = PROFILE_CONDITION_OPS.filter((op) => body[op] !== undefined);
  if (present.length !== 1) {
    ctx.addIssue({ code: 'custom', message: `expected exactly one of ${PROFILE_CONDITION_OPS.join(', ')}; got ${present.join(', ') || 'none'}` });
    return z.NEVER;
  }
  const op = present[0];
  const raw = body[op];
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return { field: body.field, op, values };
});

const eligibilitySchema = strictMapping({
  all_segments: segmentList.optional(),
  any_segments: segmentList.optional(),
  none_segments: segmentList.optional(),
  profile: z.array(profileConditionSchema, { error: 'expected a list of profile conditions' }).optional(),
});

const variantSchema = strictMapping({
  name: namePattern(CAMPAIGN_NAME, 'variant name; expected lower_snake_case like control'),
  weight: z.number({ error: 'expected a whole number >= 1' }).int('expected a whole number >= 1').min(1, 'expected a whole number >= 1').max(1_000_000, 'expected at most 1000000'),
  template: namePattern(TEMPLATE_NAME, 'template name; expected a folder name under emails/ like exclusive_offer').optional(),
  subject: text.optional(),
});

const offerSchema = strictMapping({
  headline: text,
  description: text.optional(),
  code: text.optional(),
  discount_percent: z.number({ error: 'expected a number from 1 to 100' }).min(1, 'expected a number from 1 to 100').max(100, 'expected a number from 1 to 100').optional(),
  valid_for: duration.optional(),
}).transform((offer): Offer => ({
  headline: offer.headline,
  description: offer.description ?? null,
  code: offer.code ?? null,
  discountPercent: offer.discount_percent ?? null,
  validForMs: offer.valid_for ?? null,
}));

/**
 * The partials a `block_order` level may list: the ones partials/blocks.hbs knows how to place
 * (a shipped template renders its middle section through it).
 */
export const BLOCK_NAMES = ['cart', 'recommendations', 'offer', 'recent_purchase'] as const;
/** The longest send_delay: far inside the send ledger's lifetime (LEDGER_TTL, 30d by default). */
const MAX_SEND_DELAY_MS = 7 * 24 * HOUR_MS;

/** `10%` or a number in [0, 1): the share of customers held out. */
const holdoutSchema = z.unknown().transform((raw, ctx) => {
  const percent = typeof raw === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(raw) : null;
  const share = typeof raw === 'number' ? raw : percent !== null ? Number(percent[1]) / 100 : NaN;
  if (!(share >= 0 && share < 1)) {
    ctx.addIssue({ code: 'custom', message: `${show(raw)} is not a holdout share; expected a percentage like 10% or a number from 0 up to (not including) 1` });
    return z.NEVER;
  }
  return share;
});

const levelWeight = z.number({ error: 'expected a number > 0' }).positive('expected a number > 0').max(1_000_000, 'expected at most 1000000');
const levelName = namePattern(CAMPAIGN_NAME, 'level name; expected lower_snake_case like control');
const blockName = z.unknown().refine((raw) => typeof raw === 'string' && (BLOCK_NAMES as readonly string[]).includes(raw), {
  error: (issue) => `${show(issue.input)} is not a block; expected one of ${BLOCK_NAMES.join(', ')}`,
}) as unknown as z.ZodType<string>;

/** A level's value by variable kind, turned into the settings it applies. */
const levelValueSchemas: Record<VariableKind, z.ZodType<ArmSettings>> = {
  subject: text.transform((subject) => ({ subject })),
  preheader: text.transform((preheader) => ({ preheader })),
  template: namePattern(TEMPLATE_NAME, 'template name; expected a folder name under emails/ like exclusive_offer').transform((template) => ({ template })),
  block_order: z.array(blockName, { error: `expected a list of blocks (${BLOCK_NAMES.join(', ')})` }).min(1, 'expected at least one block')
    .refine((names) => new Set(names).size === names.length, 'a block is listed twice')
    .transform((blockOrder) => ({ blockOrder })),
  offer: z.union([z.literal('none'), offerSchema], { error: 'expected an offer mapping { headline, description, code, discount_percent, valid_for } or none' })
    .transform((offer) => ({ offer: offer === 'none' ? null : offer })),
  recommendations: z.enum(['co_viewed', 'popular', 'none'], { error: 'expected co_viewed, popular or none' }).transform((recommendations) => ({ recommendations })),
  send_delay: z.union([z.literal(0), durationSchema({ minMs: 0, maxMs: MAX_SEND_DELAY_MS })], { error: 'expected a duration like 0s, 30m or 2h (at most 7d)' })
    .transform((delay) => ({ sendDelayMs: delay === 0 ? 0 : delay.ms })),
};

const levelSchemas = Object.fromEntries(VARIABLE_KINDS.map((kind) => [kind, strictMapping({
  name: levelName,
  weight: levelWeight.optional(),
  // recommendations levels may leave value out: { name: popular } means value popular.
  value: kind === 'recommendations' ? levelValueSchemas[kind].optional() : levelValueSchemas[kind],
})])) as unknown as Record<VariableKind, z.ZodType<{ name: string; weight?: number; value?: ArmSettings }>>;

const variableKind = z.enum(VARIABLE_KINDS as [VariableKind, ...VariableKind[]], { error: `expected a variable kind: ${VARIABLE_KINDS.join(', ')}` });
const levelList = z.array(z.unknown(), { error: 'expected a list of levels' }).min(2, 'expected at least two levels to compare');

const experimentSchema = strictMapping({
  name: namePattern(CAMPAIGN_NAME, 'experiment name; expected lower_snake_case like subject_test'),
  holdout: holdoutSchema.optional(),
  key: z.enum(['customer', 'trigger'], { error: 'expected customer or trigger' }).optional(),
  variables: z.record(z.string(), z.unknown(), { error: 'required; expected a mapping of variable name to its levels' })
    .refine((variables) => Object.keys(variables).length > 0, 'expected at least one variable'),
  combinations: z.union([
    z.literal('all'),
    z.array(z.union([z.array(z.string()), z.string()]), { error: 'expected all or a list of arms' }).min(1, 'expected at least one arm'),
  ], { error: 'expected all or a list of arms like [[plain, co_viewed], [question, popular]]' }).optional(),
});

/** One variable: `<kind>: [levels]`, or `<name>: { kind, levels }`. */
function parseVariable(name: string, raw: unknown): ExperimentVariable {
  const base = `experiment.variables.${name}`;
  if (!CAMPAIGN_NAME.test(name)) throw new DefinitionProblem(base, 'is not a variable name; expected lower_snake_case like subject');
  let kind: VariableKind;
  let levelsRaw: unknown;
  if (isMapping(raw)) {
    const body = parseWithAt(strictMapping({ kind: variableKind, levels: levelList }), raw, base);
    kind = body.kind;
    levelsRaw = body.levels;
  } else {
    if (!(VARIABLE_KINDS as readonly string[]).includes(name)) {
      throw new DefinitionProblem(base, `is not a variable kind (${VARIABLE_KINDS.join(', ')}); name it after its kind, or write { kind: ..., levels: [...] }`);
    }
    kind = name as VariableKind;
    levelsRaw = parseWithAt(levelList, raw, base);
  }
  const levels = parseWithAt(z.array(levelSchemas[kind]), levelsRaw, kind === name && !isMapping(raw) ? base : `${base}.levels`);
  const seen = new Set<string>();
  return {
    name,
    kind,
    levels: levels.map((level, index) => {
      if (seen.has(level.name)) throw new DefinitionProblem(`${base}${isMapping(raw) ? '.levels' : ''}[${index}].name`, `duplicate level name ${show(level.name)}`);
      seen.add(level.name);
      const settings = level.value ?? (kind === 'recommendations' ? levelValueSchemas.recommendations.parse(level.name) : {});
      return { name: level.name, weight: level.weight ?? 1, settings };
    }),
  };
}

function parseExperiment(raw: unknown): CampaignExperiment {
  const body = parseWithAt(experimentSchema, raw, 'experiment');
  const variables = Object.entries(body.variables).map(([name, levels]) => parseVariable(name, levels));
  const kinds = new Map<VariableKind, string>();
  for (const variable of variables) {
    const other = kinds.get(variable.kind);
    // Two variables setting one thing would make an arm's email ambiguous.
    if (other !== undefined) throw new DefinitionProblem(`experiment.variables.${variable.name}`, `is a second ${variable.kind} variable (${other} is one); test each kind in one variable`);
    kinds.set(variable.kind, variable.name);
  }
  let combinations: string[][] | null = null;
  if (body.combinations !== undefined && body.combinations !== 'all') {
    const seen = new Set<string>();
    combinations = body.combinations.map((arm, index) => {
      const field = `experiment.combinations[${index}]`;
      const names = typeof arm === 'string' ? arm.split('+').map((part) => part.trim()) : arm;
      if (names.length !== variables.length) {
        throw new DefinitionProblem(field, `names ${names.length} level(s); expected one level per variable (${variables.map((v) => v.name).join(', ')}), in that order`);
      }
      names.forEach((level, position) => {
        const variable = variables[position];
        if (!variable.levels.some((candidate) => candidate.name === level)) {
          throw new DefinitionProblem(field, `${show(level)} is not a level of ${variable.name}; expected one of ${variable.levels.map((l) => l.name).join(', ')}`);
        }
      });
      const armName = names.join('+');
      if (seen.has(armName)) throw new DefinitionProblem(field, `duplicate arm ${show(armName)}`);
      seen.add(armName);
      return names;
    });
    if (combinations.length < 2) throw new DefinitionProblem('experiment.combinations', 'expected at least two arms to compare');
  }
  return { name: body.name, holdoutShare: body.holdout ?? 0, key: body.key ?? 'customer', variables, combinations, legacy: false };
}

/** A legacy `variants:` list as an experiment named "variants" with one variable "variant". */
function legacyExperiment(variants: Campaign['variants'], key: 'customer' | 'trigger'): CampaignExperiment {
  return {
    name: 'variants',
    holdoutShare: 0,
    key,
    variables: [{
      name: 'variant',
      kind: variants.some((variant) => variant.template !== null) ? 'template' : 'subject',
      levels: variants.map((variant) => ({
        name: variant.name,
        weight: variant.weight,
        settings: { ...(variant.template === null ? {} : { template: variant.template }), ...(variant.subject === null ? {} : { subject: variant.subject }) },
      })),
    }],
    combinations: null,
    legacy: true,
  };
}

const campaignSchema = strictMapping({
  name: z.string(),
  description: z.string().optional(),
  rules: z.array(namePattern(RULE_NAME, 'trigger rule name; expected like high_interest or segment:high_value_engaged'), {
    error: 'required; expected a list of trigger rule names',
  }).min(1, 'expected at least one trigger rule name'),
  eligibility: eligibilitySchema.optional(),
  priority: z.number({ error: 'required; expected a whole number (higher wins)' }).int('expected a whole number (higher wins)'),
  template: z.unknown().refine((raw) => typeof raw === 'string' && TEMPLATE_NAME.test(raw), {
    error: (issue) => issue.input === undefined
      ? 'required; expected a template name (a folder under emails/)'
      : `${show(issue.input)} is not a template name; expected a folder name under emails/ like exclusive_offer`,
  }) as unknown as z.ZodType<string>,
  variants: z.array(variantSchema, { error: 'expected a list of variants' }).min(1, 'expected at least one variant, or leave variants out').optional(),
  variant_key: z.enum(['customer', 'trigger'], { error: 'expected customer or trigger' }).optional(),
  caps: capsSchema.optional(),
  offer: offerSchema.optional(),
  experiment: z.unknown().optional(),
});

const defaultsSchema = strictMapping(capsShape);

/** Runs a schema on one campaign (or `defaults:`); a problem with the whole of it is reported at `(campaign)`. */
function parseWith<T>(schema: z.ZodType<T>, raw: unknown): T {
  return reportProblems(
    () => parseWithAt(schema, raw),
    (problem) => (problem.field === '' ? new DefinitionProblem('(campaign)', problem.problem) : problem),
  );
}

function parseRoot(fileName: string, source: string): Record<string, unknown> {
  const root = reportProblems(
    () => parseYaml(source),
    (problem) => new CampaignDefinitionError(`${fileName}: ${problem.message}`, fileName, null, null),
  );
  const unknownKeys = isMapping(root) ? Object.keys(root).filter((key) => key !== 'campaigns' && key !== 'defaults') : [];
  if (!isMapping(root) || !Array.isArray(root.campaigns) || unknownKeys.length > 0) {
    const message = `${fileName}: expected a top-level "campaigns:" list and an optional "defaults:" map, nothing else`;
    throw new CampaignDefinitionError(message, fileName, null, unknownKeys[0] ?? 'campaigns');
  }
  return root;
}

function mergeCaps(defaults: CampaignCaps, own: z.infer<typeof capsSchema> | undefined): CampaignCaps {
  return {
    cooldownMs: own?.cooldown ?? defaults.cooldownMs,
    frequencyCap: own?.frequency_cap ?? defaults.frequencyCap,
    quietHours: own?.quiet_hours === undefined ? defaults.quietHours : own.quiet_hours === false ? null : own.quiet_hours,
  };
}

function parseDefaults(fileName: string, raw: unknown): CampaignCaps {
  const body = reportProblems(
    () => parseWithAt(defaultsSchema, raw ?? {}, 'defaults'),
    (problem) => new CampaignDefinitionError(`${fileName}: ${problem.message}`, fileName, null, problem.field),
  );
  return mergeCaps(BUILT_IN_DEFAULTS, body);
}

function toCampaign(body: z.infer<typeof campaignSchema>, defaults: CampaignCaps): Campaign {
  const variantNames = new Set<string>();
  (body.variants ?? []).forEach((variant, index) => {
    if (variantNames.has(variant.name)) throw new DefinitionProblem(`variants[${index}].name`, `duplicate variant name ${show(variant.name)}`);
    variantNames.add(variant.name);
  });
  if (body.experiment !== undefined && body.variants !== undefined) {
    throw new DefinitionProblem('experiment', 'a campaign has either variants: or experiment:, not both; move the variants into the experiment as a variable');
  }
  if (body.experiment !== undefined && body.variant_key !== undefined) {
    throw new DefinitionProblem('variant_key', 'belongs to variants:; with experiment: use experiment.key');
  }
  const variants = (body.variants ?? []).map((variant) => ({
    name: variant.name,
    weight: variant.weight,
    template: variant.template ?? null,
    subject: variant.subject ?? null,
  }));
  const variantKey = body.variant_key ?? 'customer';
  const experiment = body.experiment !== undefined ? parseExperiment(body.experiment) : variants.length > 0 ? legacyExperiment(variants, variantKey) : null;
  const eligibility = body.eligibility ?? {};
  return {
    name: body.name,
    description: body.description ?? null,
    rules: [...new Set(body.rules)],
    eligibility: {
      allSegments: eligibility.all_segments ?? [],
      anySegments: eligibility.any_segments ?? [],
      noneSegments: eligibility.none_segments ?? [],
      profile: eligibility.profile ?? [],
    },
    priority: body.priority,
    template: body.template,
    variants,
    variantKey,
    caps: mergeCaps(defaults, body.caps),
    offer: body.offer ?? null,
    experiment,
  };
}

/** Parses and validates campaigns.yaml; throws CampaignDefinitionError naming file, campaign and field. */
export function parseCampaigns(fileName: string, source: string): Campaign[] {
  const root = parseRoot(fileName, source);
  const defaults = parseDefaults(fileName, root.defaults);
  const seen = new Set<string>();
  return (root.campaigns as unknown[]).map((raw, index) => {
    const name = isMapping(raw) ? raw.name : undefined;
    const validName = typeof name === 'string' && CAMPAIGN_NAME.test(name) ? name : null;
    const label = validName === null ? `campaigns[${index}]` : `campaign "${validName}"`;
    const fail = (field: string, problem: string): never => {
      throw new CampaignDefinitionError(`${fileName}: ${label}: ${field}: ${problem}`, fileName, validName, field);
    };
    if (validName === null) return fail('name', `${show(isMapping(raw) ? name : raw)} is not a campaign name; expected lower_snake_case like exclusive_offer`);
    if (seen.has(validName)) return fail('name', 'duplicate campaign name; each name must be unique in the file');
    seen.add(validName);
    return reportProblems(() => toCampaign(parseWith(campaignSchema, raw), defaults), (problem) => fail(problem.field, problem.problem));
  });
}

/** Every template name a campaign can render (its own and its experiment's), for start-up checks. */
export function campaignTemplateNames(campaign: Campaign): string[] {
  const levels = campaign.experiment?.variables.flatMap((variable) => variable.levels) ?? [];
  return [...new Set([campaign.template, ...levels.flatMap((level) => (level.settings.template === undefined ? [] : [level.settings.template]))])];
}

/** The id under which a variant's subject override is compiled and rendered. */
export function variantSubjectId(campaign: string, variant: string): string {
  return `${campaign}/${variant}`;
}

/**
 * Every subject and preheader override of the campaigns' experiments (legacy variants
 * included), for compileTemplates({ subjects }): both are one-line texts compiled alike.
 */
export function variantSubjects(campaigns: readonly Campaign[]): Array<{ id: string; text: string }> {
  return campaigns.flatMap((campaign) => {
    const experiment = campaign.experiment;
    if (experiment === null) return [];
    return experiment.variables.flatMap((variable) => variable.levels.flatMap((level) => {
      const line = level.settings.subject ?? level.settings.preheader;
      return line === undefined ? [] : [{ id: overrideId(campaign.name, experiment, variable.name, level.name), text: line }];
    }));
  });
}

/** Throws naming the campaign (and variant) whose template is not among `templateNames`. */
export function validateCampaignTemplates(campaigns: readonly Campaign[], templateNames: Iterable<string>): void {
  const known = new Set(templateNames);
  const list = [...known].sort().join(', ') || '(none)';
  for (const campaign of campaigns) {
    if (!known.has(campaign.template)) {
      const message = `campaign "${campaign.name}": template "${campaign.template}" does not exist; known templates: ${list}`;
      throw new CampaignDefinitionError(message, '', campaign.name, 'template');
    }
    campaign.variants.forEach((variant, index) => {
      if (variant.template !== null && !known.has(variant.template)) {
        const message = `campaign "${campaign.name}": variant "${variant.name}": template "${variant.template}" does not exist; known templates: ${list}`;
        throw new CampaignDefinitionError(message, '', campaign.name, `variants[${index}].template`);
      }
    });
    if (campaign.experiment === null || campaign.experiment.legacy) continue;
    for (const variable of campaign.experiment.variables) {
      variable.levels.forEach((level, index) => {
        const template = level.settings.template;
        if (template !== undefined && !known.has(template)) {
          const message = `campaign "${campaign.name}": experiment variable "${variable.name}" level "${level.name}": template "${template}" does not exist; known templates: ${list}`;
          throw new CampaignDefinitionError(message, '', campaign.name, `experiment.variables.${variable.name}[${index}].value`);
        }
      });
    }
  }
}

/**
 * Throws naming the campaign whose block_order lists a block that is not a partial of the
 * template set (HTML and text), so a missing block fails start-up, not a send.
 */
export function validateCampaignBlocks(campaigns: readonly Campaign[], partialNames: Iterable<string>): void {
  const known = new Set(partialNames);
  for (const campaign of campaigns) {
    for (const variable of campaign.experiment?.variables ?? []) {
      variable.levels.forEach((level, index) => {
        const missing = (level.settings.blockOrder ?? []).filter((name) => !known.has(name));
        if (missing.length > 0) {
          const message = `campaign "${campaign.name}": experiment variable "${variable.name}" level "${level.name}": block ${missing.join(', ')} has no partial (partials/<name>.hbs and <name>.text.hbs)`;
          throw new CampaignDefinitionError(message, '', campaign.name, `experiment.variables.${variable.name}[${index}].value`);
        }
      });
    }
  }
}
