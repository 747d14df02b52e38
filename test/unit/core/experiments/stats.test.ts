/**
 * services/core/experiments/stats.ts against (1) the same formulas written out plainly in
 * stats.textbook.ts (own normal, chi-squared and t distributions, no jstat), to 1e-9 relative,
 * and (2) scipy 1.17.1, once: the literals in SCIPY below are the output of
 *   python3 test/unit/core/experiments/reference.py   (its STATS_SCIPY part)
 * (scipy.stats.binomtest(x, n).proportion_ci(method='wilson'), ttest_ind_from_stats(equal_var=False),
 * t.interval, chi2_contingency(correction=False), chisquare, norm; Holm and the mSPRT written
 * out in that script), to 1e-6 relative.
 *
 * Student t figures (Welch's p and interval, the mean's interval) are held to T_REL = 1e-6
 * only: jstat's t goes through its incomplete beta, whose continued fraction stops at a
 * relative step of 3e-7 (jstat 1.9.6 betacf), so its t is good to ~1e-7, not 1e-9.
 */
import {
  MIXING_SD,
  alwaysValidMeans,
  alwaysValidP,
  alwaysValidProportions,
  chiSquaredHomogeneity,
  chiSquaredUpper,
  goodnessOfFit,
  holm,
  meanInterval,
  normalCritical,
  tCritical,
  tTwoSided,
  twoProportionTest,
  welch,
  wilson,
} from '../../../../services/core/experiments';
import * as textbook from './stats.textbook';
import { expectClose } from './stats.textbook';

const REL = 1e-9;
const T_REL = 1e-6;
const SCIPY_REL = 1e-6;

// python3 test/unit/core/experiments/reference.py (STATS_SCIPY), scipy 1.17.1.
const SCIPY = {
  z975: 1.959963984540054,
  wilson: {"0/20": [0.0, 0.0, 0.16112515805281935], "20/20": [1.0, 0.8388748419471808, 1.0], "1/3": [0.3333333333333333, 0.06149194472039626, 0.7923403991979523], "250/1000": [0.25, 0.2241530989836914, 0.27776028025908617], "7/10000": [0.0007, 0.0003391263316879598, 0.0014443344412696888]} as Record<string, number[]>,
  wilson90: [0.1131554135188371, 0.19618759893950585],
  twoProportions: {"difference": 0.014117647058823533, "low": -0.0023325575800843233, "high": 0.03056785169773139, "statistic": 1.6778288448295207, "df": null, "p": 0.09338051655126794, "pNorm": 0.09338051655126825},
  welch: {"difference": 85.29411764705881, "low": -24.687235568316495, "high": 195.27547086243413, "statistic": 1.520980848995207, "df": 1907.6673163714777, "p": 0.1284303673036628},
  welchSmall: {"difference": -1.0, "low": -3.0391637921862547, "high": 1.0391637921862547, "statistic": -1.1281521496355325, "df": 8.111731843575418, "p": 0.2915152851979074},
  meanInterval: [2.5, 1.6432676883767394, 3.3567323116232606],
  chiSquared: [5.629892843262451, 0.059907928423208204, 2.0],
  goodnessOfFit: [5.76, 0.01639507184919225],
  goodnessOfFit3: [5.5, 0.06392786120670757],
  holm: [0.04, 0.09, 0.09, 0.025, 0.5],
  msprtProportions: 0.9527558859518314,
  msprtProportionsWide: 0.2925520970357974,
  msprtMeans: 0.9802026588862237,
  chi2Upper: 0.06292623645904312,
  tTwoSided: 0.04254951939535593,
  tCritical: 2.0256425230779604,
};

