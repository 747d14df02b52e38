/**
 * Quiet hours in the customer's own time zone, with Intl only: is a moment quiet, and when do
 * quiet hours end. Local wall-clock times are handled as "wall ms" (the local date and time
 * read as if it were UTC), which makes day arithmetic and DST gaps explicit.
 */
import { BoundedCache } from '../bounded-cache';
import type { QuietHours } from './model';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/**
 * Formatters by the time zone as given. The zone comes from customer profiles, and Intl takes
 * many spellings of one zone (any letter case, offsets like "+05:30"), so the cache is bounded.
 */
export const TIME_ZONE_CACHE_SIZE = 1000;
const formatters = new BoundedCache<Intl.DateTimeFormat>(TIME_ZONE_CACHE_SIZE);

/** How many time-zone formatters are kept (tests). */
export function timeZoneCacheSize(): number {
  return formatters.size;
}

/** A usable IANA time zone: the given one when Intl knows it, else UTC. */
export function resolveTimeZone(timeZone: string | null | undefined): string {
  if (typeof timeZone !== 'string' || timeZone.trim() === '') return 'UTC';
  try {
    formatter(timeZone);
    return timeZone;
  } catch {
    return 'UTC';
  }
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  return formatters.get(
    timeZone,
    () =>
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }),
  );
}

/** The local date and time of `instant` in `timeZone`, as wall ms (whole seconds). */
export function wallMs(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second);
}

function offsetAt(instant: number, timeZone: string): number {
  return wallMs(instant, timeZone) - Math.floor(instant / 1000) * 1000;
}

/**
 * The first instant whose local time is `wall` or later. Usually the one instant showing that
 * wall time; on a fall-back day the earlier of two; in a spring-forward gap the transition.
 */
export function firstInstantAtOrAfterWall(wall: number, timeZone: string): number {
  const offsets = [...new Set([offsetAt(wall - DAY_MS, timeZone), offsetAt(wall + DAY_MS, timeZone)])];
  const exact = offsets.map((offset) => wall - offset).filter((instant) => wallMs(instant, timeZone) === wall);
  if (exact.length > 0) return Math.min(...exact);
  // In a gap: local time jumps over `wall`; find the jump by bisection (to the second).
  let low = Math.min(...offsets.map((offset) => wall - offset));
  let high = Math.max(...offsets.map((offset) => wall - offset));
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000;
    if (wallMs(middle, timeZone) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

/** Whether a local minute-of-day falls in the window [start, end), which may wrap midnight. */
function inWindow(minute: number, quiet: QuietHours): boolean {
  return quiet.startMinute < quiet.endMinute
    ? minute >= quiet.startMinute && minute < quiet.endMinute
    : minute >= quiet.startMinute || minute < quiet.endMinute;
}

/** When quiet hours end if `now` is inside them (epoch ms), else null. */
export function quietHoursEnd(now: number, quiet: QuietHours, timeZone: string): number | null {
  const wall = wallMs(now, timeZone);
  const minute = Math.floor((wall % DAY_MS) / MINUTE_MS);
  if (!inWindow(minute, quiet)) return null;
  const midnight = wall - (wall % DAY_MS);
  // The end falls tomorrow when the window wraps and we are in its evening part.
  const endsTomorrow = quiet.startMinute > quiet.endMinute && minute >= quiet.startMinute;
  const endWall = midnight + (endsTomorrow ? DAY_MS : 0) + quiet.endMinute * MINUTE_MS;
  return Math.max(firstInstantAtOrAfterWall(endWall, timeZone), now + 1);
}
