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
