/**
 * The records of the design's contracts, as the services see them after Avro decoding.
 * Field names match the `.avsc` files in `schemas/` exactly; timestamps are epoch milliseconds.
 * This module is pure: it imports no client library and does no I/O.
 */
import { controlCharacter, mapKeyName, RECORD_LIMITS } from './limits';

/** Event types the pipeline understands; any other type is counted and ignored. */
export const KNOWN_EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
  'email_open',
  'email_click',
  'unsubscribe',
  // A customer took back their unsubscribe on the tracker's preferences page (docs/operations.md, "Tracker").
  'resubscribe',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

const KNOWN_EVENT_TYPE_SET: ReadonlySet<string> = new Set(KNOWN_EVENT_TYPES);

export function isKnownEventType(type: string): type is KnownEventType {
  // A set: a decoded type is a fresh string, which an array would compare character by character with each known type.
  return KNOWN_EVENT_TYPE_SET.has(type);
}

export interface BehaviorEvent {
  event_id: string;
  customer_id: string;
  type: string;
  /** Event time, epoch milliseconds. */
  occurred_at: number;
  product_id: string | null;
  category: string | null;
  quantity: number | null;
  /** Money in minor units. */
  value_cents: number | null;
  currency: string | null;
  order_id: string | null;
  campaign_id: string | null;
  message_id: string | null;
  properties: Record<string, string>;
}

export interface CustomerProfile {
  customer_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  locale: string | null;
  timezone: string | null;
  country: string | null;
  consent_email: boolean;
  attributes: Record<string, string>;
  updated_at: number;
}

export interface TriggerFired {
  /** Deterministic: the same firing always gets the same id. */
  trigger_id: string;
  rule: string;
  customer_id: string;
  fired_at: number;
  cause_event_id: string | null;
  context: Record<string, string>;
}

export type SegmentChangeKind = 'entered' | 'exited';

export interface SegmentChange {
  customer_id: string;
  segment: string;
  change: SegmentChangeKind;
  at: number;
  reason: string | null;
}

export type EmailStatus = 'sent' | 'suppressed' | 'skipped' | 'deferred' | 'failed';

export interface EmailOutcome {
  trigger_id: string;
  customer_id: string;
  campaign: string | null;
  variant: string | null;
  status: EmailStatus;
  ses_message_id: string | null;
  reason: string | null;
  at: number;
  /** The experiment id (`<campaign>.<experiment>.<8 hex>`) when the campaign runs one. */
  experiment: string | null;
  /** The experiment's holdout: no email; status skipped, reason `holdout: ...`, at = when it would have gone. */
  holdout: boolean;
  /** Experiment variable name -> the arm's level name; {} for the holdout and without an experiment. */
  variables: Record<string, string>;
  /** The customer's segments when the decision was made. */
  segments: string[];
  /** The trigger's rule. */
  rule: string | null;
}

/** A BehaviorEvent with every optional field defaulted, for producers and tests. */
export function behaviorEvent(
  fields: Pick<BehaviorEvent, 'event_id' | 'customer_id' | 'type' | 'occurred_at'> & Partial<BehaviorEvent>,
): BehaviorEvent {
  return {
    product_id: null,
    category: null,
    quantity: null,
    value_cents: null,
    currency: null,
    order_id: null,
    campaign_id: null,
    message_id: null,
    properties: {},
    ...fields,
  };
}

/** A CustomerProfile with every optional field defaulted, for producers and tests. */
export function customerProfile(
  fields: Pick<CustomerProfile, 'customer_id' | 'updated_at'> & Partial<CustomerProfile>,
): CustomerProfile {
  return {
    email: null,
    first_name: null,
    last_name: null,
    locale: null,
    timezone: null,
    country: null,
    consent_email: false,
    attributes: {},
    ...fields,
  };
}

/**
 * Why a decoded event cannot be processed although it matched its schema ("schema-valid but
 * impossible"), or null when it is fine. The consumer runner sends such records to the DLQ.
 * Sizes and ranges are checked before, by behaviorEventLimitProblem (core/limits.ts). Reasons
 * name fields, never their values.
 */
export function behaviorEventProblem(event: BehaviorEvent): string | null {
  if (event.event_id.trim() === '') return 'event_id is empty';
  if (event.customer_id.trim() === '') return 'customer_id is empty';
  if (event.type.trim() === '') return 'type is empty';
  if (!Number.isSafeInteger(event.occurred_at) || event.occurred_at <= 0) {
    return `occurred_at ${event.occurred_at} is not a positive epoch-millisecond time`;
  }
  if (event.currency !== null && !/^[A-Z]{3}$/.test(event.currency)) return 'currency is not an ISO 4217 code (three letters A-Z, e.g. EUR)';
  return textProblem(event, BEHAVIOR_EVENT_TEXT_FIELDS) ?? mapTextProblem('properties', event.properties);
}

// The fields textProblem checks, listed once: the checks run for every record consumed.
const BEHAVIOR_EVENT_TEXT_FIELDS: readonly string[] = Object.keys(RECORD_LIMITS.BehaviorEvent.text);
const CUSTOMER_PROFILE_TEXT_FIELDS: readonly string[] = Object.keys(RECORD_LIMITS.CustomerProfile.text).filter((field) => field !== 'email');

/** Like behaviorEventProblem, for profiles. */
export function customerProfileProblem(profile: CustomerProfile): string | null {
  if (profile.customer_id.trim() === '') return 'customer_id is empty';
  if (!Number.isSafeInteger(profile.updated_at) || profile.updated_at <= 0) {
    return `updated_at ${profile.updated_at} is not a positive epoch-millisecond time`;
  }
  // The address is left to the renderer (CUSTOMER_PROFILE_TEXT_FIELDS leaves it out): a malformed
  // one (control characters included) suppresses the customer's email with invalid_address, while
  // the profile still feeds segments.
  return textProblem(profile, CUSTOMER_PROFILE_TEXT_FIELDS) ?? mapTextProblem('attributes', profile.attributes);
}

/** The first of `fields` holding a control character (ids, names, codes are one line of text). */
function textProblem(record: object, fields: readonly string[]): string | null {
  for (const field of fields) {
    const value = (record as Record<string, unknown>)[field];
    const control = typeof value === 'string' ? controlCharacter(value) : null;
    if (control !== null) return `${field} contains the control character ${control}`;
  }
  return null;
}

/** Map keys take no control character; values may hold tabs and line breaks, no other. */
function mapTextProblem(field: string, map: Record<string, string>): string | null {
  let index = -1;
  // for...in over own keys (Object.keys' order): no list of the keys per record.
  for (const key in map) {
    if (!Object.hasOwn(map, key)) continue;
    index += 1;
    const inKey = controlCharacter(key);
    if (inKey !== null) return `${field} key #${index + 1} contains the control character ${inKey}`;
    const inValue = controlCharacter(map[key], true);
    if (inValue !== null) return `${field} value of ${mapKeyName(key, index)} contains the control character ${inValue}`;
  }
  return null;
}
