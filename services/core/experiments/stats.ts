/**
 * The statistics of an experiment report: intervals, tests, the many-comparisons correction
 * and the always-valid (sequential) p-value. Every distribution (normal, chi-squared, Student
 * t) is jstat's; this file is only the glue: the textbook formulas that feed them.
 *
 * Contract for every function: the inputs are counts and sums over sends (see model.ts); a
 * figure that cannot be computed (no sends, an undefined variance) is null, never NaN or
 * Infinity, so a report is always valid JSON. Bad inputs (negative counts, successes above n,
 * a confidence outside (0, 1)) throw a RangeError naming the value.
 *
 * Accuracy: normal and chi-squared p-values are good to ~1e-16 absolute (jstat takes tails as
 * 1 - cdf: a p near 1e-15 is only "tiny", and may be 0; never NaN). jstat's
 * Student t goes through its incomplete beta, whose continued fraction stops at a relative step
 * of 3e-7: t p-values and quantiles are good to ~1e-7 relative (better than any decision needs).
 * Beyond MAX_T_DF degrees of freedom jstat's t quantile breaks down; there the normal is used,
 * which differs from the t by less than 1.2e-7 relative.
 * Pure: no I/O.
 */
import { jStat } from 'jstat';
import type { ComparedMetric, Estimate } from './model';

/** Above this many degrees of freedom the t distribution is replaced by the normal (see above). */
export const MAX_T_DF = 1e7;

/**
 * The mSPRT's mixing standard deviation tau per metric, in the metric's units (a proportion, or
 * cents per send): the size of effect the sequential test is tuned to find fastest. Each is a
 * 10% relative lift on a typical baseline: open 20%, click-through 3%, click-to-open 15%,
 * conversion 2%, revenue per recipient 100 cents. Any tau > 0 keeps the p-value valid; a tau
 * far from the real effect only costs power (more sends before it becomes small).
 */
export const MIXING_SD: Readonly<Record<ComparedMetric, number>> = {
  open: 0.02,
  clickThrough: 0.003,
  clickToOpen: 0.015,
  conversion: 0.002,
  revenuePerRecipient: 10,
};

const NO_ESTIMATE: Estimate = { value: null, low: null, high: null };

function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence ${confidence} is not a probability strictly between 0 and 1 (e.g. 0.95)`);
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} ${value} is not a count: it must be a finite number >= 0`);
}

function checkProportion(successes: number, n: number): void {
  checkCount('successes', successes);
  checkCount('n', n);
  if (successes > n) throw new RangeError(`successes ${successes} exceed n ${n}: a proportion's numerator counts a subset of its denominator`);
}

/** The two-sided normal critical value: z with P(|Z| <= z) = confidence. */
export function normalCritical(confidence: number): number {
  checkConfidence(confidence);
  return jStat.normal.inv(1 - (1 - confidence) / 2, 0, 1);
}

/** The two-sided Student t critical value with df degrees of freedom (the normal's beyond MAX_T_DF). */
export function tCritical(confidence: number, df: number): number {
  checkConfidence(confidence);
  if (df > MAX_T_DF) return normalCritical(confidence);
  return jStat.studentt.inv(1 - (1 - confidence) / 2, df);
}

/** Two-sided p-value of a standard normal statistic: P(|Z| >= |z|) = erfc(|z| / sqrt 2). */
export function normalTwoSided(z: number): number {
  return Math.min(1, jStat.erfc(Math.abs(z) / Math.SQRT2));
}

/** Two-sided p-value of a Student t statistic: 2 P(T_df <= -|t|). */
export function tTwoSided(t: number, df: number): number {
  if (df > MAX_T_DF) return normalTwoSided(t);
  return Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), df));
}

/** Upper tail of the chi-squared distribution: P(X >= statistic). */
export function chiSquaredUpper(statistic: number, df: number): number {
  return Math.max(0, Math.min(1, 1 - jStat.chisquare.cdf(statistic, df)));
}

