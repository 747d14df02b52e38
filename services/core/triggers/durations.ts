/**
 * Durations as ops people write them in rule files: a whole number and one unit, e.g. 15m.
 * Pure: no I/O.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h|d)$/;

/** Milliseconds of a duration like `15m`, `24h`, `30d`, or null when the text is not one. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}
