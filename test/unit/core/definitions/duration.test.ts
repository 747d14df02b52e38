import { DAY_MS, durationProblem, durationSchema, formatAge, formatDuration, HOUR_MS, MINUTE_MS, parseDuration } from '../../../../services/core/definitions';

describe('the duration grammar', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 15 * MINUTE_MS],
    ['24h', 24 * HOUR_MS],
    ['365d', 365 * DAY_MS],
    ['0m', 0],
    [' 7d ', 7 * DAY_MS],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', '15 m', '1w', '1.5h', '-1m', 'm', '15M', '1h30m', '9999999999d'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('checks each field\'s limits and says which one is broken', () => {
    expect(durationProblem('30s')).toBeNull();
    expect(durationProblem('0s')).toBe('is zero; expected a positive duration like 15m, 24h, 30d');
    expect(durationProblem('0s', { minMs: 0 })).toBeNull();
    expect(durationProblem('500ms', { minMs: 1000 })).toBe('is shorter than the shortest allowed, 1s');
    expect(durationProblem('366d')).toBe('is longer than the longest allowed, 365d');
    expect(durationProblem('2h', { maxMs: HOUR_MS })).toBe('is longer than the longest allowed, 1h');
    expect(durationProblem('soon')).toBe('is not a duration; expected like 15m, 24h, 30d');
  });

  it('parses a field into its text and milliseconds, with messages that show the value', () => {
    const schema = durationSchema();
    expect(schema.parse(' 30s ')).toEqual({ text: '30s', ms: 30_000 });
    expect(schema.safeParse('30x', { reportInput: true }).error?.issues[0]?.message).toBe('"30x" is not a duration; expected like 15m, 24h, 30d');
    expect(schema.safeParse(30, { reportInput: true }).error?.issues[0]?.message).toBe('30 is not a duration; expected like 15m, 24h, 30d');
    expect(schema.safeParse(undefined, { reportInput: true }).error?.issues[0]?.message).toBe('is missing; expected a duration (like 15m, 24h, 30d)');
  });

  it('spells a duration exactly, a day as 24h', () => {
    expect([7 * DAY_MS, 2 * DAY_MS, DAY_MS, 36 * HOUR_MS, 90 * MINUTE_MS, 45_000, 500, 0].map(formatDuration)).toEqual([
      '7d', '2d', '24h', '36h', '90m', '45s', '500ms', '0s',
    ]);
  });

  it('shows ages coarsely', () => {
    expect([3 * DAY_MS + 5, 5 * HOUR_MS + 1, 12 * MINUTE_MS + 59_000, 40_500].map(formatAge)).toEqual(['3d', '5h', '12m', '40s']);
  });
});
