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

/**
 * No timer changes, shared by outcomes that change none (frozen: adding to it throws). Use
 * noTimerChanges() for a list to fill.
 */
export const NO_TIMER_CHANGES: TimerChanges = noTimerChanges();
Object.freeze(NO_TIMER_CHANGES.set);
Object.freeze(NO_TIMER_CHANGES.cancel);
Object.freeze(NO_TIMER_CHANGES);

/**
 * Timer changes gathered in order, as mergeTimerChanges would merge them one by one: for each id
 * only its last set or cancel survives. One per customer and batch, so most events, which change
 * no timer, allocate nothing.
 */
export class TimerLedger {
  /** id -> due time, or null for cancel; null until the first change. */
  private last: Map<string, number | null> | null = null;

  /** Records the changes after those recorded so far. */
  add(changes: TimerChanges): void {
    if (changes.set.length + changes.cancel.length === 0) return;
    const last = (this.last ??= new Map());
    for (let i = 0; i < changes.set.length; i += 1) {
      const { id, dueAt } = changes.set[i] as TimerChanges['set'][number];
      setLast(last, id, dueAt);
    }
    for (let i = 0; i < changes.cancel.length; i += 1) setLast(last, changes.cancel[i] as string, null);
  }

  /** The surviving changes, each list in the order of the ids' last change. */
  changes(): TimerChanges {
    const merged = noTimerChanges();
    if (this.last === null) return merged;
    for (const [id, dueAt] of this.last) {
      if (dueAt === null) merged.cancel.push(id);
      else merged.set.push({ id, dueAt });
    }
    return merged;
  }
}

/** Both changes in order: for each id only the later of a set and a cancel survives. */
export function mergeTimerChanges(first: TimerChanges, second: TimerChanges): TimerChanges {
  const ledger = new TimerLedger();
  ledger.add(first);
  ledger.add(second);
  return ledger.changes();
}

// Deleting first moves the id to the end, so the result lists ids in the order of their last change.
function setLast(last: Map<string, number | null>, id: string, dueAt: number | null): void {
  last.delete(id);
  last.set(id, dueAt);
}
