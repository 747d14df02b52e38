export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * Closed -> open after `failureThreshold` consecutive failures; open -> half-open once
 * `cooldownMs` passed, letting exactly one probe through; the probe's success closes it, its
 * failure opens it for another cool-down.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private probing = false;

  constructor(
    readonly failureThreshold: number,
    readonly cooldownMs: number,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go out now; in half-open only the one probe may. */
  tryAcquire(now: number): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (now - this.openedAt < this.cooldownMs) return false;
      this.set('half_open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  failure(now: number): void {
    this.failures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.current === 'closed' && this.failures >= this.failureThreshold)) {
      this.openedAt = now;
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    this.current = state;
    this.onChange(state);
  }
}
