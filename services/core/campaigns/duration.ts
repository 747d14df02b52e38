/** Durations as written in campaigns.yaml ("30m", "24h", "7d") and as shown in reasons. */

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^([1-9][0-9]{0,5})(s|m|h|d)$/;

/** Milliseconds of a duration like "15m", "24h", "7d", or null when the text is not one. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  return match === null ? null : Number(match[1]) * UNIT_MS[match[2]];
}

/** A short exact spelling of a duration ("7d", "24h", "90m", "45s"); a day reads as 24h, as people write it. */
export function formatDuration(ms: number): string {
  if (ms >= 2 * UNIT_MS.d && ms % UNIT_MS.d === 0) return `${ms / UNIT_MS.d}d`;
  for (const unit of ['h', 'm'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