/**
 * Wilson score interval of a proportion (no continuity correction):
 *   p = x/n, centre = (p + z²/2n) / (1 + z²/n), half = z/(1 + z²/n) · sqrt(p(1-p)/n + z²/4n²).
 * value is p. n = 0: nothing to estimate, all null. At x = 0 the low bound is exactly 0 and at
 * x = n the high bound exactly 1 (the formula's value, which rounding would miss by an ulp).
 */
export function wilson(successes: number, n: number, confidence = 0.95): Estimate {
  checkProportion(successes, n);
  const z = normalCritical(confidence);
  if (n === 0) return NO_ESTIMATE;
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    value: p,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === n ? 1 : Math.min(1, centre + half),
  };
}

export interface DifferenceTest {
  /** Estimate of the first group minus the second; low/high its confidence interval. */
  difference: number | null;
  low: number | null;
  high: number | null;
  /** The test statistic: z for proportions, t for Welch. */
  statistic: number | null;
  /** Degrees of freedom (Welch only; null for z). */
  df: number | null;
  /** Two-sided p-value. */
  p: number | null;
}

const NO_TEST: DifferenceTest = { difference: null, low: null, high: null, statistic: null, df: null, p: null };

/**
 * Two proportions, x1/n1 against x2/n2 (difference = p1 - p2):
 * - the test: pooled z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)) with p = (x1+x2)/(n1+n2),
 *   two-sided p (equals the chi-squared test of the 2 x 2 table without continuity correction);
 * - the interval: unpooled Wald, (p1 - p2) ± z · sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).
 * Either n = 0: all null. Pooled p of 0 or 1 (both groups all failures or all successes): no
 * variance, the groups are identical, statistic null and p = 1.
 */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number, confidence = 0.95): DifferenceTest {
  checkProportion(x1, n1);
  checkProportion(x2, n2);
  const z = normalCritical(confidence);
  if (n1 === 0 || n2 === 0) return NO_TEST;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p1 - p2;
  const half = z * Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const pooled = (x1 + x2) / (n1 + n2);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se0 === 0) return { difference, low: difference - half, high: difference + half, statistic: null, df: null, p: 1 };
  const statistic = difference / se0;
  return { difference, low: difference - half, high: difference + half, statistic, df: null, p: normalTwoSided(statistic) };
}

export interface ChiSquaredTest {
  statistic: number | null;
  df: number;
  p: number | null;
}

/**
 * Chi-squared test of homogeneity of a k x 2 table (rows [successes, n]; columns successes and
 * failures), no continuity correction: sum over cells of (O - E)² / E with E = row total ·
 * column total / N, df = k - 1. Rows with n = 0 carry no information and are left out. Fewer
 * than two rows left: statistic and p null, df 0. A column with total 0 (every row all
 * successes, or all failures): the rows are identical, statistic 0 and p = 1.
 */
export function chiSquaredHomogeneity(rows: ReadonlyArray<readonly [number, number]>): ChiSquaredTest {
  for (const [successes, n] of rows) checkProportion(successes, n);
  const used = rows.filter(([, n]) => n > 0);
  if (used.length < 2) return { statistic: null, df: 0, p: null };
  const df = used.length - 1;
  const total = used.reduce((sum, [, n]) => sum + n, 0);
  const successes = used.reduce((sum, [x]) => sum + x, 0);
  const share = successes / total;
  if (share === 0 || share === 1) return { statistic: 0, df, p: 1 };
  let statistic = 0;
  for (const [x, n] of used) {
    const expectedSuccesses = n * share;
    const expectedFailures = n * (1 - share);
    statistic += (x - expectedSuccesses) ** 2 / expectedSuccesses + (n - x - expectedFailures) ** 2 / expectedFailures;
  }
  return { statistic, df, p: chiSquaredUpper(statistic, df) };
}

/**
 * Pearson's goodness of fit of counts to shares (the sample-ratio-mismatch check):
 * E_i = N · share_i / sum(shares), statistic = sum (O_i - E_i)² / E_i, df = k - 1.
 * The shares need not sum to 1 (they are normalised). A category with share 0 and count 0 is
 * left out (df shrinks); share 0 with a count > 0 cannot happen under the configuration: the
 * statistic is unbounded, reported as statistic null and p = 0. N = 0 or fewer than two
 * categories: statistic and p null.
 */
