/**
 * The one `where` grammar of definition files (trigger rules and segment conditions): a mapping
 * of event field to the text it must equal, every entry must hold:
 *   where: { category: shoes, properties.channel: web }
 * Fields: the top-level string fields below, or `properties.<key>`. Pure: no I/O.
 */
import { z } from 'zod';
import type { BehaviorEvent } from '../types';
import { expecting, show } from './problems';

/** Top-level string fields of a BehaviorEvent a definition may name; `properties.<key>` is also allowed. */
export const EVENT_STRING_FIELDS = ['product_id', 'category', 'currency', 'order_id', 'campaign_id', 'message_id'] as const;
type EventStringField = (typeof EVENT_STRING_FIELDS)[number];

/** A field a definition names: a top-level string field or `properties.<key>`. */
export type EventField = EventStringField | `properties.${string}`;

/** One `where` condition: the event's field equals the value. */
export interface FieldEquals {
  field: EventField;
  value: string;
}

const PROPERTY_PREFIX = 'properties.';

export const EVENT_FIELD_HINT = `${EVENT_STRING_FIELDS.join(', ')} or properties.<key>`;

/** True when `name` is a field definitions may use (see EventField). */
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

/** True when every condition holds for the event. */
export function matchesWhere(where: readonly FieldEquals[], event: BehaviorEvent): boolean {
  // A loop, not every(): asked for every rule and event, and a closure per call is garbage.
  for (let index = 0; index < where.length; index++) {
    if (eventFieldValue(event, where[index].field) !== where[index].value) return false;
  }
  return true;
}

/** Conditions in one canonical order (fields as listed above, then properties by key), for stable keys. */
export function sortedWhere(where: readonly FieldEquals[]): FieldEquals[] {
  const rank = (field: EventField) => {
    const index = (EVENT_STRING_FIELDS as readonly string[]).indexOf(field);
    return index === -1 ? EVENT_STRING_FIELDS.length : index;
  };
  return [...where].sort((a, b) => rank(a.field) - rank(b.field) || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
}

/** A zod schema for an event field named in a definition (`group_by`, ...). */
export const eventFieldSchema = z
  .string({ error: expecting('an event field', EVENT_FIELD_HINT) })
  .refine(isEventField, { error: (issue) => `${show(issue.input)} is not an event field; expected ${EVENT_FIELD_HINT}` }) as z.ZodType<EventField>;

const whereValue = z
  .string({ error: expecting('text', 'quoted text, e.g. "123" (values are compared as text)') })
  .min(1, { error: 'is empty; expected the text the field must equal' });

/** A zod schema for `where:`; the conditions come out in file order. */
export const whereSchema: z.ZodType<FieldEquals[]> = z
  .record(z.string(), z.unknown(), { error: expecting('a mapping of field: value', `fields ${EVENT_FIELD_HINT}`) })
  .check((ctx) => {
    for (const [key, value] of Object.entries(ctx.value)) {
      if (key === 'properties') {
        const example = Object.keys(typeof value === 'object' && value !== null ? value : {})[0] ?? 'channel';
        ctx.issues.push({
          code: 'custom',
          input: value,
          path: [key],
          message: `is not a field; write each property as its own field, like properties.${example}: web`,
        });
      } else if (!isEventField(key)) {
        ctx.issues.push({ code: 'custom', input: key, path: [key], message: `is not an event field; expected ${EVENT_FIELD_HINT}` });
      } else {
        const result = whereValue.safeParse(value, { reportInput: true });
        if (!result.success) ctx.issues.push({ code: 'custom', input: value, path: [key], message: result.error.issues[0]!.message });
      }
    }
  })
  .transform((where) => Object.entries(where).map(([field, value]) => ({ field: field as EventField, value: value as string })));
