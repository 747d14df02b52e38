/**
 * Values as trigger state keeps them, and the checks each kind's state is read back with (see
 * decodeTriggerState). Pure.
 */
import { createHash } from 'node:crypto';
import { MAX_STORED_VALUE_CHARS } from './limits';

/** The value as stored in state: verbatim when short, else a hash (still unique per value). */
export function storedKey(value: string): string {
  if (value.length <= MAX_STORED_VALUE_CHARS) return value;
  return `#sha256:${createHash('sha256').update(value).digest('base64url')}`;
}

/** The value when it is short enough to keep, else null. */
export function keepableValue(value: string | null): string | null {
  return value !== null && value.length <= MAX_STORED_VALUE_CHARS ? value : null;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
export function isString(value: unknown): value is string {
  return typeof value === 'string';
}
/** An epoch-ms time (a safe integer). */
export function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value);
}
export function isNullable(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === null || check(value);
}
export function isArrayOf(value: unknown, check: (item: unknown) => boolean): boolean {
  return Array.isArray(value) && value.every(check);
}
