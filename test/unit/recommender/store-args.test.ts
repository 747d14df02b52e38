import { DAY_MS, type DeltaRecord } from '../../../services/core/recommendations';
import { applyCoViewsArgs, applyPopularityArgs, readPopularArgs, RecommenderKeys } from '../../../services/recommender/store';

const keys = new RecommenderKeys('t');
const limits = { popularityDays: 7, popularityMaxProducts: 100, neighborsMax: 20, neighborsTtlMs: 5000, popularCacheTtlMs: 1000 };
const DAY = 20_000;

function record(popularity: DeltaRecord['popularity'], coViews: DeltaRecord['coViews'] = []): DeltaRecord {
  return { source: 'behavior.events:2', offset: '41', popularity, coViews };
}

describe('applyPopularityArgs', () => {
  it('is null for a batch without popularity', () => {
    expect(applyPopularityArgs(keys, limits, record([]))).toBeNull();
  });

  it('declares the marks and one bucket per day, and passes each bucket\'s expiry and weights as one JSON argument in that order', () => {
    const call = applyPopularityArgs(keys, limits, record([[DAY, 'p1', 1.5], [DAY - 1, 'p2', 0.25], [DAY, 'p3', 2]]));
    expect(call?.keys).toEqual(['{t:recommender:pop}:marks', `{t:recommender:pop}:d:${DAY}`, `{t:recommender:pop}:d:${DAY - 1}`]);
    expect(call?.args.slice(0, 4)).toEqual(['behavior.events:2', '41', String(8 * DAY_MS), '100']);
    expect(call?.args).toHaveLength(5);
    expect(JSON.parse(call?.args[4] ?? '')).toEqual([
      [String((DAY + 8) * DAY_MS), [['p1', '1.5'], ['p3', '2']]],
      [String((DAY - 1 + 8) * DAY_MS), [['p2', '0.25']]],
    ]);
  });
});

describe('applyCoViewsArgs', () => {
  it('makes one call per touched product, both ways, its increments as one JSON argument', () => {
    const calls = applyCoViewsArgs(keys, limits, record([], [['p1', 'p2', 2], ['p1', 'p3', 1]]));
    expect(calls.map((c) => c.keys)).toEqual([
      ['{t:recommender:p:p1}:co', '{t:recommender:p:p1}:marks'],
      ['{t:recommender:p:p2}:co', '{t:recommender:p:p2}:marks'],
      ['{t:recommender:p:p3}:co', '{t:recommender:p:p3}:marks'],
    ]);
    expect(calls[0].args).toEqual(['behavior.events:2', '41', '5000', '20', JSON.stringify([['p2', '2'], ['p3', '1']])]);
    expect(JSON.parse(calls[1].args[4])).toEqual([['p1', '2']]);
  });

  it('makes none for a batch without co-views', () => {
    expect(applyCoViewsArgs(keys, limits, record([[DAY, 'p1', 1]]))).toEqual([]);
  });
});

describe('readPopularArgs', () => {
  it('declares the cache of today and one bucket per weight, newest first, with the weights in that order', () => {
    const now = DAY * DAY_MS + 5;
    expect(readPopularArgs(keys, limits, { now, weights: [1, 0.5, 0.25], limit: 4 })).toEqual({
      keys: [`{t:recommender:pop}:top:${DAY}`, `{t:recommender:pop}:d:${DAY}`, `{t:recommender:pop}:d:${DAY - 1}`, `{t:recommender:pop}:d:${DAY - 2}`],
      args: ['1000', '100', '4', '1', '0.5', '0.25'],
    });
  });
});
