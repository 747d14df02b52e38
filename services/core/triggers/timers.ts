/**
 * Timer ids and timer changes. A timer id names one customer and one rule whose kind waits (an
 * absence rule, say), so an adapter can keep every timer of a partition in one sorted set scored
 * by due time. Pure.
 */

/** Timers to add or move (ZADD; an existing id gets the new due time) and to remove (ZREM). */
export interface TimerChanges {
  set: Array<{ id: string; dueAt: number }>;
  cancel: string[];
}

/** No timer changes. */
export function noTimerChanges(): TimerChanges {
  return { set: [], cancel: [] };
}

/** `<customer_id>|<rule>`; rule names cannot contain `|`, so the last `|` splits it. */
export function timerIdFor(customerId: string, rule: string): string {
  return `${customerId}|${rule}`;
}

/** The customer and rule a timer id names, or null when it is not a timer id. */
export function parseTimerId(id: string): { customerId: string; rule: string } | null {
  const split = id.lastIndexOf('|');
  if (split <= 0 || split === id.length - 1) return null;
  return { customerId: id.slice(0, split), rule: id.slice(split + 1) };
}

/** Both changes in order: for each id only the later of a set and a cancel survives. */
export function mergeTimerChanges(first: TimerChanges, second: TimerChanges): TimerChanges {
  // Most events change no timer: nothing to merge.
  if (first.set.length + first.cancel.length + second.set.length + second.cancel.length === 0) return noTimerChanges();
  const last = new Map<string, number | null>(); // id -> due time, or null for cancel
  for (const changes of [first, second]) {
    for (const { id, dueAt } of changes.set) setLast(last, id, dueAt);
    for (const id of changes.cancel) setLast(last, id, null);
  }
  const merged = noTimerChanges();
  for (const [id, dueAt] of last) {
    if (dueAt === null) merged.cancel.push(id);
    else merged.set.push({ id, dueAt });
  }
  return merged;
}

// Deleting first moves the id to the end, so the result lists ids in the order of their last change.
function setLast(last: Map<string, number | null>, id: string, dueAt: number | null): void {
  last.delete(id);
  last.set(id, dueAt);
}