export function goodnessOfFit(observed: readonly number[], expectedShares: readonly number[]): ChiSquaredTest {
  if (observed.length !== expectedShares.length) {
    throw new RangeError(`goodnessOfFit got ${observed.length} counts but ${expectedShares.length} shares: give one share per count`);
  }
  observed.forEach((o) => checkCount('observed count', o));
  expectedShares.forEach((s) => checkCount('expected share', s));
  const shareSum = expectedShares.reduce((sum, s) => sum + s, 0);
  const total = observed.reduce((sum, o) => sum + o, 0);
  const cells = observed.map((o, i) => ({ o, share: expectedShares[i] })).filter((c) => c.share > 0 || c.o > 0);
  if (total === 0 || shareSum === 0 || cells.length < 2) return { statistic: null, df: Math.max(0, cells.length - 1), p: null };
  const df = cells.length - 1;
  if (cells.some((c) => c.share === 0)) return { statistic: null, df, p: 0 };
  let statistic = 0;
  for (const { o, share } of cells) {
    const expected = (total * share) / shareSum;
    statistic += (o - expected) ** 2 / expected;
  }
  return { statistic, df, p: chiSquaredUpper(statistic, df) };
}

/** Sample mean and variance (n - 1 denominator) from n, the sum and the sum of squares. */
function moments(n: number, sum: number, sumSq: number): { mean: number; variance: number | null } {
  const mean = sum / n;
  if (n < 2) return { mean, variance: null };
  // sumSq - sum²/n is >= 0 in exact arithmetic; rounding can take it a hair below.
  return { mean, variance: Math.max(0, (sumSq - (sum * sum) / n) / (n - 1)) };
}

function checkSums(n: number, sum: number, sumSq: number): void {
  checkCount('n', n);
  if (!Number.isFinite(sum)) throw new RangeError(`sum ${sum} is not a finite number`);
  checkCount('sum of squares', sumSq);
}

/**
 * Student t interval of a mean from n, the sum and the sum of squares of the values:
 * mean ± t(n-1) · s / sqrt(n). n = 0: all null; n = 1: the mean without an interval (no
 * variance); zero variance: low = high = mean.
 */
export function meanInterval(n: number, sum: number, sumSq: number, confidence = 0.95): Estimate {
  checkSums(n, sum, sumSq);
  checkConfidence(confidence);
  if (n === 0) return NO_ESTIMATE;
  const { mean, variance } = moments(n, sum, sumSq);
  if (variance === null) return { value: mean, low: null, high: null };
  const half = tCritical(confidence, n - 1) * Math.sqrt(variance / n);
  return { value: mean, low: mean - half, high: mean + half };
}

/**
 * Welch's unequal-variance t test of two means (difference = mean1 - mean2), from counts, sums
 * and sums of squares: se = sqrt(s1²/n1 + s2²/n2), t = difference / se, Welch-Satterthwaite
 * df = se⁴ / ((s1²/n1)²/(n1-1) + (s2²/n2)²/(n2-1)), interval difference ± t(df) · se.
 * Either n = 0: all null; either n = 1: the difference only (no variance). Both variances 0:
 * interval [difference, difference], statistic and df null, p = 1 if the means are equal, 0 if
 * not (no noise at all; in practice: no revenue in either group).
 */
export function welch(n1: number, sum1: number, sumSq1: number, n2: number, sum2: number, sumSq2: number, confidence = 0.95): DifferenceTest {
  checkSums(n1, sum1, sumSq1);
  checkSums(n2, sum2, sumSq2);
  checkConfidence(confidence);
  if (n1 === 0 || n2 === 0) return NO_TEST;
  const a = moments(n1, sum1, sumSq1);
  const b = moments(n2, sum2, sumSq2);
  const difference = a.mean - b.mean;
  if (a.variance === null || b.variance === null) return { ...NO_TEST, difference };
  const v1 = a.variance / n1;
  const v2 = b.variance / n2;
  const se2 = v1 + v2;
  if (se2 === 0) return { difference, low: difference, high: difference, statistic: null, df: null, p: difference === 0 ? 1 : 0 };
  const se = Math.sqrt(se2);
  const df = (se2 * se2) / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1));
  const statistic = difference / se;
  const half = tCritical(confidence, df) * se;
  return { difference, low: difference - half, high: difference + half, statistic, df, p: tTwoSided(statistic, df) };
}

