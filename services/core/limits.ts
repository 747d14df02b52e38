/**
 * The limits of the input records at the edge: every string, map and number of a BehaviorEvent
 * or CustomerProfile, and the record as a whole. One table (RECORD_LIMITS), used by the
 * consuming services (kit/inputs.ts: over the limit is dead-lettered as `over-limit`), by the
 * produce tool (refused before anything is sent), and quoted in docs/producers.md ("Limits").
 *
 * Lengths are in characters, i.e. Unicode code points (what Python's len() counts; JavaScript
 * and Java count UTF-16 units, which is never fewer); the record bound is in bytes as it
 * travels. The reasons these functions give name the field, its size and the limit, never the
 * value: they end up in DLQ headers and log lines, which carry no customer data.
 * Pure: no I/O.
 */
import type { BehaviorEvent, CustomerProfile } from './types';

/** Text fields of a record type, with their most characters. */
type TextLimits<T> = Partial<Record<{ [K in keyof T]: T[K] extends string | null ? K : never }[keyof T], number>>;

/** Integer fields of a record type, with their range. */
type IntegerLimits<T> = Partial<Record<{ [K in keyof T]: T[K] extends number | null ? K : never }[keyof T], { min: number; max: number }>>;

/** A `map<string>` field: most entries, most characters per key and per value. */
interface MapLimits {
  entries: number;
  keyChars: number;
  valueChars: number;
}

const ID = 128;
const MAP: MapLimits = { entries: 50, keyChars: 64, valueChars: 1024 };

export const RECORD_LIMITS = {
  /** The record value as produced (5-byte Confluent header + Avro body); larger ones are dead-lettered. */
  recordBytes: 64 * 1024,
  /**
   * Beyond this a service refuses a record without decoding it. Kafka's default
   * message.max.bytes (1 MiB + 12) keeps larger ones off the broker already; this holds on a
   * cluster configured otherwise.
   */
  decodeBytes: 1024 * 1024,
  BehaviorEvent: {
    text: {
      event_id: ID,
      customer_id: ID,
      type: 64,
      product_id: ID,
      category: 256,
      currency: 3,
      order_id: ID,
      campaign_id: ID,
      message_id: ID,
    } satisfies TextLimits<BehaviorEvent>,
    integers: {
      quantity: { min: 0, max: 1_000_000 },
      // Minor units: 10^11 cents is one billion euros. No event type carries a negative
      // amount (there is no refund type); a future one would get its own field or limit.
      value_cents: { min: 0, max: 100_000_000_000 },
    } satisfies IntegerLimits<BehaviorEvent>,
    maps: { properties: MAP },
  },
  CustomerProfile: {
    text: {
      customer_id: ID,
      // RFC 5321's 256-octet path less its angle brackets; whether it is one mailbox is decided when sending.
      email: 254,
      first_name: 256,
      last_name: 256,
      // RFC 5646 asks implementations to accept language tags of at least 35 characters.
      locale: 35,
      timezone: 64,
      country: 3,
    } satisfies TextLimits<CustomerProfile>,
    integers: {} satisfies IntegerLimits<CustomerProfile>,
    maps: { attributes: MAP },
  },
} as const;

interface RecordLimits<T> {
  text: TextLimits<T>;
  integers: IntegerLimits<T>;
  maps: Partial<Record<keyof T, MapLimits>>;
}

/** A record type's limits as lists, built once at load: the checks run for every record consumed. */
interface LimitLists {
  text: Array<[string, number]>;
  integers: Array<[string, { min: number; max: number }]>;
  maps: Array<[string, MapLimits]>;
}

function listsOf<T>(limits: RecordLimits<T>): LimitLists {
  return {
    text: Object.entries(limits.text) as Array<[string, number]>,
    integers: Object.entries(limits.integers) as Array<[string, { min: number; max: number }]>,
    maps: Object.entries(limits.maps) as Array<[string, MapLimits]>,
  };
}

const BEHAVIOR_EVENT_LISTS = listsOf<BehaviorEvent>(RECORD_LIMITS.BehaviorEvent);
const CUSTOMER_PROFILE_LISTS = listsOf<CustomerProfile>(RECORD_LIMITS.CustomerProfile);

/** Why `event` exceeds a limit (naming the field, its size and the limit), or null. */
export function behaviorEventLimitProblem(event: BehaviorEvent): string | null {
  return limitProblem(event, BEHAVIOR_EVENT_LISTS);
}

