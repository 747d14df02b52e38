/**
 * An interrupted bench (Ctrl-C, SIGTERM) cleans up as a failed one does. Without this, Node
 * exits on the signal at once and leaves the run behind: its topics (millions of records), its
 * Redis keys (one interrupted 200,000-event run left 240,288), its registry subjects, and any
 * child process a terminal did not signal too (forked service instances, the Kafka Streams JVM,
 * the Redis Cluster nodes).
 *
 * The bench's child processes are registered here (`tracked`); on the first SIGINT or SIGTERM
 * they are stopped first (so none writes again behind the clean-up), then the clean-up runs,
 * then the process exits with 128 + the signal's number. A second signal exits at once.
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

const children = new Set<ChildProcess>();

/** Registers a child process of the bench: an interruption stops it. Returns the child. */
export function tracked<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM to every registered child still running; SIGKILL to those not gone after `graceMs`. */
export async function stopChildren(graceMs: number, all: Iterable<ChildProcess> = children): Promise<void> {
  const alive = [...all].filter(running);
  await Promise.all(
    alive.map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** What onInterrupt needs from its process (the real one, or a stand-in in tests). */
export interface InterruptibleProcess {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): never;
}

export interface InterruptOptions {
  /** Deletes what the run created; may run while the interrupted work still runs. */
  cleanUp: () => Promise<void>;
  progress: (text: string) => void;
  /** How long the children get to exit on SIGTERM before SIGKILL. */
  graceMs?: number;
  /** The most the clean-up may take before the process exits anyway. */
  cleanUpTimeoutMs?: number;
  process?: InterruptibleProcess;
  children?: Iterable<ChildProcess>;
}

/**
 * On SIGINT or SIGTERM: stop the children, run `cleanUp` (at most `cleanUpTimeoutMs`), exit
 * with 128 + the signal's number. Returns a function that removes the handlers (the run ended).
 */
export function onInterrupt(options: InterruptOptions): () => void {
  const proc = options.process ?? process;
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let interrupted = false;
  const handler = (signal: NodeJS.Signals): void => {
    const code = 128 + (constants.signals[signal] ?? 2);
    if (interrupted) return proc.exit(code);
    interrupted = true;
    options.progress(`${signal}: stopping the bench's processes and deleting this run's topics and Redis keys (a second signal exits at once)`);
    void (async () => {
      try {
        await stopChildren(options.graceMs ?? 5000, options.children);
        await withTimeout(options.cleanUp(), options.cleanUpTimeoutMs ?? 60_000);
        options.progress('cleaned up');
      } catch (error) {
        options.progress(`clean-up incomplete: ${error instanceof Error ? error.message : String(error)}`);
      }
      proc.exit(code);
    })();
  };
  for (const signal of signals) proc.on(signal, handler);
  return () => {
    for (const signal of signals) proc.removeListener(signal, handler);
  };
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it took longer than ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `work` run once however often it is called: every call gets the first call's promise. */
export function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}
