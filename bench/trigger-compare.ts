/**
 * Whether two runs over the same input wrote the same triggers (pure: no I/O): the same
 * trigger ids, each once, and for each id the same rule, customer, cause, fired_at and context.
 * Used to check the Kafka Streams comparison app against the trigger service (bench/streams.ts).
 */
import type { TriggerFired } from '../services/core/types';
import { countBy } from './targets';

export interface TriggerComparison {
  /** True when both wrote exactly the same triggers. */
  same: boolean;
  expected: number;
  actual: number;
  expected_by_rule: Record<string, number>;
  actual_by_rule: Record<string, number>;
  /** Ids the expected run wrote and the other did not, and the reverse. */
  missing: number;
  extra: number;
  /** Ids written more than once (beyond the first) by the other run. */
  duplicates: number;
  /** Ids in both whose fields differ. */
  different: number;
  /** Up to `examples` of each kind, for the progress output. */
  examples: string[];
}

/** A trigger as text with its context's keys sorted, so equal triggers give equal text. */
export function canonicalTrigger(t: TriggerFired): string {
  const context = Object.fromEntries(Object.entries(t.context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify([t.trigger_id, t.rule, t.customer_id, Number(t.fired_at), t.cause_event_id ?? null, context]);
}

export function compareTriggers(expected: readonly TriggerFired[], actual: readonly TriggerFired[], examples = 5): TriggerComparison {
  const want = new Map<string, TriggerFired>();
  for (const t of expected) want.set(t.trigger_id, t);
  const got = new Map<string, TriggerFired>();
  const shown: string[] = [];
  const show = (line: string, count: number) => {
    if (count <= examples) shown.push(line);
  };
  let duplicates = 0;
  for (const t of actual) {
    if (got.has(t.trigger_id)) show(`duplicate ${t.trigger_id} (${t.rule} ${t.customer_id})`, ++duplicates);
    else got.set(t.trigger_id, t);
  }
  let missing = 0;
  let different = 0;
  for (const [id, t] of want) {
    const other = got.get(id);
    if (other === undefined) show(`missing ${id} (${t.rule} ${t.customer_id} cause ${t.cause_event_id ?? '-'})`, ++missing);
    else if (canonicalTrigger(t) !== canonicalTrigger(other)) show(`different ${id}: ${canonicalTrigger(t)} vs ${canonicalTrigger(other)}`, ++different);
  }
  let extra = 0;
  for (const [id, t] of got) if (!want.has(id)) show(`extra ${id} (${t.rule} ${t.customer_id} cause ${t.cause_event_id ?? '-'})`, ++extra);
  return {
    same: missing === 0 && extra === 0 && duplicates === 0 && different === 0 && expected.length === want.size,
    expected: expected.length,
    actual: actual.length,
    expected_by_rule: countBy(expected, (t) => t.rule),
    actual_by_rule: countBy(actual, (t) => t.rule),
    missing,
    extra,
    duplicates,
    different,
    examples: shown,
  };
}
