import type { Logger } from 'pino';

/** One step of an orderly shutdown, e.g. "stop consumer", "disconnect producer". */
export interface ShutdownStep {
  name: string;
  run(): Promise<unknown>;
}

/**
 * How long a graceful stop may take before the process exits anyway (code 1). The Kubernetes
 * manifests' terminationGracePeriodSeconds is derived from it (infra/k8s/base).
 */
export const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * On the first SIGTERM or SIGINT runs `steps` in order (each failure logged, the rest still
 * run) and exits 0; a second signal exits at once with 130. A step that hangs is cut off
 * after `timeoutMs` so the process never outlives its supervisor's patience.
 */
export function shutdownOnSignals(
  logger: Logger,
  steps: () => ShutdownStep[],
  options: { timeoutMs?: number; exit?: (code: number) => void } = {},
): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown = false;
  const handle = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal; exiting now');
      exit(130);
      return;
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: options.timeoutMs ?? SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
      exit(1);
    }, options.timeoutMs ?? SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    void (async () => {
      for (const step of steps()) {
        try {
          await step.run();
        } catch (err) {
          logger.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('stopped');
      exit(0);
    })();
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
