import type { LogInspector, LogView } from '../../services/kit/log-binding';

/**
 * Kafka's side of partition 0 for a log binding (log-binding.ts), as a test sets it: the group's
 * commit and the log's range, with no broker.
 */
export class MemoryLog implements LogInspector {
  committed: LogView['committed'] = null;
  low = 0n;
  high = 1_000n;
  async view(): Promise<LogView> {
    return { committed: this.committed, low: this.low, high: this.high };
  }
  async logEnds(): Promise<Map<number, bigint>> {
    return new Map([[0, this.high]]);
  }
}
