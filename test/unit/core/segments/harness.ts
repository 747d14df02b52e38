/**
 * The segment engine tests' harness: builders, the shipped definitions, and a stand-in for the
 * adapter that drives the engine (timers fire at wakeAt before any later input).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { applyEvent, parseSegmentDefinitions, reevaluate, type SegmentDefinition, type SegmentState } from '../../../../services/core/segments';
import { behaviorEvent, type BehaviorEvent, type SegmentChange, type TriggerFired } from '../../../../services/core/types';

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

// The adapter's stand-in: timers fire at wakeAt before any later input.
export interface Arrival {
  event: BehaviorEvent;
  /** Service clock when the event is processed. */
  now: number;
}

export interface Simulation {
  state: SegmentState | null;
  changes: SegmentChange[];
  triggers: TriggerFired[];
  wakeAt: number | null;
  maxStateBytes: number;
  timersFired: number;
}

/** A fresh simulation with no state. */
export function startSimulation(): Simulation {
  return { state: null, changes: [], triggers: [], wakeAt: null, maxStateBytes: 0, timersFired: 0 };
}

function record(simulation: Simulation, result: { state: SegmentState | null; changes: SegmentChange[]; triggers: TriggerFired[]; wakeAt: number | null }): void {
  simulation.state = result.state;
  simulation.changes.push(...result.changes);
  simulation.triggers.push(...result.triggers);
  simulation.wakeAt = result.wakeAt;
  simulation.maxStateBytes = Math.max(simulation.maxStateBytes, result.state === null ? 0 : JSON.stringify(result.state).length);
}

/** Fires every timer due at or before `until`. */
export function advanceTo(simulation: Simulation, defs: SegmentDefinition[], until: number): void {
  while (simulation.wakeAt !== null && simulation.wakeAt <= until) {
    simulation.timersFired += 1;
    record(simulation, reevaluate(simulation.state, defs, simulation.wakeAt));
  }
}

/** Processes one arrival after the timers due before it. */
export function deliver(simulation: Simulation, defs: SegmentDefinition[], arrival: Arrival): void {
  advanceTo(simulation, defs, arrival.now);
  record(simulation, applyEvent(simulation.state, arrival.event, defs, arrival.now));
}

export { seededRandom } from '../../../../services/tools/synthetic';