describe('distributions (jstat) against the textbook and scipy', () => {
  test('normal critical value', () => {
    expectClose(normalCritical(0.95), textbook.zCritical(0.95), REL, 'z 0.95');
    expectClose(normalCritical(0.95), SCIPY.z975, SCIPY_REL, 'z 0.95 scipy');
    expectClose(normalCritical(0.9), textbook.zCritical(0.9), REL, 'z 0.90');
  });

  test('chi-squared upper tail', () => {
    expectClose(chiSquaredUpper(7.3, 3), textbook.chiSquaredUpper(7.3, 3), REL, 'chi2 sf');
    expectClose(chiSquaredUpper(7.3, 3), SCIPY.chi2Upper, SCIPY_REL, 'chi2 sf scipy');
  });

  test('Student t', () => {
    expectClose(tTwoSided(2.1, 37.3), textbook.tTwoSided(2.1, 37.3), T_REL, 't p');
    expectClose(tTwoSided(2.1, 37.3), SCIPY.tTwoSided, SCIPY_REL, 't p scipy');
    expectClose(tCritical(0.95, 37.3), textbook.tCritical(0.95, 37.3), T_REL, 't quantile');
    expectClose(tCritical(0.95, 37.3), SCIPY.tCritical, SCIPY_REL, 't quantile scipy');
    // Beyond MAX_T_DF the normal stands in (jstat's t quantile breaks down near 1e9 df).
    expectClose(tCritical(0.95, 1e12), SCIPY.z975, SCIPY_REL, 't quantile, huge df');
    expectClose(tTwoSided(1.96, 1e12), textbook.phi(-1.96) * 2, REL, 't p, huge df');
  });
});

describe('wilson', () => {
  test.each([[0, 20], [20, 20], [1, 3], [250, 1000], [7, 10000]])('%d of %d', (x, n) => {
    const got = wilson(x, n);
    const [value, low, high] = textbook.wilson(x, n);
    expect(got.value).toBe(value);
    expectClose(got.low, low, REL, 'low');
    expectClose(got.high, high, REL, 'high');
    const [sv, sl, sh] = SCIPY.wilson[`${x}/${n}`];
    expectClose(got.value, sv, SCIPY_REL, 'value scipy');
    expectClose(got.low, sl, SCIPY_REL, 'low scipy');
    expectClose(got.high, sh, SCIPY_REL, 'high scipy');
  });

  test('all successes reaches 1, none reaches 0', () => {
    expect(wilson(20, 20).high).toBe(1);
    expect(wilson(0, 20).low).toBe(0);
    expect(wilson(0, 20).value).toBe(0);
  });

  test('another confidence', () => {
    const got = wilson(30, 200, 0.9);
    const [, low, high] = textbook.wilson(30, 200, 0.9);
    expectClose(got.low, low, REL, 'low 90');
    expectClose(got.high, high, REL, 'high 90');
    expectClose(got.low, SCIPY.wilson90[0], SCIPY_REL, 'low 90 scipy');
    expectClose(got.high, SCIPY.wilson90[1], SCIPY_REL, 'high 90 scipy');
  });

  test('n = 0: nothing to estimate', () => {
    expect(wilson(0, 0)).toEqual({ value: null, low: null, high: null });
  });

  test('bad input names the value', () => {
    expect(() => wilson(5, 3)).toThrow(/successes 5 exceed n 3/);
    expect(() => wilson(-1, 3)).toThrow(/successes -1/);
    expect(() => wilson(1, 3, 1)).toThrow(/confidence 1/);
    expect(() => wilson(Number.NaN, 3)).toThrow(/successes NaN/);
  });
});

describe('twoProportionTest', () => {
  test('45/1020 against 30/1000', () => {
    const got = twoProportionTest(45, 1020, 30, 1000);
    const want = textbook.twoProportions(45, 1020, 30, 1000);
    for (const key of ['difference', 'low', 'high', 'statistic', 'p'] as const) {
      expectClose(got[key], want[key], REL, key);
      expectClose(got[key], SCIPY.twoProportions[key], SCIPY_REL, `${key} scipy`);
    }
    expect(got.df).toBeNull();
  });

  test('identical groups with no variance: p = 1, no statistic', () => {
    expect(twoProportionTest(0, 10, 0, 20)).toEqual({ difference: 0, low: 0, high: 0, statistic: null, df: null, p: 1 });
    expect(twoProportionTest(10, 10, 20, 20)).toEqual({ difference: 0, low: 0, high: 0, statistic: null, df: null, p: 1 });
  });

  test('a p-value beyond double precision is 0, not NaN (jstat erfc = 1 - erf: absolute accuracy ~1e-16)', () => {
    const got = twoProportionTest(200, 200, 100, 200);
    expect(got.p).toBeGreaterThanOrEqual(0);
    expect(got.p).toBeLessThan(1e-15);
    expectClose(got.statistic, textbook.twoProportions(200, 200, 100, 200).statistic, REL, 'z');
  });

  test('an empty group: all null', () => {
    expect(twoProportionTest(0, 0, 3, 20)).toEqual({ difference: null, low: null, high: null, statistic: null, df: null, p: null });
  });
});

