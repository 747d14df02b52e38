/**
 * The base of every error Kairos throws on purpose. Runners decide retry, dead-letter or crash
 * from `retriable` alone, so subclasses only add context and never need their own handling.
 */
export class KairosError extends Error {
  /** True when the same operation may succeed if tried again (a timeout, a lost connection). */
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // new.target keeps the subclass name in logs and stack traces without each subclass repeating it.
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** One bad or missing environment variable. `value` is absent for secrets and unset variables. */
export interface ConfigProblem {
  variable: string;
  value?: string;
  /** What is wrong, e.g. `is not a host:port list`. */
  reason: string;
  /** What would be accepted, e.g. `like 127.0.0.1:9092,10.0.0.2:9092`. */
  expected: string;
}

/** Renders one problem as `VAR: "value" reason; expected ...`. */
export function formatConfigProblem(problem: ConfigProblem): string {
  const shown = problem.value === undefined ? '' : `${JSON.stringify(problem.value)} `;
  return `${problem.variable}: ${shown}${problem.reason}; expected ${problem.expected}`;
}

/** The configuration is invalid; retrying cannot help, the operator has to fix the environment. */
export class ConfigError extends KairosError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((p) => `  ${formatConfigProblem(p)}`);
    super([`invalid configuration (${count}):`, ...lines].join('\n'), { retriable: false });
    this.problems = problems;
  }
}

/**
 * A dependency a variable points at (REDIS_URL, ...) did not answer at start-up. Like a
 * ConfigError it ends the process with exit code 78: the operator has to start the dependency
 * or fix the variable, and a service that idles unready would only hide that.
 */
export class DependencyUnreachableError extends KairosError {
  constructor(
    /** The variable naming the dependency, e.g. REDIS_URL. */
    readonly variable: string,
    /** Its value with any credentials removed. */
    readonly target: string,
    readonly reason: string,
    /** What the operator can do about it. */
    readonly remedy: string,
  ) {
    super(`cannot reach ${variable}=${target}: ${reason}; ${remedy}`, { retriable: true });
  }
}

/**
 * A customer's stored state cannot be decoded (corrupt, or written by another state version).
 * Not retriable: reading it again gives the same bytes. The processor dead-letters that
 * customer's records and goes on with the rest of the partition.
 */
export class CorruptStateError extends KairosError {
  constructor(
    readonly customerId: string,
    readonly detail: string,
  ) {
    super(`the stored state of a customer cannot be decoded: ${detail}`, { retriable: false });
  }
}

/** Decodes a stored state, turning any failure into a CorruptStateError for that customer. */
export function decodeStateOf<T>(customerId: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw new CorruptStateError(customerId, error instanceof Error ? error.message : String(error));
  }
}
