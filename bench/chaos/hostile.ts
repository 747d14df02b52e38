/**
 * Hostile input records for the chaos suite (issue 14): bytes a broken or malicious producer
 * could put on behavior.events and customer.profiles, each labelled with what the services
 * do with it (docs/chaos.md, "Hostile records"; docs/producers.md, "What happens to a bad
 * record"). Pure: no I/O; the same seed, count and context give the same records.
 *
 * Records with valid framing and hostile content are encoded with the project's own schemas
 * (services/kit/codec.ts: recordTypes), so they really decode and reach the checks after
 * decoding (limits, validation, event time).
 *
 * `reason` is the `kairos.dlq.reason` header the consumer runner writes (services/kit/poison.ts:
 * PoisonReason); `detail` a substring of its `__connect.errors.exception.message` header.
 *
 * huge_string records carry a 1 MB string (1,000,000 characters): they come at a quarter of the
 * other categories' rate, and the records of one variant share one value Buffer (their keys
 * differ), so 10,000 hostile records hold a few MB, not hundreds. Kafka's limit
 * (message.max.bytes, 1,048,588 by default) applies to a record batch: produce each of them in
 * a send of its own.
 */
import type { Type } from 'avsc';
import { recordTypes } from '../../services/kit/codec';
import { seededRandom } from '../../services/tools/synthetic';
import { behaviorEvent, customerProfile, type BehaviorEvent, type CustomerProfile } from '../../services/core/types';

export type HostileCategory =
  | 'random_bytes'
  | 'wrong_magic'
  | 'unknown_schema_id'
  | 'truncated_avro'
  | 'huge_string'
  | 'negative_numbers'
  | 'timestamp_1970'
  | 'timestamp_3000'
  | 'unknown_event_type'
  | 'html_script'
  | 'odd_customer_id'
  | 'long_customer_id';

export interface HostileRecord {
  category: HostileCategory;
  /** behavior.events or customer.profiles (logical names; the harness maps them to real topics). */
  topic: 'events' | 'profiles';
  key: Buffer | null;
  /** The exact bytes to produce (Confluent framing: magic 0 + 4-byte schema id + Avro), built with the real schemas; null: a tombstone. */
  value: Buffer | null;
  /** When the record names a customer (its key as text). */
  customerId?: string;
  /** What the documented handling is. */
  expect: 'dlq' | 'accepted';
  /** For 'dlq': the `kairos.dlq.reason` header every consuming service writes (so a substring of it). */
  reason?: string;
  /** For 'dlq': a substring of the `__connect.errors.exception.message` header. */
  detail?: string;
}

export interface HostileContext {
  eventsSchemaId: number;
  profilesSchemaId: number;
  now: number;
  /** Valid customers of the run; some hostile records target them. */
  customerIds: readonly string[];
}

export const HOSTILE_CATEGORIES: readonly HostileCategory[] = [
  'random_bytes',
  'wrong_magic',
  'unknown_schema_id',
  'truncated_avro',
  'huge_string',
  'negative_numbers',
  'timestamp_1970',
  'timestamp_3000',
  'unknown_event_type',
  'html_script',
  'odd_customer_id',
  'long_customer_id',
];

/** Relative rate of each category after the first of each (huge_string is 1 MB a record). */
const WEIGHT: Record<HostileCategory, number> = {
  random_bytes: 4,
  wrong_magic: 4,
  unknown_schema_id: 4,
  truncated_avro: 4,
  huge_string: 1,
  negative_numbers: 4,
  timestamp_1970: 4,
  timestamp_3000: 4,
  unknown_event_type: 4,
  html_script: 4,
  odd_customer_id: 4,
  long_customer_id: 4,
};

/** The length of a huge string: 1 MB of ASCII, a record still under Kafka's 1 MiB default. */
export const HUGE_STRING_CHARS = 1_000_000;
/** The length of a long customer id: 10 KB. */
export const LONG_ID_CHARS = 10_240;

const YEAR_3000 = Date.UTC(3000, 0, 1);
const DAY = 86_400_000;

/** Strings a template or a log viewer must not execute; no control characters (those are 'invalid' on their own). */
export const HTML_PAYLOADS: readonly string[] = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg/onload=alert(1)>",
  '</title><script>document.cookie</script>',
  '{{7*7}}{{{raw}}}',
  'javascript:alert(1)',
  '<a href="javascript:alert(1)">click</a>',
  '<iframe src=//evil.example></iframe>',
  '&lt;b&gt;already escaped&lt;/b&gt; & <b>bold</b>',
  '<style>body{display:none}</style>',
];

