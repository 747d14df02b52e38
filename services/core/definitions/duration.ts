/**
 * The one duration grammar of definition files (triggers, segments, campaigns): a whole number
 * and one unit, no space: `500ms`, `30s`, `15m`, `24h`, `7d`. Units: ms, s, m, h, d (weeks are
 * not a unit; write 14d). Each field sets its own shortest and longest value. Pure: no I/O.
 */
import { z } from 'zod';
import { expecting, show } from './problems';

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The longest duration any definition field accepts (365 days). */
export const MAX_DURATION_MS = 365 * DAY_MS;

const UNIT_MS = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;
const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h|d)$/;

export const DURATION_HINT = 'like 15m, 24h, 30d';

/** Milliseconds of a duration like `30s`, `15m`, `24h`, `30d`, or null when the text is not one. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** The shortest exact spelling ("7d", "36h", "90m", "45s"); a day reads as 24h, as people say it; sub-second rests are rounded. */
export function formatDuration(ms: number): string {
  if (ms >= 2 * DAY_MS && ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms >= HOUR_MS && ms % HOUR_MS === 0) return `${ms / HOUR_MS}h`;
  if (ms >= MINUTE_MS && ms % MINUTE_MS === 0) return `${ms / MINUTE_MS}m`;
  if (ms >= SECOND_MS || ms === 0) return `${Math.round(ms / SECOND_MS)}s`;
  return `${ms}ms`;
}

/** An age for reasons, coarse on purpose ("3d", "5h", "12m", "40s"): reasons are for people. */
export function formatAge(ms: number): string {
  if (ms >= DAY_MS) return `${Math.floor(ms / DAY_MS)}d`;
  if (ms >= HOUR_MS) return `${Math.floor(ms / HOUR_MS)}h`;
  if (ms >= MINUTE_MS) return `${Math.floor(ms / MINUTE_MS)}m`;
  return `${Math.floor(ms / SECOND_MS)}s`;
}

/** A duration as written and in milliseconds; the text goes into trigger contexts. */
export interface Duration {
  text: string;
  ms: number;
}

export interface DurationLimits {
  /** The shortest allowed; 0 allows zero. Default 1ms: any positive duration. */
  minMs?: number;
  /** Default MAX_DURATION_MS. */
  maxMs?: number;
}

/** Why `text` is not an acceptable duration within the limits, or null when it is. */
export function durationProblem(text: string, { minMs = 1, maxMs = MAX_DURATION_MS }: DurationLimits = {}): string | null {
  const ms = parseDuration(text);
  if (ms === null) return `is not a duration; expected ${DURATION_HINT}`;
  if (ms > maxMs) return `is longer than the longest allowed, ${formatDuration(maxMs)}`;
  if (ms === 0 && minMs > 0) return `is zero; expected a positive duration ${DURATION_HINT}`;
  if (ms < minMs) return `is shorter than the shortest allowed, ${formatDuration(minMs)}`;
  return null;
}

/** A zod schema for a duration field: text like `30s` -> Duration, with messages that show the value. */
export function durationSchema(limits: DurationLimits = {}): z.ZodType<Duration> {
  return z
    .string({ error: expecting('a duration', DURATION_HINT) })
    .check((ctx) => {
      const problem = durationProblem(ctx.value, limits);
      if (problem !== null) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${show(ctx.value)} ${problem}` });
    })
    .transform((text) => ({ text: text.trim(), ms: parseDuration(text)! }));
}
