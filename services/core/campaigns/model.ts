/** The validated, normalized shape of campaigns.yaml that campaign choice works on. */

export const PROFILE_CONDITION_OPS = ['eq', 'neq', 'in', 'not_in', 'exists', 'not_exists'] as const;
export type ProfileConditionOp = (typeof PROFILE_CONDITION_OPS)[number];

/** A profile test; values compare as text, case-insensitively (country "de" equals "DE"). */
export interface ProfileCondition {
  field: string;
  op: ProfileConditionOp;
  values: string[];
}

export interface Eligibility {
  /** The customer is in every one of these segments. */
  allSegments: string[];
  /** ...and in at least one of these (when the list is not empty). */
  anySegments: string[];
  /** ...and in none of these. */
  noneSegments: string[];
  profile: ProfileCondition[];
}

/** One arm of an A/B test; `template` and `subject` override the campaign's when set. */
export interface Variant {
  name: string;
  weight: number;
  template: string | null;
  /** A Handlebars subject line that replaces the template's subject.hbs. */
  subject: string | null;
}

export interface FrequencyCap {
  max: number;
  perMs: number;
}

/** Local wall-clock window in the customer's time zone; may wrap midnight (21:00 -> 08:00). */
export interface QuietHours {
  start: string;
  end: string;
  /** Minutes after local midnight. */
  startMinute: number;
  endMinute: number;
}

export interface CampaignCaps {
  /** No second send of this campaign to the same customer sooner than this; null = none. */
  cooldownMs: number | null;
  /** Counts every marketing send to the customer, not just this campaign's. */
  frequencyCap: FrequencyCap;
  /** null = the campaign may send at any local time. */
  quietHours: QuietHours | null;
}

/** Offer copy for the `offer` partial; `validForMs` makes an expiry date relative to the send. */
export interface Offer {
  headline: string;
  description: string | null;
  code: string | null;
  discountPercent: number | null;
  validForMs: number | null;
}

/** What an experiment variable can change in an email. */
export type VariableKind = 'subject' | 'preheader' | 'template' | 'block_order' | 'offer' | 'recommendations' | 'send_delay';
export const VARIABLE_KINDS: readonly VariableKind[] = ['subject', 'preheader', 'template', 'block_order', 'offer', 'recommendations', 'send_delay'];

export type RecommendationStrategy = 'co_viewed' | 'popular' | 'none';

/**
 * What one level of a variable sets; an arm's settings are its levels' merged. Absent = the
 * campaign's own (template, offer, ...). A legacy variant may set template and subject at once.
 */
export interface ArmSettings {
  /** A Handlebars subject line replacing the template's subject.hbs. */
  subject?: string;
  /** A Handlebars preheader replacing the template's preheader.hbs. */
  preheader?: string;
  template?: string;
  /** Partial names the template's middle section renders, in this order. */
  blockOrder?: string[];
  /** null = no offer block for this arm. */
  offer?: Offer | null;
  recommendations?: RecommendationStrategy;
  sendDelayMs?: number;
}

export interface ExperimentLevel {
  name: string;
  /** Relative, > 0; an arm's weight is the product of its levels'. */
  weight: number;
  settings: ArmSettings;
}

export interface ExperimentVariable {
  name: string;
  kind: VariableKind;
  levels: ExperimentLevel[];
}

/** The `experiment:` block of a campaign (or its legacy `variants:` list), validated. */
export interface CampaignExperiment {
  /** lower_snake_case; a legacy `variants:` list is named "variants". */
  name: string;
  /** Share of customers who get no email, in [0, 1). */
  holdoutShare: number;
  key: 'customer' | 'trigger';
  variables: ExperimentVariable[];
  /** The arms as level names, one per variable in file order; null = every combination. */
  combinations: string[][] | null;
  /** From `variants:`: subject override ids keep their old form (campaign/variant). */
  legacy: boolean;
}

export interface Campaign {
  name: string;
  description: string | null;
  /** Trigger rule names this campaign answers (`high_interest`, `segment:high_value_engaged`). */
  rules: string[];
  eligibility: Eligibility;
  /** Higher wins when several campaigns fit one trigger; ties go to the smaller name. */
  priority: number;
  template: string;
  variants: Variant[];
  /** What the variant hash is keyed on: the customer (sticky arm) or the trigger. */
  variantKey: 'customer' | 'trigger';
  /** Defaults already merged in. */
  caps: CampaignCaps;
  offer: Offer | null;
  /** The experiment (from `experiment:` or mapped from `variants:`), or null. */
  experiment: CampaignExperiment | null;
}
