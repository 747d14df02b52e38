/**
 * Decides whether a repeated message is worth another log line: the first of a kind passes, then
 * at most one per `windowMs`, carrying how many were held back. A client that retries every
 * 50 ms while its server is down then writes a line every 30 s, not twenty a second.
 */
export class RepeatLimiter {
  private readonly seen = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 30_000,
    private readonly clock: () => number = Date.now,
    /** Bounds memory when messages vary (ports, ids); the oldest kind is forgotten first. */
    private readonly maxKinds = 100,
  ) {}

  /** Null to stay silent; otherwise log now, mentioning `suppressed` earlier occurrences. */
  admit(kind: string): { suppressed: number } | null {
    const now = this.clock();
    const entry = this.seen.get(kind);
    if (entry !== undefined && now - entry.loggedAt < this.windowMs) {
      entry.suppressed += 1;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.delete(kind);
    this.seen.set(kind, { loggedAt: now, suppressed: 0 });
    if (this.seen.size > this.maxKinds) this.seen.delete(this.seen.keys().next().value as string);
    return { suppressed };
  }

  /**
   * Forgets everything, e.g. once the connection is back, so the next failure is news again.
   * Returns how many occurrences were held back and never reported.
   */
  reset(): number {
    let suppressed = 0;
    for (const entry of this.seen.values()) suppressed += entry.suppressed;
    this.seen.clear();
    return suppressed;
  }
}
