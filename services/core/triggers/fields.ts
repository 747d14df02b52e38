/**
 * The event fields a rule may filter or group on, and how to read them. Pure: no I/O.
 */
import type { BehaviorEvent } from '../types';

/** Top-level string fields of a BehaviorEvent a rule may name; `properties.<key>` is also allowed. */
export const EVENT_STRING_FIELDS = [
  'product_id',
  'category',
  'currency',
  'order_id',
  'campaign_id',
  'message_id',
] as const;
type EventStringField = (typeof EVENT_STRING_FIELDS)[number];

/** A field a rule names: a top-level string field or `properties.<key>`. */
export type EventField = EventStringField | `properties.${string}`;

const PROPERTY_PREFIX = 'properties.';

/** True when `name` is a field rules may use (see EventField). */
export function isEventField(name: string): name is EventField {
  if (name.startsWith(PROPERTY_PREFIX)) return name.length > PROPERTY_PREFIX.length;
  return (EVENT_STRING_FIELDS as readonly string[]).includes(name);
}

/** The field's value on the event, or null when the event lacks it (null, absent or empty). */
export function eventFieldValue(event: BehaviorEvent, field: EventField): string | null {
  let value: string | null | undefined;
  if (field.startsWith(PROPERTY_PREFIX)) {
    const key = field.slice(PROPERTY_PREFIX.length);
    // Own properties only: a key like "constructor" must not read Object.prototype.
    value = Object.hasOwn(event.properties, key) ? event.properties[key] : null;
  } else {
    value = event[field as EventStringField];
  }
  return typeof value === 'string' && value !== '' ? value : null;
}
