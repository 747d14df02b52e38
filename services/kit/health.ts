import type { Logger } from './logger';

/** One condition `/readyz` checks: `check()` is null while it holds, else a short reason. */
export interface ReadinessCheck {
  name: string;
  check(): string | null;
}

/** Reaches one dependency: resolves when it answered, rejects (with a reason) when it did not. */
export type Probe = () => Promise<unknown>;

export interface HealthMonitorOptions {
  /** A probe per dependency, e.g. `{ kafka, redis, registry }`; each name becomes a check. */
  probes: Record<string, Probe>;
  /** Time between the end of one round of probes and the start of the next. */
  intervalMs?: number;
  /** A probe that has not answered by then counts as failing. */
  timeoutMs?: number;
  /** Gets one line when a dependency is lost and one when it is back, not one per probe. */
  logger?: Logger;
}

export const DEFAULT_HEALTH_INTERVAL_MS = 2000;
export const DEFAULT_PROBE_TIMEOUT_MS = 1500;
const MAX_REASON_LENGTH = 200;
const NOT_CHECKED = 'not checked yet';

interface ProbeState {
  probe: Probe;
  reason: string | null;
  /** The call still running (maybe past its timeout): the next round waits for it rather than piling up calls. */
  pending: Promise<unknown> | undefined;
}

/**
 * Probes the service's dependencies (Kafka, Redis, the registry) every few seconds, each call
 * bounded by a timeout and never overlapping the previous one, and exposes each as a
 * ReadinessCheck. The probes are passed in, so it runs against stubs in unit tests.
 */
export class HealthMonitor {
  private readonly states: Map<string, ProbeState>;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.states = new Map(
      Object.entries(options.probes).map(([name, probe]) => [name, { probe, reason: NOT_CHECKED, pending: undefined }]),
    );
  }

  /** One check per probe, reading the result of the latest round (so `/readyz` never waits on I/O). */
  checks(): ReadinessCheck[] {
    return [...this.states.keys()].map((name) => ({ name, check: () => this.states.get(name)?.reason ?? null }));
  }

  /** Probes now, then every intervalMs after each round ends, until stop(). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const loop = async (): Promise<void> => {
      await this.probeOnce();
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), this.intervalMs);
      // Probing alone must not keep a process alive that has nothing else to do.
      this.timer.unref();
    };
    void loop();
  }

  /** Runs one round of every probe (each bounded by timeoutMs); start() repeats it. */
  probeOnce(): Promise<void> {
    this.round ??= (async () => {
      try {
        await Promise.all([...this.states.entries()].map(([name, state]) => this.probe(name, state)));
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  /** Stops probing; the checks keep their last results. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async probe(name: string, state: ProbeState): Promise<void> {
    if (state.pending === undefined) {
      const call = startProbe(state.probe).finally(() => {
        if (state.pending === call) state.pending = undefined;
      });
      // The outcome is read below; this only keeps a late rejection from being "unhandled".
      call.catch(() => undefined);
      state.pending = call;
    }
    const reason = await settleWithin(state.pending, this.timeoutMs);
    this.record(name, state, reason);
  }

  private record(name: string, state: ProbeState, reason: string | null): void {
    const before = state.reason;
    state.reason = reason;
    const logger = this.options.logger;
    if (logger === undefined || before === reason) return;
    if (reason !== null && (before === null || before === NOT_CHECKED)) logger.warn({ check: name, reason }, 'dependency unreachable; not ready');
    else if (reason === null && before !== NOT_CHECKED) logger.info({ check: name }, 'dependency reachable again');
  }
}

/** Calls `probe` now, turning a synchronous throw into a rejection. */
function startProbe(probe: Probe): Promise<unknown> {
  try {
    return Promise.resolve(probe());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Null when `call` resolves within `timeoutMs`, else why not. */
async function settleWithin(call: Promise<unknown>, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([call.then(() => null, (error: unknown) => reasonOf(error)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short, single-line reason from an error, with any URL credentials masked. */
export function reasonOf(error: unknown): string {
  // Duck-typed: errors from another realm (Node internals under a test VM) are not `instanceof Error`.
  const { message, name } = (typeof error === 'object' && error !== null ? error : {}) as { message?: unknown; name?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : typeof name === 'string' ? name : String(error);
  const line = withoutCredentials(text.replace(/\s+/g, ' ').trim()) || 'failed';
  return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 3)}...` : line;
}

/** `text` with the user:password of any URL in it masked (`redis://:***@host`), safe to log or show. */
export function withoutCredentials(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*:)[^/@\s]+@/g, '$1***@').replace(/(\/\/)([^/:@\s]+)@/g, '$1***@');
}
