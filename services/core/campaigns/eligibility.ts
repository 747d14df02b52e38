/** Whether a customer may receive a campaign, with the first reason why not. */
import type { CustomerProfile } from '../types';
import type { Eligibility, ProfileCondition } from './model';

function profileValue(profile: CustomerProfile, field: string): string | null {
  if (field.startsWith('attributes.')) return profile.attributes[field.slice('attributes.'.length)] ?? null;
  const value = profile[field as keyof CustomerProfile];
  if (value === null || value === undefined || typeof value === 'object') return null;
  const text = String(value);
  return text.trim() === '' ? null : text;
}

function describe(condition: ProfileCondition): string {
  const values = condition.values.length === 1 ? condition.values[0] : `[${condition.values.join(', ')}]`;
  return condition.values.length === 0 ? `${condition.field} ${condition.op}` : `${condition.field} ${condition.op} ${values}`;
}

function holds(condition: ProfileCondition, profile: CustomerProfile | null): boolean {
  const actual = profile === null ? null : profileValue(profile, condition.field);
  const matches = actual !== null && condition.values.some((value) => value.toLowerCase() === actual.toLowerCase());
  switch (condition.op) {
    case 'exists':
      return actual !== null;
    case 'not_exists':
      return actual === null;
    case 'eq':
    case 'in':
      return matches;
    case 'neq':
    case 'not_in':
      return !matches;
  }
}

/** null when eligible, else a short reason ("not in segment engaged"). */
export function ineligibility(eligibility: Eligibility, segments: ReadonlySet<string>, profile: CustomerProfile | null): string | null {
  const missing = eligibility.allSegments.filter((segment) => !segments.has(segment));
  if (missing.length > 0) return `not in segment ${missing.join(', ')}`;
  if (eligibility.anySegments.length > 0 && !eligibility.anySegments.some((segment) => segments.has(segment))) {
    return `in none of ${eligibility.anySegments.join(', ')}`;
  }
  const excluded = eligibility.noneSegments.filter((segment) => segments.has(segment));
  if (excluded.length > 0) return `in excluded segment ${excluded.join(', ')}`;
  const failed = eligibility.profile.find((condition) => !holds(condition, profile));
  return failed === undefined ? null : `profile condition ${describe(failed)} does not hold`;
}
