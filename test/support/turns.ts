/**
 * Waiting in unit tests whose collaborators are in memory: what they were going to do happens
 * within a few turns of the event loop, so these wait for turns, not for time.
 */

/** One turn: promise callbacks and immediates queued so far have run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `count` turns, for a test asserting that something did not happen (in-memory work that was going to end has ended). */
export async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i += 1) await turn();
}

/** Turns until `condition` holds; throws after `timeoutMs`, so a wrong expectation fails instead of hanging. */
export async function turnsUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`the condition never held within ${timeoutMs} ms`);
    await turn();
  }
}
