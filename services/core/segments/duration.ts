/** Durations as written in definition files ("15m", "24h", "30d") and as shown in reasons. */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The shortest and longest trailing window a definition may use. */
export const MIN_WINDOW_MS = MINUTE_MS;
export const MAX_WINDOW_MS = 365 * DAY_MS;

const UNIT_MS: Record<string, number> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };
const DURATION_PATTERN = /^([1-9][0-9]{0,5})(m|h|d)$/;

/** Milliseconds of a duration like "15m", "24h", "30d", or null when the text is not one. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return null;
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** The shortest exact spelling of a duration ("90d", "36h", "1m"); sub-minute rests are rounded. */
export function formatDuration(ms: number): string {
  if (ms % DAY_MS === 0 && ms >= DAY_MS) return `${ms / DAY_MS}d`;
  if (ms % HOUR_MS === 0 && ms >= HOUR_MS) return `${ms / HOUR_MS}h`;
  if (ms >= MINUTE_MS) return `${Math.round(ms / MINUTE_MS)}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** An age for reasons, coarse on purpose ("3d", "5h", "12m", "40s"): reasons are for people. */
export function formatAge(ms: number): string {
  if (ms >= DAY_MS) return `${Math.floor(ms / DAY_MS)}d`;
  if (ms >= HOUR_MS) return `${Math.floor(ms / HOUR_MS)}h`;
  if (ms >= MINUTE_MS) return `${Math.floor(ms / MINUTE_MS)}m`;
  return `${Math.floor(ms / 1000)}s`;
}
