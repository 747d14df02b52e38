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
}
