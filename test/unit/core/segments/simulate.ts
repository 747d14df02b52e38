/** Drives the engine like the adapter does: timers fire at wakeAt before any later input. */
import { applyEvent, reevaluate, type SegmentDefinition, type SegmentState } from '../../../../services/core/segments';
import type { BehaviorEvent, SegmentChange, TriggerFired } from '../../../../services/core/types';

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