describe('chiSquaredHomogeneity', () => {
  test('3 x 2 table', () => {
    const rows: Array<[number, number]> = [[20, 100], [35, 100], [28, 100]];
    const got = chiSquaredHomogeneity(rows);
    const want = textbook.chiSquaredRows(rows);
    expectClose(got.statistic, want.statistic, REL, 'statistic');
    expectClose(got.p, want.p, REL, 'p');
    expect(got.df).toBe(2);
    expectClose(got.statistic, SCIPY.chiSquared[0], SCIPY_REL, 'statistic scipy');
    expectClose(got.p, SCIPY.chiSquared[1], SCIPY_REL, 'p scipy');
    expect(got.df).toBe(SCIPY.chiSquared[2]);
  });

  test('two rows: the square of the pooled z', () => {
    const got = chiSquaredHomogeneity([[45, 1020], [30, 1000]]);
    expectClose(got.statistic, SCIPY.twoProportions.statistic ** 2, SCIPY_REL, 'z²');
    expectClose(got.p, SCIPY.twoProportions.p, SCIPY_REL, 'p');
  });

  test('empty rows are left out; one row or none: nothing to test', () => {
    expect(chiSquaredHomogeneity([[20, 100], [0, 0], [35, 100], [28, 100]])).toEqual(chiSquaredHomogeneity([[20, 100], [35, 100], [28, 100]]));
    expect(chiSquaredHomogeneity([[20, 100], [0, 0]])).toEqual({ statistic: null, df: 0, p: null });
    expect(chiSquaredHomogeneity([])).toEqual({ statistic: null, df: 0, p: null });
  });

  test('all successes (or none) everywhere: identical rows', () => {
    expect(chiSquaredHomogeneity([[10, 10], [30, 30]])).toEqual({ statistic: 0, df: 1, p: 1 });
    expect(chiSquaredHomogeneity([[0, 10], [0, 30], [0, 5]])).toEqual({ statistic: 0, df: 2, p: 1 });
  });
});

describe('goodnessOfFit (sample-ratio mismatch)', () => {
  test('two arms, 50/50', () => {
    const got = goodnessOfFit([5120, 4880], [0.5, 0.5]);
    const want = textbook.goodnessOfFit([5120, 4880], [0.5, 0.5]);
    expectClose(got.statistic, want.statistic, REL, 'statistic');
    expectClose(got.p, want.p, REL, 'p');
    expectClose(got.statistic, SCIPY.goodnessOfFit[0], SCIPY_REL, 'statistic scipy');
    expectClose(got.p, SCIPY.goodnessOfFit[1], SCIPY_REL, 'p scipy');
    expect(got.df).toBe(1);
  });

  test('shares are normalised', () => {
    const got = goodnessOfFit([2600, 2450, 4950], [1, 1, 2]);
    expectClose(got.statistic, textbook.goodnessOfFit([2600, 2450, 4950], [0.25, 0.25, 0.5]).statistic, REL, 'statistic');
    expectClose(got.statistic, SCIPY.goodnessOfFit3[0], SCIPY_REL, 'statistic scipy');
    expectClose(got.p, SCIPY.goodnessOfFit3[1], SCIPY_REL, 'p scipy');
    expect(got.df).toBe(2);
  });

  test('a share of 0: left out when empty, a certain mismatch when not', () => {
    expect(goodnessOfFit([5120, 0, 4880], [0.5, 0, 0.5])).toEqual(goodnessOfFit([5120, 4880], [0.5, 0.5]));
    expect(goodnessOfFit([5120, 3, 4880], [0.5, 0, 0.5])).toEqual({ statistic: null, df: 2, p: 0 });
  });

  test('nothing sent, or one category: nothing to test', () => {
    expect(goodnessOfFit([0, 0], [0.5, 0.5])).toEqual({ statistic: null, df: 1, p: null });
    expect(goodnessOfFit([10], [1])).toEqual({ statistic: null, df: 0, p: null });
  });

  test('one share per count', () => {
    expect(() => goodnessOfFit([1, 2], [1])).toThrow(/2 counts but 1 shares/);
  });
});

