/**
 * What the console remembers itself, because no service keeps it in a form a page can show:
 * hourly counts of triggers per rule, outcomes per status and segment entries/exits, the
 * recent records of recently seen customers, and periodic samples (events published, consumer
 * lag, segment sizes). All in memory and bounded (by hours, by customers, by samples): a
 * restarted console reads the last CONSOLE_LOOKBACK of the topics again and starts sampling
 * anew. Pure: no I/O; the clock is passed in.
 */
import type { BehaviorEvent, EmailOutcome, SegmentChange, TriggerFired } from '../core/types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Counts per label per hour, for the hours of the last `spanMs`. */
export class HourlyCounts {
  private readonly hours = new Map<number, Map<string, number>>();

  constructor(private readonly spanMs: number) {}

  add(at: number, label: string, now: number): void {
    if (at < now - this.spanMs || !Number.isFinite(at)) return;
    const hour = Math.floor(at / HOUR) * HOUR;
    const counts = this.hours.get(hour) ?? new Map<string, number>();
    counts.set(label, (counts.get(label) ?? 0) + 1);
    this.hours.set(hour, counts);
    this.prune(now);
  }

  private prune(now: number): void {
    const oldest = Math.floor((now - this.spanMs) / HOUR) * HOUR;
    for (const hour of this.hours.keys()) if (hour < oldest) this.hours.delete(hour);
  }

  /** One series per label over the hours from the oldest kept to now (empty hours are 0). */
  series(now: number): { hours: number[]; series: Array<{ label: string; counts: number[] }>; totals: Record<string, number> } {
    this.prune(now);
    const last = Math.floor(now / HOUR) * HOUR;
    const first = Math.min(last, ...this.hours.keys());
    const hours: number[] = [];
    for (let hour = first; hour <= last; hour += HOUR) hours.push(hour);
    const labels = [...new Set([...this.hours.values()].flatMap((counts) => [...counts.keys()]))].sort();
    const totals: Record<string, number> = {};
    const series = labels.map((label) => {
      const counts = hours.map((hour) => this.hours.get(hour)?.get(label) ?? 0);
      totals[label] = counts.reduce((a, b) => a + b, 0);
      return { label, counts };
    });
    return { hours, series, totals };
  }
}

/** What the console keeps of one customer: the newest records of each kind, newest first. */
export interface CustomerRecords {
  events: BehaviorEvent[];
  triggers: TriggerFired[];
  outcomes: EmailOutcome[];
  changes: SegmentChange[];
}

type Kind = keyof CustomerRecords;
const timeOf: { [K in Kind]: (record: CustomerRecords[K][number]) => number } = {
  events: (r) => (r as BehaviorEvent).occurred_at,
  triggers: (r) => (r as TriggerFired).fired_at,
  outcomes: (r) => (r as EmailOutcome).at,
  changes: (r) => (r as SegmentChange).at,
};

export interface MemoryOptions {
  lookbackMs: number;
  maxCustomers: number;
  recordsPerCustomer: number;
}

/** The records read from the topics, as the pages need them. */
export class ConsoleMemory {
  readonly triggersByRule: HourlyCounts;
  readonly outcomesByStatus: HourlyCounts;
  /** segment -> UTC day start -> entered / exited. */
  private readonly changesByDay = new Map<string, Map<number, { entered: number; exited: number }>>();
  // A Map keeps insertion order: re-inserting on every touch makes the first key the least recently seen.
  private readonly customers = new Map<string, CustomerRecords>();
  /** Records read per topic kind, and those that could not be decoded. */
  readonly read: Record<Kind | 'undecodable', number> = { events: 0, triggers: 0, outcomes: 0, changes: 0, undecodable: 0 };

  constructor(private readonly options: MemoryOptions) {
    this.triggersByRule = new HourlyCounts(options.lookbackMs);
    this.outcomesByStatus = new HourlyCounts(options.lookbackMs);
  }

