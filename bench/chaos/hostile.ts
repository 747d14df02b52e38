/**
 * STAND-IN, NOT FINAL. The real generator of hostile records is written on branch i14-hostile
 * by another helper; this minimal file only has its interface (the lead resolves the two when
 * merging: take i14-hostile's file). Only categories whose handling is certain are produced
 * here: records that cannot be decoded, or are dated beyond MAX_CLOCK_SKEW, go to the DLQ; an
 * unknown event type of a customer of its own is accepted (counted and ignored).
 */
import { recordTypes } from '../../services/kit/codec';
import { behaviorEvent } from '../../services/core/types';
import { seededRandom } from '../../services/tools/synthetic';

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
  topic: 'events' | 'profiles';
  key: Buffer | null;
  value: Buffer | null;
  customerId?: string;
  expect: 'dlq' | 'accepted';
  reason?: string;
}

export interface HostileContext {
  eventsSchemaId: number;
  profilesSchemaId: number;
  now: number;
  customerIds: readonly string[];
}

const CATEGORIES: HostileCategory[] = ['random_bytes', 'wrong_magic', 'unknown_schema_id', 'truncated_avro', 'timestamp_3000', 'unknown_event_type'];

function wire(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

export function hostileRecords(seed: number, count: number, context: HostileContext): HostileRecord[] {
  const random = seededRandom(seed);
  const types = recordTypes();
  const out: HostileRecord[] = [];
  for (let i = 0; i < count; i += 1) {
    const category = CATEGORIES[i % CATEGORIES.length] as HostileCategory;
    const customerId = `hostile-${seed}-${i}`;
    const key = Buffer.from(customerId);
    const event = behaviorEvent({ event_id: `hostile-${seed}-${i}`, customer_id: customerId, type: 'product_view', occurred_at: context.now, product_id: 'p-1' });
    const avro = types.BehaviorEvent.toBuffer(event);
    switch (category) {
      case 'random_bytes':
        out.push({ category, topic: 'events', key, customerId, value: Buffer.from(Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256))), expect: 'dlq' });
        break;
      case 'wrong_magic': {
        const value = wire(context.eventsSchemaId, avro);
        value.writeUInt8(1 + Math.floor(random() * 255), 0);
        out.push({ category, topic: 'events', key, customerId, value, expect: 'dlq' });
        break;
      }
      case 'unknown_schema_id':
        out.push({ category, topic: 'events', key, customerId, value: wire(900_000_000 + i, avro), expect: 'dlq' });
        break;
      case 'truncated_avro':
        out.push({ category, topic: 'events', key, customerId, value: wire(context.eventsSchemaId, avro.subarray(0, Math.max(1, Math.floor(avro.length / 2)))), expect: 'dlq' });
        break;
      case 'timestamp_3000':
        out.push({ category, topic: 'events', key, customerId, value: wire(context.eventsSchemaId, types.BehaviorEvent.toBuffer({ ...event, occurred_at: Date.UTC(3000, 0, 1) })), expect: 'dlq' });
        break;
      default:
        out.push({ category, topic: 'events', key, customerId, value: wire(context.eventsSchemaId, types.BehaviorEvent.toBuffer({ ...event, type: 'teleported' })), expect: 'accepted', reason: 'unknown type: counted and ignored' });
    }
  }
  return out;
}

export function interleave<T, H>(valid: readonly T[], hostile: readonly H[], seed: number): Array<{ valid: T } | { hostile: H }> {
  const random = seededRandom(seed);
  const out: Array<{ valid: T } | { hostile: H }> = [];
  let v = 0;
  let h = 0;
  while (v < valid.length || h < hostile.length) {
    const takeHostile = h < hostile.length && (v >= valid.length || random() < hostile.length / (hostile.length + valid.length));
    if (takeHostile) out.push({ hostile: hostile[h++] as H });
    else out.push({ valid: valid[v++] as T });
  }
  return out;
}