describe('meanInterval', () => {
  test('12 values', () => {
    const got = meanInterval(12, 30, 95);
    const [value, low, high] = textbook.meanInterval(12, 30, 95);
    expectClose(got.value, value, REL, 'value');
    expectClose(got.low, low, T_REL, 'low');
    expectClose(got.high, high, T_REL, 'high');
    expectClose(got.value, SCIPY.meanInterval[0], SCIPY_REL, 'value scipy');
    expectClose(got.low, SCIPY.meanInterval[1], SCIPY_REL, 'low scipy');
    expectClose(got.high, SCIPY.meanInterval[2], SCIPY_REL, 'high scipy');
  });

  test('edges: none, one, no variance', () => {
    expect(meanInterval(0, 0, 0)).toEqual({ value: null, low: null, high: null });
    expect(meanInterval(1, 250, 62500)).toEqual({ value: 250, low: null, high: null });
    expect(meanInterval(4, 0, 0)).toEqual({ value: 0, low: 0, high: 0 });
    expect(meanInterval(4, 20, 100)).toEqual({ value: 5, low: 5, high: 5 });
  });
});

describe('welch', () => {
  type Sums = [number, number, number, number, number, number];
  test.each<[string, Sums, typeof SCIPY.welch]>([
    ['revenue per send', [1020, 240000, 2.1e9, 1000, 150000, 1.2e9], SCIPY.welch],
    ['small samples', [5, 10, 30, 7, 21, 75], SCIPY.welchSmall],
  ])('%s', (_name, args, scipy) => {
    const got = welch(...args);
    const want = textbook.welch(...args);
    expectClose(got.difference, want.difference, REL, 'difference');
    expectClose(got.statistic, want.statistic, REL, 'statistic');
    expectClose(got.df, want.df, REL, 'df');
    expectClose(got.low, want.low, T_REL, 'low');
    expectClose(got.high, want.high, T_REL, 'high');
    expectClose(got.p, want.p, T_REL, 'p');
    for (const key of ['difference', 'low', 'high', 'statistic', 'df', 'p'] as const) expectClose(got[key], scipy[key], SCIPY_REL, `${key} scipy`);
  });

  test('zero variance in both groups', () => {
    expect(welch(10, 0, 0, 12, 0, 0)).toEqual({ difference: 0, low: 0, high: 0, statistic: null, df: null, p: 1 });
    expect(welch(10, 50, 250, 12, 0, 0)).toEqual({ difference: 5, low: 5, high: 5, statistic: null, df: null, p: 0 });
  });

  test('zero variance in one group still has a test', () => {
    const got = welch(10, 0, 0, 12, 120, 2400);
    const b = textbook.sampleVariance(12, 120, 2400) / 12;
    expectClose(got.statistic, -10 / Math.sqrt(b), REL, 't');
    expectClose(got.df, 11, REL, 'df = n2 - 1');
  });

  test('a group of one or none', () => {
    expect(welch(1, 5, 25, 12, 120, 2400)).toEqual({ difference: -5, low: null, high: null, statistic: null, df: null, p: null });
    expect(welch(0, 0, 0, 12, 120, 2400)).toEqual({ difference: null, low: null, high: null, statistic: null, df: null, p: null });
  });
});

