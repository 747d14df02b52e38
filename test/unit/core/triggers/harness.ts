/**
 * Test helpers for the trigger engine: event builders and a stand-in for the adapter that keeps
 * one customer's state as its stored bytes and a timer set, as Redis would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyEvent,
  decodeTriggerState,
  encodeTriggerState,
  fireTimer,
  parseTriggerRules,
  type EngineResult,
  type TriggerRule,
} from '../../../../services/core/triggers';
import { behaviorEvent, type BehaviorEvent, type TriggerFired } from '../../../../services/core/types';

export const MS = 1;
export const MINUTE = 60_000 * MS;
export const HOUR = 60 * MINUTE;
/** An arbitrary start of event time. */
export const T0 = Date.UTC(2024, 2, 1, 8, 0, 0);
export const CUSTOMER = 'customer-1';

export const SEED_RULES_PATH = join(__dirname, '../../../../config/triggers.yaml');

/** The shipped config/triggers.yaml, parsed. */
export function seedRules(): TriggerRule[] {
  return parseTriggerRules('config/triggers.yaml', readFileSync(SEED_RULES_PATH, 'utf8'));
}

/** Rules from inline YAML. */
export function rulesFrom(yaml: string): TriggerRule[] {
  return parseTriggerRules('test.yaml', yaml);
}

/** Builds events with ids e1, e2, ... at T0 + offset. */
export class Events {
  private next = 1;
  constructor(private readonly customerId = CUSTOMER) {}

  of(type: string, offset: number, fields: Partial<BehaviorEvent> = {}): BehaviorEvent {
    return behaviorEvent({
      event_id: `e${this.next++}`,
      customer_id: this.customerId,
      type,
      occurred_at: T0 + offset,
      ...fields,
    });
  }

  view(productId: string | null, offset: number, fields: Partial<BehaviorEvent> = {}): BehaviorEvent {
    return this.of('product_view', offset, { product_id: productId, category: 'shoes', ...fields });
  }

  add(productId: string, offset: number): BehaviorEvent {
    return this.of('add_to_cart', offset, { product_id: productId, quantity: 1 });
  }
}

/** One customer as the adapter sees it: stored state bytes, timer set, outbox. */
export class Customer {
  stored: Buffer | null = null;
  readonly timers = new Map<string, number>();
  readonly outbox: TriggerFired[] = [];

  constructor(readonly rules: TriggerRule[]) {}

  /** Applies an event; `now` defaults to its occurred_at (a consumer with no lag). */
  apply(event: BehaviorEvent, now = event.occurred_at): EngineResult {
    const result = applyEvent(this.state(), event, this.rules, now);
    this.commit(result);
    return result;
  }

  /** Fires every timer due at `now`, earliest first, as the partition's poller would. */
  fireDue(now: number): TriggerFired[] {
    const due = [...this.timers].filter(([, dueAt]) => dueAt <= now).sort((a, b) => a[1] - b[1]);
    const fired: TriggerFired[] = [];
    for (const [id] of due) {
      const result = fireTimer(this.state(), id, this.rules, now);
      this.commit(result);
      fired.push(...result.triggers);
    }
    return fired;
  }

  state() {
    return this.stored === null ? null : decodeTriggerState(this.stored);
  }

  private commit(result: EngineResult): void {
    if (result.changed) this.stored = encodeTriggerState(result.state);
    for (const { id, dueAt } of result.timers.set) this.timers.set(id, dueAt);
    for (const id of result.timers.cancel) this.timers.delete(id);
    this.outbox.push(...result.triggers);
  }
}

/** The ids of the events that caused the triggers. */
export function causeIds(triggers: TriggerFired[]): Array<string | null> {
  return triggers.map((trigger) => trigger.cause_event_id);
}