  private remember<K extends Kind>(customerId: string, kind: K, record: CustomerRecords[K][number]): void {
    let entry = this.customers.get(customerId);
    if (entry === undefined) entry = { events: [], triggers: [], outcomes: [], changes: [] };
    else this.customers.delete(customerId);
    this.customers.set(customerId, entry);
    const list = entry[kind] as Array<CustomerRecords[K][number]>;
    const at = timeOf[kind](record);
    // Newest first; records mostly come in order, so the insertion point is near the front.
    let index = 0;
    while (index < list.length && timeOf[kind](list[index] as never) > at) index += 1;
    list.splice(index, 0, record);
    if (list.length > this.options.recordsPerCustomer) list.length = this.options.recordsPerCustomer;
    while (this.customers.size > this.options.maxCustomers) {
      const oldest = this.customers.keys().next().value as string;
      this.customers.delete(oldest);
    }
  }

  addEvent(event: BehaviorEvent): void {
    this.read.events += 1;
    this.remember(event.customer_id, 'events', event);
  }

  addTrigger(trigger: TriggerFired, now: number): void {
    this.read.triggers += 1;
    this.triggersByRule.add(trigger.fired_at, trigger.rule, now);
    this.remember(trigger.customer_id, 'triggers', trigger);
  }

  addOutcome(outcome: EmailOutcome, now: number): void {
    this.read.outcomes += 1;
    this.outcomesByStatus.add(outcome.at, outcome.status, now);
    this.remember(outcome.customer_id, 'outcomes', outcome);
  }

  addSegmentChange(change: SegmentChange, now: number): void {
    this.read.changes += 1;
    this.remember(change.customer_id, 'changes', change);
    if (change.at < now - this.options.lookbackMs - DAY) return;
    const day = Math.floor(change.at / DAY) * DAY;
    const days = this.changesByDay.get(change.segment) ?? new Map<number, { entered: number; exited: number }>();
    const counts = days.get(day) ?? { entered: 0, exited: 0 };
    if (change.change === 'entered') counts.entered += 1;
    else counts.exited += 1;
    days.set(day, counts);
    for (const kept of days.keys()) if (kept < day - 2 * DAY) days.delete(kept);
    this.changesByDay.set(change.segment, days);
  }

  /** Entries and exits of `segment` during the current UTC day. */
  segmentToday(segment: string, now: number): { entered: number; exited: number } {
    const day = Math.floor(now / DAY) * DAY;
    return { ...(this.changesByDay.get(segment)?.get(day) ?? { entered: 0, exited: 0 }) };
  }

  customer(customerId: string): CustomerRecords | null {
    return this.customers.get(customerId) ?? null;
  }

  get customerCount(): number {
    return this.customers.size;
  }
}

/** One periodic sample: values by series name (null when the source did not answer). */
export interface Sample {
  at: number;
  values: Record<string, number | null>;
}

/** The newest samples, at most `capacity` of them (oldest dropped first). */
export class SampleHistory {
  private readonly samples: Sample[] = [];

  constructor(readonly capacity: number) {}

  add(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  all(): readonly Sample[] {
    return this.samples;
  }

  latest(): Sample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** The series `name` over time (null where a sample lacks it). */
  series(name: string): Array<{ at: number; value: number | null }> {
    return this.samples.map((s) => ({ at: s.at, value: s.values[name] ?? null }));
  }

  /**
   * The per-second rate of the counter `name` between consecutive samples (the value at the
   * later sample's time); null across a gap or a counter that went back (a recreated topic).
   */
  rate(name: string): Array<{ at: number; value: number | null }> {
    const out: Array<{ at: number; value: number | null }> = [];
    for (let i = 1; i < this.samples.length; i += 1) {
      const before = this.samples[i - 1] as Sample;
      const after = this.samples[i] as Sample;
      const a = before.values[name];
      const b = after.values[name];
      const seconds = (after.at - before.at) / 1000;
      out.push({ at: after.at, value: a == null || b == null || b < a || seconds <= 0 ? null : (b - a) / seconds });
    }
    return out;
  }
}
