import { quietHoursEnd, resolveTimeZone } from '../../../../services/core/campaigns';
import { TIME_ZONE_CACHE_SIZE, timeZoneCacheSize } from '../../../../services/core/campaigns/quiet-hours';
import type { QuietHours } from '../../../../services/core/campaigns';

function window(start: string, end: string): QuietHours {
  const minute = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3));
  return { start, end, startMinute: minute(start), endMinute: minute(end) };
}

const EVENING = window('21:00', '08:00');
const at = (iso: string) => Date.parse(iso);

describe('quietHoursEnd', () => {
  it.each([
    ['UTC, evening part', 'UTC', '2025-06-10T22:30:00Z', '2025-06-11T08:00:00Z'],
    ['Berlin (CEST), evening -> next morning', 'Europe/Berlin', '2025-06-10T20:30:00Z', '2025-06-11T06:00:00Z'],
    ['Berlin, after local midnight -> same morning', 'Europe/Berlin', '2025-06-11T00:30:00Z', '2025-06-11T06:00:00Z'],
    ['Tokyo, local evening is the UTC afternoon', 'Asia/Tokyo', '2025-06-10T12:30:00Z', '2025-06-10T23:00:00Z'],
    ['Los Angeles, exactly at the start (inclusive)', 'America/Los_Angeles', '2025-06-10T04:00:00Z', '2025-06-10T15:00:00Z'],
    ['Kolkata, a half-hour offset', 'Asia/Kolkata', '2025-06-10T18:00:00Z', '2025-06-11T02:30:00Z'],
    ['one second before the end', 'UTC', '2025-06-11T07:59:59Z', '2025-06-11T08:00:00Z'],
  ])('%s', (_label, zone, now, until) => {
    expect(new Date(quietHoursEnd(at(now), EVENING, zone) as number).toISOString()).toBe(new Date(until).toISOString());
  });

  it.each([
    ['at the end (exclusive)', 'UTC', '2025-06-11T08:00:00Z'],
    ['mid-afternoon in Berlin', 'Europe/Berlin', '2025-06-10T12:00:00Z'],
    ['20:59 in New York', 'America/New_York', '2025-06-11T00:59:00Z'],
  ])('is null outside quiet hours: %s', (_label, zone, now) => {
    expect(quietHoursEnd(at(now), EVENING, zone)).toBeNull();
  });

  it('uses the summer offset on the spring-forward day in Berlin (08:00 CEST = 06:00Z, not 07:00Z)', () => {
    // 2025-03-30: 02:00 CET -> 03:00 CEST. 22:00 CET on the 29th is 21:00Z.
    expect(new Date(quietHoursEnd(at('2025-03-29T21:00:00Z'), EVENING, 'Europe/Berlin') as number).toISOString()).toBe('2025-03-30T06:00:00.000Z');
  });

  it('uses the winter offset on the fall-back day in New York (08:00 EST = 13:00Z, not 12:00Z)', () => {
    // 2025-11-02: 02:00 EDT -> 01:00 EST. 22:00 EDT on Nov 1 is 02:00Z on Nov 2.
    expect(new Date(quietHoursEnd(at('2025-11-02T02:00:00Z'), EVENING, 'America/New_York') as number).toISOString()).toBe('2025-11-02T13:00:00.000Z');
  });

  it('ends at the jump when the end time does not exist (spring-forward gap)', () => {
    // 02:30 never happens in Berlin on 2025-03-30; local time jumps from 02:00 to 03:00 at 01:00Z.
    const until = quietHoursEnd(at('2025-03-29T22:00:00Z'), window('22:00', '02:30'), 'Europe/Berlin');
    expect(new Date(until as number).toISOString()).toBe('2025-03-30T01:00:00.000Z');
  });

  it('ends at the first of two equal local times (fall-back overlap)', () => {
    // 01:30 happens twice in New York on 2025-11-02: at 05:30Z (EDT) and 06:30Z (EST).
    const until = quietHoursEnd(at('2025-11-02T03:00:00Z'), window('22:00', '01:30'), 'America/New_York');
    expect(new Date(until as number).toISOString()).toBe('2025-11-02T05:30:00.000Z');
  });

  it('handles a window that does not wrap midnight', () => {
    const lunch = window('12:00', '14:00');
    expect(new Date(quietHoursEnd(at('2025-06-10T12:15:00Z'), lunch, 'UTC') as number).toISOString()).toBe('2025-06-10T14:00:00.000Z');
    expect(quietHoursEnd(at('2025-06-10T14:00:00Z'), lunch, 'UTC')).toBeNull();
    expect(quietHoursEnd(at('2025-06-10T11:59:00Z'), lunch, 'UTC')).toBeNull();
  });
});

describe('resolveTimeZone', () => {
  it('keeps a valid IANA zone and falls back to UTC otherwise', () => {
    expect(resolveTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(resolveTimeZone('Mars/Olympus')).toBe('UTC');
    expect(resolveTimeZone('')).toBe('UTC');
    expect(resolveTimeZone(null)).toBe('UTC');
  });
});

describe('resolveTimeZone', () => {
  it('keeps a bounded number of formatters, however many spellings of zones the profiles bring', () => {
    // Intl takes any letter case of a zone name: each spelling is a key of its own.
    const spellings = (name: string) => Array.from({ length: 2 ** 10 }, (_, bits) => [...name].map((c, i) => (i < 10 && bits & (1 << i) ? c.toUpperCase() : c.toLowerCase())).join(''));
    for (const zone of [...spellings('europe/berlin'), ...spellings('america/new_york')]) expect(resolveTimeZone(zone)).toBe(zone);
    expect(timeZoneCacheSize()).toBe(TIME_ZONE_CACHE_SIZE);
    expect(resolveTimeZone('Not/AZone')).toBe('UTC');
  });
});