describe('holm', () => {
  test('adjusted in input order, monotone, capped at 1', () => {
    const ps = [0.01, 0.04, 0.03, 0.005, 0.5];
    const got = holm(ps);
    const want = textbook.holm(ps);
    got.forEach((p, i) => {
      expectClose(p, want[i], REL, `p${i}`);
      expectClose(p, SCIPY.holm[i], SCIPY_REL, `p${i} reference`);
    });
    expect(holm([0.3, 0.6])).toEqual([0.6, 0.6]);
    expect(holm([0.9, 0.8])).toEqual([1, 1]);
  });

  test('nulls stay null and do not count', () => {
    expect(holm([0.01, null, 0.04])).toEqual([0.02, null, 0.04]);
    expect(holm([])).toEqual([]);
  });
});

describe('always-valid p-value (mSPRT)', () => {
  test('proportions', () => {
    const cases: Array<[[number, number, number, number], number, number]> = [
      [[45, 1020, 30, 1000], 0.002, SCIPY.msprtProportions],
      [[300, 1000, 250, 1000], 0.02, SCIPY.msprtProportionsWide],
    ];
    for (const [args, tau, scipy] of cases) {
      const got = alwaysValidProportions(...args, tau * tau);
      expectClose(got, textbook.msprtProportions(...args, tau), REL, 'mSPRT proportions');
      expectClose(got, scipy, SCIPY_REL, 'mSPRT proportions reference');
    }
    expect(alwaysValidProportions(45, 1020, 30, 1000)).toBe(alwaysValidProportions(45, 1020, 30, 1000, MIXING_SD.conversion ** 2));
  });

  test('means', () => {
    const got = alwaysValidMeans(1020, 240000, 2.1e9, 1000, 150000, 1.2e9, 100);
    expectClose(got, textbook.msprtMeans(1020, 240000, 2.1e9, 1000, 150000, 1.2e9, 10), REL, 'mSPRT means');
    expectClose(got, SCIPY.msprtMeans, SCIPY_REL, 'mSPRT means reference');
  });

  test('edges: no data, no variance, an overwhelming effect', () => {
    expect(alwaysValidProportions(0, 0, 3, 10)).toBeNull();
    expect(alwaysValidProportions(0, 10, 0, 20)).toBe(1);
    expect(alwaysValidProportions(0, 10, 20, 20)).toBeNull();
    expect(alwaysValidMeans(1, 5, 25, 10, 50, 300)).toBeNull();
    expect(alwaysValidP(1, 1e-12, 1)).toBe(0);
    expect(() => alwaysValidP(1, 1, 0)).toThrow(/tau² 0/);
  });

  // The property that makes watching daily safe: under H0 (both arms convert at 5%), the
  // chance that the p-value EVER falls below 0.05 over 40 daily looks stays below 0.05, while
  // the fixed-horizon p-value watched the same way falls below it far more often.
  test('watched daily under no effect, it rarely ever crosses 0.05', () => {
    let seed = 13;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const experiments = 200; // seeded: 0.5% ever cross with the mSPRT, 34.5% with the fixed-horizon p
    let sequentialCrossed = 0;
    let fixedCrossed = 0;
    for (let e = 0; e < experiments; e++) {
      let x1 = 0;
      let x2 = 0;
      let n = 0;
      let sequential = false;
      let fixed = false;
      for (let day = 1; day <= 40; day++) {
        for (let i = 0; i < 250; i++) {
          if (random() < 0.05) x1++;
          if (random() < 0.05) x2++;
        }
        n += 250;
        const p = alwaysValidProportions(x1, n, x2, n, 0.005 ** 2);
        if (p !== null && p < 0.05) sequential = true;
        const z = twoProportionTest(x1, n, x2, n).p;
        if (z !== null && z < 0.05) fixed = true;
      }
      if (sequential) sequentialCrossed++;
      if (fixed) fixedCrossed++;
    }
    expect(sequentialCrossed / experiments).toBeLessThan(0.05);
    expect(fixedCrossed / experiments).toBeGreaterThan(0.1);
  });
});