/** Why `profile` exceeds a limit (naming the field, its size and the limit), or null. */
export function customerProfileLimitProblem(profile: CustomerProfile): string | null {
  return limitProblem(profile, CUSTOMER_PROFILE_LISTS);
}

/** Why a record of `bytes` bytes (Confluent header included) is too large, or null. */
export function recordBytesProblem(bytes: number): string | null {
  if (bytes <= RECORD_LIMITS.recordBytes) return null;
  return `record is ${bytes} bytes; at most ${RECORD_LIMITS.recordBytes}`;
}

/** Why a record key (the customer_id, or a tombstone's only id) is too long, or null. */
export function recordKeyProblem(key: string, name = 'record key'): string | null {
  const size = characters(key, ID);
  return size > ID ? `${name} is ${size} characters; at most ${ID}` : null;
}

function limitProblem(record: object, lists: LimitLists): string | null {
  const fields = record as Record<string, unknown>;
  // Indexed loops: these run for every record consumed.
  for (let i = 0; i < lists.text.length; i++) {
    const field = lists.text[i][0];
    const max = lists.text[i][1];
    const value = fields[field];
    if (typeof value !== 'string') continue;
    const size = characters(value, max);
    if (size > max) return `${field} is ${size} characters; at most ${max}`;
  }
  for (let i = 0; i < lists.integers.length; i++) {
    const field = lists.integers[i][0];
    const range = lists.integers[i][1];
    const value = fields[field];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `${field} is not an integer; it must be ${range.min} to ${range.max}`;
    if (value < range.min) return `${field} is below ${range.min}; it must be ${range.min} to ${range.max}`;
    if (value > range.max) return `${field} is above ${range.max}; it must be ${range.min} to ${range.max}`;
  }
  for (let i = 0; i < lists.maps.length; i++) {
    const field = lists.maps[i][0];
    const map = lists.maps[i][1];
    const value = fields[field];
    if (typeof value !== 'object' || value === null) continue;
    const problem = mapProblem(field, value as Record<string, unknown>, map);
    if (problem) return problem;
  }
  return null;
}

function mapProblem(field: string, map: Record<string, unknown>, limits: MapLimits): string | null {
  // for...in over own keys, in Object.keys' order: no list of the keys per record.
  let entries = 0;
  for (const key in map) if (Object.hasOwn(map, key)) entries += 1;
  if (entries > limits.entries) return `${field} has ${entries} entries; at most ${limits.entries}`;
  let index = -1;
  for (const key in map) {
    if (!Object.hasOwn(map, key)) continue;
    index += 1;
    const keySize = characters(key, limits.keyChars);
    if (keySize > limits.keyChars) return `${field} key #${index + 1} is ${keySize} characters; at most ${limits.keyChars}`;
    const value = map[key];
    if (typeof value !== 'string') continue;
    const size = characters(value, limits.valueChars);
    if (size > limits.valueChars) return `${field} value of ${mapKeyName(key, index)} is ${size} characters; at most ${limits.valueChars}`;
  }
  return null;
}

/**
 * How a reason names a map key: by name when it looks like a field name (`properties value of
 * key "coupon"`), else by position, so that a key which is itself customer data stays out.
 */
export function mapKeyName(key: string, index: number): string {
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(key) ? `key "${key}"` : `key #${index + 1}`;
}

/** The number of code points in `text` (`max` lets a short text skip the count). */
function characters(text: string, max: number): number {
  // UTF-16 units are at least the code points, and at most twice as many.
  if (text.length <= max) return text.length;
  let count = 0;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i += 1;
    }
    count += 1;
  }
  return count;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- as above, tab, line feed and carriage return excepted
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * The first control character in `text` (Unicode category Cc: U+0000-U+001F, U+007F-U+009F)
 * as `U+000D`, or null. `allowWhitespace` lets tab, line feed and carriage return through
 * (free-text map values).
 */
export function controlCharacter(text: string, allowWhitespace = false): string | null {
  const found = (allowWhitespace ? CONTROL_BUT_WHITESPACE : CONTROL).exec(text);
  return found === null ? null : codeUnitName(found[0].charCodeAt(0));
}

/** A UTF-16 code unit as messages name it: `U+000D`. */
export function codeUnitName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}