/**
 * Holm-Bonferroni adjusted p-values, in the input's order: sorted ascending p(1) <= ... <= p(m),
 * adjusted p(i) = min(1, max over j <= i of (m - j + 1) · p(j)) — monotone in the sorted
 * order, capped at 1. Controls the family-wise error rate over the m comparisons. A null
 * (a comparison without a p-value) stays null and does not count in m.
 */
export function holm(pValues: ReadonlyArray<number | null>): Array<number | null> {
  const present = pValues.flatMap((p, index) => (p === null ? [] : [{ p, index }])).sort((x, y) => x.p - y.p || x.index - y.index);
  const adjusted: Array<number | null> = pValues.map(() => null);
  const m = present.length;
  let running = 0;
  present.forEach(({ p, index }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[index] = running;
  });
  return adjusted;
}

/**
 * The always-valid p-value of the mixture sequential probability ratio test (mSPRT; Johari,
 * Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests" / "Always valid inference") for
 * H0: theta = 0, from an estimate of theta and its variance V (normal approximation), with a
 * N(0, tau²) mixture over the alternative:
 *   Lambda = sqrt(V / (V + tau²)) · exp(tau² · estimate² / (2 V (V + tau²)))
 *   p = min(1, 1 / Lambda).
 * Under H0 Lambda is a non-negative martingale with mean 1, so by Ville's inequality
 * P(Lambda ever reaches 1/alpha) <= alpha: the chance that p EVER drops below alpha, however
 * often it is looked at (daily, hourly) and whenever one stops, is at most alpha. (The running
 * minimum of the daily p-values is valid too; this is the current one, never smaller.)
 * V = 0: p = 1 if the estimate is 0, otherwise null (no variance to judge it by). Computed in
 * logs, so a huge Lambda gives p = 0 rather than Infinity.
 */
export function alwaysValidP(estimate: number, variance: number, tau2: number): number | null {
  if (!(tau2 > 0) || !Number.isFinite(tau2)) throw new RangeError(`tau² ${tau2} must be a finite number > 0 (the mixing variance of the mSPRT)`);
  if (!Number.isFinite(estimate) || !(variance >= 0) || !Number.isFinite(variance)) return null;
  if (variance === 0) return estimate === 0 ? 1 : null;
  const logLambda = 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * estimate * estimate) / (2 * variance * (variance + tau2));
  return Math.exp(-Math.max(0, logLambda));
}

/**
 * mSPRT always-valid p-value for p1 - p2 (x1/n1 against x2/n2), V = p1(1-p1)/n1 + p2(1-p2)/n2
 * (the plug-in variance of the two-stream Bernoulli case). tau2 defaults to MIXING_SD.conversion².
 * Either n = 0: null.
 */
export function alwaysValidProportions(x1: number, n1: number, x2: number, n2: number, tau2 = MIXING_SD.conversion ** 2): number | null {
  checkProportion(x1, n1);
  checkProportion(x2, n2);
  if (n1 === 0 || n2 === 0) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  return alwaysValidP(p1 - p2, (p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2, tau2);
}

/**
 * mSPRT always-valid p-value for mean1 - mean2 from counts, sums and sums of squares,
 * V = s1²/n1 + s2²/n2 (sample variances). tau2 defaults to MIXING_SD.revenuePerRecipient² (cents²).
 * Either n < 2: null.
 */
export function alwaysValidMeans(
  n1: number, sum1: number, sumSq1: number, n2: number, sum2: number, sumSq2: number, tau2 = MIXING_SD.revenuePerRecipient ** 2,
): number | null {
  checkSums(n1, sum1, sumSq1);
  checkSums(n2, sum2, sumSq2);
  if (n1 < 2 || n2 < 2) return null;
  const a = moments(n1, sum1, sumSq1);
  const b = moments(n2, sum2, sumSq2);
  return alwaysValidP(a.mean - b.mean, (a.variance ?? 0) / n1 + (b.variance ?? 0) / n2, tau2);
}
