import type { RedisClient } from '../../../services/kit/redis';
import { SesEventSentMailLookup } from '../../../services/renderer/sent-lookup';

/** A Redis stand-in with GET only, and a clock that moves only when the lookup sleeps. */
function setup(arrivesAt: number | null) {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const redis = { get: async (key: string) => (arrivesAt !== null && now >= arrivesAt && key === '{p:feedback:sent:t-1}' ? 'ses-1' : null) } as unknown as RedisClient;
  const lookup = new SesEventSentMailLookup(redis, 'p', { waitMs: 10_000, pollMs: 1000, clock: () => now, sleep: async (ms) => { sleeps.push(ms); now += ms; } });
  return { lookup, sleeps, at: () => now };
}

describe('SesEventSentMailLookup', () => {
  it('answers at once when the Send event is recorded', async () => {
    const { lookup, sleeps } = setup(0);
    expect(await lookup.findSent('t-1', { reservedAt: 1_000_000 })).toEqual({ messageId: 'ses-1' });
    expect(sleeps).toEqual([]);
  });

  it('waits for a Send event that comes late, within the bound', async () => {
    const { lookup, at } = setup(1_003_500);
    expect(await lookup.findSent('t-1', { reservedAt: 1_000_000 })).toEqual({ messageId: 'ses-1' });
    expect(at()).toBe(1_004_000);
  });

  it('gives up at reservedAt + waitMs, not later', async () => {
    const { lookup, at } = setup(null);
    expect(await lookup.findSent('t-1', { reservedAt: 995_000 })).toBeNull();
    expect(at()).toBe(1_005_000);
  });

  it('does not wait when the reservation is older than the bound (a late restart)', async () => {
    const { lookup, sleeps } = setup(null);
    expect(await lookup.findSent('t-1', { reservedAt: 900_000 })).toBeNull();
    expect(sleeps).toEqual([]);
  });
});
