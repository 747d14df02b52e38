/**
 * campaigns.yaml: text -> validated Campaign objects with the defaults merged in.
 * Pure: the caller reads the file, so start-up errors can name the file, the campaign and the
 * exact field that is wrong, and say what was expected.
 */
import { z } from 'zod';
import { DefinitionProblem, durationSchema, HOUR_MS, isMapping, parseWith as parseWithAt, parseYaml, reportProblems, show, strictMapping } from '../definitions';
import {
  PROFILE_CONDITION_OPS,
  type Campaign,
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
const text = z.string({ error: 'expected text' }).min(1, 'expected non-empty text');

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
    variants: (body.variants ?? []).map((variant) => ({
      name: variant.name,
      weight: variant.weight,
      template: variant.template ?? null,
      subject: variant.subject ?? null,
    })),
    variantKey: body.variant_key ?? 'customer',
    caps: mergeCaps(defaults, body.caps),
    offer: body.offer ?? null,
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

/** Every template name a campaign can render (its own and its variants'), for start-up checks. */
export function campaignTemplateNames(campaign: Campaign): string[] {
  return [...new Set([campaign.template, ...campaign.variants.flatMap((variant) => (variant.template === null ? [] : [variant.template]))])];
}

/** The id under which a variant's subject override is compiled and rendered. */
export function variantSubjectId(campaign: string, variant: string): string {
  return `${campaign}/${variant}`;
}

/** Every variant subject override, for compileTemplates({ subjects }). */
export function variantSubjects(campaigns: readonly Campaign[]): Array<{ id: string; text: string }> {
  return campaigns.flatMap((campaign) =>
    campaign.variants.flatMap((variant) => (variant.subject === null ? [] : [{ id: variantSubjectId(campaign.name, variant.name), text: variant.subject }])),
  );
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
  }
}
