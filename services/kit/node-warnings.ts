/**
 * kafkajs 2.2.4 (its last release) arms a timer with a negative delay in its request queue:
 * `throttledUntil` starts at -1, so `scheduleCheckPendingRequests` calls
 * `setTimeout(check, -1 - Date.now())` (tulios/kafkajs#1751). Node has always run such a timer
 * after 1 ms; since Node 23 it also prints a TimeoutNegativeWarning to stderr (once per process),
 * so on Node 24 every service and tool that connects to Kafka printed one. This drops that
 * warning when kafkajs's request queue set the timer, and lets every other warning through.
 */
const REQUEST_QUEUE_FRAME = /[\\/]kafkajs[\\/]src[\\/]network[\\/]requestQueue[\\/]/;

/** True for the TimeoutNegativeWarning of kafkajs's request queue (`stack`: where it was emitted). */
export function isKafkajsNegativeTimeout(type: unknown, stack: string | undefined): boolean {
  return type === 'TimeoutNegativeWarning' && REQUEST_QUEUE_FRAME.test(stack ?? '');
}

let installed = false;

/** Installs the filter on process.emitWarning, once per process (the kit's Kafka clients call it). */
export function ignoreKafkajsNegativeTimeouts(): void {
  if (installed) return;
  installed = true;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    // emitWarning(warning, type, code, ctor) or emitWarning(warning, { type, code, detail })
    const options = rest[0];
    const type = typeof options === 'string' ? options : (options as { type?: unknown } | undefined)?.type;
    if (isKafkajsNegativeTimeout(type, new Error().stack)) return;
    (emitWarning as (...args: unknown[]) => void).apply(this, [warning, ...rest]);
  } as typeof process.emitWarning;
}