/** Customer ids a key scheme, a glob or a hash tag could trip over; accepted unless `invalid`. */
const ODD_IDS: ReadonlyArray<{ id: string; invalid?: string }> = [
  { id: 'c{1}' },
  { id: '{hashtag}' },
  { id: '}{' },
  { id: 'a:b:c' },
  { id: ':' },
  { id: '*' },
  { id: 'cust*' },
  { id: 'c:*:{x}' },
  { id: '[a-z]?\\' },
  { id: 'line\nbreak', invalid: 'customer_id contains the control character U+000A' },
  { id: 'carriage\rreturn', invalid: 'customer_id contains the control character U+000D' },
  { id: 'tab\there', invalid: 'customer_id contains the control character U+0009' },
  { id: 'nul\u0000byte', invalid: 'customer_id contains the control character U+0000' },
  { id: '   ', invalid: 'customer_id is empty' },
];

/** Event types no service knows; some are names an object lookup would trip over. */
const UNKNOWN_TYPES: readonly string[] = ['refund', 'teleport', 'PURCHASE', 'page-view', 'add_to_cart ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '💥', '<script>alert(1)</script>'];

let types: { BehaviorEvent: Type; CustomerProfile: Type } | null = null;
function avroTypes(): { BehaviorEvent: Type; CustomerProfile: Type } {
  types ??= recordTypes();
  return types;
}

/** Confluent wire format: magic byte, big-endian schema id, Avro body. */
function framed(magic: number, schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(magic, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

function avroBody(type: Type, value: unknown): Buffer {
  const problems: string[] = [];
  if (!type.isValid(value, { errorHook: (path) => problems.push(path.join('.')) })) {
    throw new Error(`hostile record does not match ${type.name ?? 'its schema'} at ${problems.join(', ')}; the generator is wrong`);
  }
  return type.toBuffer(value);
}

const event = behaviorEvent;
const profile = customerProfile;

/** Value Buffers of huge_string records, one per variant, schema id and `now` (see the module's doc). */
const hugeValues = new Map<string, Buffer>();

interface Builder {
  random: () => number;
  context: HostileContext;
  seed: number;
  index: number;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function int(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A customer of the run when there are any (hostile records aimed at real customers), else one of our own. */
function target(b: Builder): string {
  return b.context.customerIds.length > 0 ? pick(b.random, b.context.customerIds) : ownCustomer(b, 'target');
}

function ownCustomer(b: Builder, what: string): string {
  return `hostile-${what}-${b.seed}-${b.index}`;
}

function eventId(b: Builder, what: string): string {
  return `hostile-${what}-${b.seed}-${b.index}`;
}

/** A valid event of `customer` at a recent time, to be spoilt by the caller. */
function plainEvent(b: Builder, customer: string, what: string): BehaviorEvent {
  return event({
    event_id: eventId(b, what),
    customer_id: customer,
    type: pick(b.random, ['page_view', 'product_view', 'add_to_cart']),
    occurred_at: b.context.now - int(b.random, 60_000, 3_600_000),
    product_id: `sku-${int(b.random, 1, 50)}`,
  });
}

function eventBytes(b: Builder, value: BehaviorEvent): Buffer {
  return framed(0, b.context.eventsSchemaId, avroBody(avroTypes().BehaviorEvent, value));
}

function profileBytes(b: Builder, value: CustomerProfile): Buffer {
  return framed(0, b.context.profilesSchemaId, avroBody(avroTypes().CustomerProfile, value));
}

/** A decodable record of either topic, for the framing categories to spoil. */
function someRecord(b: Builder, what: string): { topic: 'events' | 'profiles'; customer: string; body: Buffer; schemaId: number } {
  const customer = target(b);
  if (b.random() < 0.7) {
    return { topic: 'events', customer, body: avroBody(avroTypes().BehaviorEvent, plainEvent(b, customer, what)), schemaId: b.context.eventsSchemaId };
  }
  const body = avroBody(avroTypes().CustomerProfile, profile({ customer_id: customer, updated_at: b.context.now - int(b.random, 60_000, DAY) }));
  return { topic: 'profiles', customer, body, schemaId: b.context.profilesSchemaId };
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');

const BUILDERS: Record<HostileCategory, (b: Builder) => HostileRecord> = {
  random_bytes(b) {
    const length = int(b.random, 1, 256);
    const value = Buffer.alloc(length);
    for (let i = 0; i < length; i += 1) value[i] = int(b.random, 0, 255);
    // Not magic 0: a random schema id could be a real one and make the label a guess.
    value[0] = int(b.random, 1, 255);
    const customer = target(b);
    return {
      category: 'random_bytes',
      topic: b.random() < 0.5 ? 'events' : 'profiles',
      key: utf8(customer),
      value,
      customerId: customer,
      expect: 'dlq',
      reason: 'wire-format',
      detail: length < 5 ? 'shorter than the 5-byte Confluent header' : `magic byte is ${value[0]}, expected 0`,
    };
  },

  wrong_magic(b) {
    const record = someRecord(b, 'magic');
    const magic = int(b.random, 1, 255);
    return {
      category: 'wrong_magic',
      topic: record.topic,
      key: utf8(record.customer),
      value: framed(magic, record.schemaId, record.body),
      customerId: record.customer,
      expect: 'dlq',
      reason: 'wire-format',
      detail: `magic byte is ${magic}, expected 0`,
    };
  },

  unknown_schema_id(b) {
    const record = someRecord(b, 'schema');
    // Registries number schemas from 1 upwards: these are never handed out.
    const schemaId = b.random() < 0.7 ? int(b.random, 1_500_000_000, 2_147_483_647) : -int(b.random, 1, 2_147_483_648);
    return {
      category: 'unknown_schema_id',
      topic: record.topic,
      key: utf8(record.customer),
      value: framed(0, schemaId, record.body),
      customerId: record.customer,
      expect: 'dlq',
      reason: 'unknown-schema-id',
      detail: `schema id ${schemaId} is not in the registry`,
    };
  },

  truncated_avro(b) {
    const record = someRecord(b, 'truncated');
    // Avro is prefix-free: a record's body decodes only whole, so any shorter prefix fails.
    const cut = int(b.random, 0, record.body.length - 1);
    return {
      category: 'truncated_avro',
      topic: record.topic,
      key: utf8(record.customer),
      value: framed(0, record.schemaId, record.body.subarray(0, cut)),
      customerId: record.customer,
      expect: 'dlq',
      reason: 'undecodable',
      detail: `does not decode with writer schema id ${record.schemaId}`,
    };
  },

  huge_string(b) {
    const variants = ['events.category', 'events.properties', 'profiles.first_name', 'profiles.attributes'] as const;
    const variant = pick(b.random, variants);
    const topic = variant.startsWith('events') ? 'events' : 'profiles';
    const schemaId = topic === 'events' ? b.context.eventsSchemaId : b.context.profilesSchemaId;
    const cacheKey = `${variant}:${schemaId}:${b.context.now}`;
    let value = hugeValues.get(cacheKey);
    if (value === undefined) {
      if (hugeValues.size >= 16) hugeValues.clear();
      const huge = 'x'.repeat(HUGE_STRING_CHARS - 8) + '<script>'; // 1,000,000 characters
      const shared: Builder = { ...b, index: 0, seed: 0 };
      const customer = 'hostile-huge';
      if (variant === 'events.category') value = eventBytes(shared, event({ event_id: 'hostile-huge-category', customer_id: customer, type: 'product_view', occurred_at: b.context.now, category: huge }));
      else if (variant === 'events.properties') value = eventBytes(shared, event({ event_id: 'hostile-huge-properties', customer_id: customer, type: 'page_view', occurred_at: b.context.now, properties: { note: huge } }));
      else if (variant === 'profiles.first_name') value = profileBytes(shared, profile({ customer_id: customer, updated_at: b.context.now, first_name: huge }));
      else value = profileBytes(shared, profile({ customer_id: customer, updated_at: b.context.now, attributes: { note: huge } }));
      hugeValues.set(cacheKey, value);
    }
    const detail = {
      'events.category': `category is ${HUGE_STRING_CHARS} characters; at most 256`,
      'events.properties': `properties value of key "note" is ${HUGE_STRING_CHARS} characters; at most 1024`,
      'profiles.first_name': `first_name is ${HUGE_STRING_CHARS} characters; at most 256`,
      'profiles.attributes': `attributes value of key "note" is ${HUGE_STRING_CHARS} characters; at most 1024`,
    }[variant];
    // Over a limit is found before the key is compared with customer_id: any key does.
    const customer = ownCustomer(b, 'huge');
    return { category: 'huge_string', topic, key: utf8(customer), value, customerId: customer, expect: 'dlq', reason: 'over-limit', detail };
  },

  negative_numbers(b) {
    const customer = target(b);
    const base = plainEvent(b, customer, 'negative');
    const quantity = b.random() < 0.5;
    // avsc round-trips negative longs only down to -(2^52): -(2^53-2) would come back positive.
    const spoilt = quantity
      ? { ...base, type: 'add_to_cart', quantity: pick(b.random, [-1, -int(b.random, 2, 1000), -2_147_483_648]) }
      : { ...base, type: 'purchase', quantity: 1, currency: 'EUR', order_id: `hostile-order-${b.seed}-${b.index}`, value_cents: pick(b.random, [-1, -int(b.random, 2, 1_000_000), -(2 ** 52)]) };
    return {
      category: 'negative_numbers',
      topic: 'events',
      key: utf8(customer),
      value: eventBytes(b, spoilt),
      customerId: customer,
      expect: 'dlq',
      reason: 'over-limit',
      detail: quantity ? 'quantity is below 0; it must be 0 to 1000000' : 'value_cents is below 0; it must be 0 to 100000000000',
    };
  },

  timestamp_1970(b) {
    const customer = target(b);
    const roll = b.random();
    if (roll < 0.25) {
      // Zero or negative: not a time at all.
      const occurredAt = b.random() < 0.5 ? 0 : -int(b.random, 1, 100 * 365 * DAY);
      return {
        category: 'timestamp_1970',
        topic: 'events',
        key: utf8(customer),
        value: eventBytes(b, { ...plainEvent(b, customer, '1970'), occurred_at: occurredAt }),
        customerId: customer,
        expect: 'dlq',
        reason: 'invalid',
        detail: `occurred_at ${occurredAt} is not a positive epoch-millisecond time`,
      };
    }
    const at = int(b.random, 1, 365 * DAY); // some time in 1970
    if (roll < 0.45) {
      // A profile from 1970 with nothing in it: stale against any later profile of the customer.
      return {
        category: 'timestamp_1970',
        topic: 'profiles',
        key: utf8(customer),
        value: profileBytes(b, profile({ customer_id: customer, updated_at: at })),
        customerId: customer,
        expect: 'accepted',
      };
    }
    // A 1970 event: applied at its event time, older than every window, so it counts for nothing.
    return {
      category: 'timestamp_1970',
      topic: 'events',
      key: utf8(customer),
      value: eventBytes(b, { ...plainEvent(b, customer, '1970'), type: pick(b.random, ['purchase', 'add_to_cart', 'product_view']), occurred_at: at }),
      customerId: customer,
      expect: 'accepted',
    };
  },

  timestamp_3000(b) {
    const customer = target(b);
    const at = b.random() < 0.9 ? YEAR_3000 + int(b.random, 0, 365 * DAY) : 2 ** 53 - 2; // the largest long avsc encodes, far past Date's range
    const events = b.random() < 0.75;
    const value = events
      ? eventBytes(b, { ...plainEvent(b, customer, '3000'), type: pick(b.random, ['purchase', 'add_to_cart', 'product_view', 'unsubscribe']), occurred_at: at })
      : profileBytes(b, profile({ customer_id: customer, updated_at: at, consent_email: false }));
    return {
      category: 'timestamp_3000',
      topic: events ? 'events' : 'profiles',
      key: utf8(customer),
      value,
      customerId: customer,
      expect: 'dlq',
      reason: 'future-time',
      detail: `${events ? 'occurred_at' : 'updated_at'} ${isoOrMs(at)} is `,
    };
  },

  unknown_event_type(b) {
    const customer = target(b);
    return {
      category: 'unknown_event_type',
      topic: 'events',
      key: utf8(customer),
      value: eventBytes(b, { ...plainEvent(b, customer, 'type'), type: pick(b.random, UNKNOWN_TYPES) }),
      customerId: customer,
      expect: 'accepted',
    };
  },

  html_script(b) {
    const html = () => pick(b.random, HTML_PAYLOADS);
    const roll = b.random();
    if (roll < 0.6) {
      // Aimed at a real customer: HTML in every free string of an event it could be shown from.
      const customer = target(b);
      const type = pick(b.random, ['product_view', 'add_to_cart', 'purchase']);
      const value = event({
        event_id: `${eventId(b, 'html')}${html()}`.slice(0, 128),
        customer_id: customer,
        type,
        occurred_at: b.context.now - int(b.random, 60_000, 3_600_000),
        product_id: html(),
        category: html(),
        quantity: 1,
        value_cents: type === 'purchase' ? 4599 : null,
        currency: type === 'purchase' ? 'EUR' : null,
        order_id: type === 'purchase' ? `${html()}${b.index}` : null,
        campaign_id: html(),
        message_id: html(),
        properties: { note: html(), [html().slice(0, 64)]: html() },
      });
      return { category: 'html_script', topic: 'events', key: utf8(customer), value: eventBytes(b, value), customerId: customer, expect: 'accepted' };
    }
    if (roll < 0.75) {
      // currency is a code: HTML there is impossible.
      const customer = target(b);
      const value = { ...plainEvent(b, customer, 'html'), type: 'purchase', currency: '<b>', value_cents: 100, order_id: html() };
      return {
        category: 'html_script',
        topic: 'events',
        key: utf8(customer),
        value: eventBytes(b, value),
        customerId: customer,
        expect: 'dlq',
        reason: 'invalid',
        detail: 'currency is not an ISO 4217 code',
      };
    }
    // A customer of our own whose profile is HTML everywhere, with an address and consent: its
    // emails (if any campaign picks it) must show the text escaped.
    const customer = ownCustomer(b, 'html');
    const value = profile({
      customer_id: customer,
      email: `${customer}@example.com`,
      first_name: html(),
      last_name: html(),
      locale: '<script>x</script>',
      timezone: '"><img src=x onerror=alert(1)>',
      country: '<b>',
      consent_email: true,
      attributes: { note: html(), [html().slice(0, 64)]: html() },
      updated_at: b.context.now - int(b.random, 60_000, DAY),
    });
    return { category: 'html_script', topic: 'profiles', key: utf8(customer), value: profileBytes(b, value), customerId: customer, expect: 'accepted' };
  },

  odd_customer_id(b) {
    const odd = pick(b.random, ODD_IDS);
    // Distinct per record but still odd; an invalid one keeps its control character.
    const customer = odd.invalid === 'customer_id is empty' ? odd.id : `${odd.id}${b.index % 7}`;
    const events = b.random() < 0.7;
    const value = events
      ? eventBytes(b, plainEvent(b, customer, 'odd'))
      : profileBytes(b, profile({ customer_id: customer, updated_at: b.context.now - int(b.random, 60_000, DAY), country: 'DE' }));
    if (odd.invalid) {
      return { category: 'odd_customer_id', topic: events ? 'events' : 'profiles', key: utf8(customer), value, customerId: customer, expect: 'dlq', reason: 'invalid', detail: odd.invalid };
    }
    return { category: 'odd_customer_id', topic: events ? 'events' : 'profiles', key: utf8(customer), value, customerId: customer, expect: 'accepted' };
  },

  long_customer_id(b) {
    const stem = `hostile-long-${b.seed}-${b.index}-{*}:`;
    const customer = stem + 'x'.repeat(LONG_ID_CHARS - stem.length);
    const roll = b.random();
    const topic = roll < 0.6 ? 'events' : 'profiles';
    // A tombstone has nothing but its key, which is checked all the same.
    const value =
      roll < 0.6
        ? eventBytes(b, plainEvent(b, customer, 'long'))
        : roll < 0.85
          ? profileBytes(b, profile({ customer_id: customer, updated_at: b.context.now - 60_000 }))
          : null;
    return {
      category: 'long_customer_id',
      topic,
      key: utf8(customer),
      value,
      customerId: customer,
      expect: 'dlq',
      reason: 'over-limit',
      detail: `record key is ${LONG_ID_CHARS} characters; at most 128`,
    };
  },
};

function isoOrMs(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * `count` hostile records: one of each category first (when count allows), then the categories
 * in a weighted round robin (huge_string at a quarter of the others' rate), shuffled by the seed.
 */
export function hostileRecords(seed: number, count: number, context: HostileContext): HostileRecord[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count ${count} is not a whole number >= 0`);
  const cycle = HOSTILE_CATEGORIES.flatMap((category) => Array<HostileCategory>(WEIGHT[category]).fill(category));
  const order = shuffle(cycle.slice(), seededRandom(seed ^ 0x5bd1e995));
  const categories: HostileCategory[] = [];
  for (let i = 0; i < count; i += 1) categories.push(i < HOSTILE_CATEGORIES.length ? HOSTILE_CATEGORIES[i] : order[(i - HOSTILE_CATEGORIES.length) % order.length]);
  const random = seededRandom(seed);
  shuffle(categories, random);
  return categories.map((category, index) => BUILDERS[category]({ random, context, seed, index }));
}

/**
 * `valid` and `hostile` merged at seeded random places: the order within each is kept, and the
 * hostile records are spread over the whole run.
 */
export function interleave<T, H>(valid: readonly T[], hostile: readonly H[], seed: number): Array<{ valid: T } | { hostile: H }> {
  const random = seededRandom(seed ^ 0x1b873593);
  const merged: Array<{ valid: T } | { hostile: H }> = [];
  let v = 0;
  let h = 0;
  while (v < valid.length || h < hostile.length) {
    const restV = valid.length - v;
    const restH = hostile.length - h;
    if (random() * (restV + restH) < restH) merged.push({ hostile: hostile[h++] });
    else merged.push({ valid: valid[v++] });
  }
  return merged;
}
