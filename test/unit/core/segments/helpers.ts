/** Shared builders for the segment engine tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseSegmentDefinitions, type SegmentDefinition } from '../../../../services/core/segments';
import { behaviorEvent, type BehaviorEvent } from '../../../../services/core/types';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** A UTC midnight, so daily sum buckets start exactly here. */
export const T0 = Date.UTC(2024, 0, 1);
export const CUSTOMER = 'cust-0001';

/** Definitions from plain objects written like the YAML file. */
export function defsOf(segments: unknown[]): SegmentDefinition[] {
  return parseSegmentDefinitions('test.yaml', stringify({ segments }));
}

/** One segment named `s` with the given conditions. */
export function oneSegment(conditions: unknown, extra: Record<string, unknown> = {}): SegmentDefinition[] {
  return defsOf([{ name: 's', conditions, ...extra }]);
}

let sequence = 0;
/** An event of CUSTOMER with a fresh event_id unless one is given. */
export function event(type: string, occurredAt: number, fields: Partial<BehaviorEvent> = {}): BehaviorEvent {
  sequence += 1;
  return behaviorEvent({ event_id: `e${sequence}`, customer_id: CUSTOMER, type, occurred_at: occurredAt, ...fields });
}

export const SHIPPED_PATH = join(__dirname, '../../../../config/segments.yaml');

/** The shipped config/segments.yaml, parsed. */
export function shippedDefinitions(): SegmentDefinition[] {
  return parseSegmentDefinitions('config/segments.yaml', readFileSync(SHIPPED_PATH, 'utf8'));
}
