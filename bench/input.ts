/** What one throughput measurement reads: the shared input topics and the run's frozen clock. */
export interface Input {
  events: string;
  profiles: string;
  count: number;
  partitions: number;
  /** The frozen service clock of the run (every event is at or before it). */
  clock: number;
}
