/**
 * The experiment statistics written out a second time, plainly, by the textbook formulas, for
 * stats.test.ts and report.test.ts to check services/core/experiments against. Nothing here
 * uses the module under test or jstat: the special functions are the classic series and
 * continued fractions (Abramowitz & Stegun 7.1.5 and 7.1.14; Numerical Recipes' gser/gcf and
 * betacf, run to full double precision; the Lanczos log-gamma), the quantiles bisection.
 */

// ---------------------------------------------------------------------------------------------
// Special functions and distributions

/** erfc(x) for x >= 0: the Taylor series of erf below 2, the Laplace continued fraction above. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) · sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-18) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/sqrt(pi) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
  let fraction = x;
  for (let k = 400; k >= 1; k--) fraction = x + k / 2 / fraction;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * fraction);
}

/** Standard normal CDF. */
export const phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

/** Bisection for the x in [lo, hi] where an increasing f crosses target. */
function bisect(f: (x: number) => number, target: number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** z with P(|Z| <= z) = confidence. */
export const zCritical = (confidence: number): number => bisect(phi, 1 - (1 - confidence) / 2, 0, 40);

/** ln Gamma(x), Lanczos (g = 7, 9 coefficients). */
export function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x). */
export function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    // P by its series: sum x^n / (a (a+1) ... (a+n))
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10000; n++) {
      term *= x / (a + n);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - front * sum;
  }
  // Q by its continued fraction (modified Lentz).
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = Math.abs(d) < 1e-300 ? 1e-300 : d;
    c = b + an / c;
    c = Math.abs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return front * h;
}

/** Chi-squared upper tail P(X >= x) with k degrees of freedom. */
export const chiSquaredUpper = (x: number, k: number): number => upperGamma(k / 2, x / 2);

/** Continued fraction of the incomplete beta (modified Lentz), to full precision. */
function betaFraction(x: number, a: number, b: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < 1e-300 ? 1e-300 : d;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 100000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    d = Math.abs(d) < 1e-300 ? 1e-300 : d;
    c = 1 + aa / c;
    c = Math.abs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    d = Math.abs(d) < 1e-300 ? 1e-300 : d;
    c = 1 + aa / c;
    c = Math.abs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(x, a, b)) / a : 1 - (front * betaFraction(1 - x, b, a)) / b;
}

/** Student t: P(T <= -|t|) = I_{v/(v+t²)}(v/2, 1/2) / 2; two-sided p is twice that. */
export const tTwoSided = (t: number, v: number): number => incompleteBeta(v / (v + t * t), v / 2, 0.5);

/** t with P(|T| <= t) = confidence. */
export const tCritical = (confidence: number, v: number): number => bisect((t) => -tTwoSided(t, v), -(1 - confidence), 0, 1e4);

// ---------------------------------------------------------------------------------------------
// The formulas

export function wilson(x: number, n: number, confidence = 0.95): [number, number, number] {
  const z = zCritical(confidence);
  const p = x / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [p, Math.max(0, centre - half), Math.min(1, centre + half)];
}

export function twoProportions(x1: number, n1: number, x2: number, n2: number, confidence = 0.95) {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const half = zCritical(confidence) * Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  return { difference: p1 - p2, low: p1 - p2 - half, high: p1 - p2 + half, statistic: z, p: 2 * phi(-Math.abs(z)) };
}

export function sampleVariance(n: number, sum: number, sumSq: number): number {
  return (sumSq - (sum * sum) / n) / (n - 1);
}

export function meanInterval(n: number, sum: number, sumSq: number, confidence = 0.95): [number, number, number] {
  const mean = sum / n;
  const half = tCritical(confidence, n - 1) * Math.sqrt(sampleVariance(n, sum, sumSq) / n);
  return [mean, mean - half, mean + half];
}

export function welch(n1: number, s1: number, ss1: number, n2: number, s2: number, ss2: number, confidence = 0.95) {
  const a = sampleVariance(n1, s1, ss1) / n1;
  const b = sampleVariance(n2, s2, ss2) / n2;
  const difference = s1 / n1 - s2 / n2;
  const se = Math.sqrt(a + b);
  const df = (a + b) ** 2 / ((a * a) / (n1 - 1) + (b * b) / (n2 - 1));
  const t = difference / se;
  const half = tCritical(confidence, df) * se;
  return { difference, low: difference - half, high: difference + half, statistic: t, df, p: tTwoSided(t, df) };
}

/** Pearson's chi-squared of a k x 2 table of [successes, n] rows. */
export function chiSquaredRows(rows: Array<[number, number]>) {
  const total = rows.reduce((s, [, n]) => s + n, 0);
  const successes = rows.reduce((s, [x]) => s + x, 0);
  let statistic = 0;
  for (const [x, n] of rows) {
    const e1 = (n * successes) / total;
    const e0 = (n * (total - successes)) / total;
    statistic += (x - e1) ** 2 / e1 + (n - x - e0) ** 2 / e0;
  }
  return { statistic, df: rows.length - 1, p: chiSquaredUpper(statistic, rows.length - 1) };
}

export function goodnessOfFit(observed: number[], shares: number[]) {
  const total = observed.reduce((s, o) => s + o, 0);
  const shareSum = shares.reduce((s, v) => s + v, 0);
  const statistic = observed.reduce((s, o, i) => s + (o - (total * shares[i]) / shareSum) ** 2 / ((total * shares[i]) / shareSum), 0);
  return { statistic, df: observed.length - 1, p: chiSquaredUpper(statistic, observed.length - 1) };
}

export function holm(ps: number[]): number[] {
  const m = ps.length;
  const order = ps.map((_p, i) => i).sort((i, j) => ps[i] - ps[j] || i - j);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * ps[i]));
    out[i] = running;
  });
  return out;
}

/** mSPRT: p = min(1, 1/Lambda), Lambda = sqrt(V/(V+tau²)) exp(tau² d² / (2 V (V+tau²))). */
export function msprt(estimate: number, variance: number, tau2: number): number {
  const lambda = Math.sqrt(variance / (variance + tau2)) * Math.exp((tau2 * estimate * estimate) / (2 * variance * (variance + tau2)));
  return Math.min(1, 1 / lambda);
}

export function msprtProportions(x1: number, n1: number, x2: number, n2: number, tau: number): number {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  return msprt(p1 - p2, (p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2, tau * tau);
}

export function msprtMeans(n1: number, s1: number, ss1: number, n2: number, s2: number, ss2: number, tau: number): number {
  return msprt(s1 / n1 - s2 / n2, sampleVariance(n1, s1, ss1) / n1 + sampleVariance(n2, s2, ss2) / n2, tau * tau);
}

// ---------------------------------------------------------------------------------------------
// Comparing

/** |actual - expected| <= rel · max(|actual|, |expected|) (+ 1e-300 so that 0 = 0 passes). */
export function expectClose(actual: number | null | undefined, expected: number, rel: number, what = ''): void {
  if (typeof actual !== 'number' || !Number.isFinite(actual)) throw new Error(`${what}: expected ${expected}, got ${actual}`);
  const scale = Math.max(Math.abs(actual), Math.abs(expected));
  if (Math.abs(actual - expected) > rel * scale + 1e-300) {
    throw new Error(`${what}: ${actual} differs from ${expected} by ${Math.abs(actual - expected) / (scale || 1)} relative (tolerance ${rel})`);
  }
}

/** Every number in a JSON-able value is finite (no NaN, no Infinity). */
export function expectFiniteOrNull(value: unknown, path = 'report'): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => expectFiniteOrNull(v, `${path}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) expectFiniteOrNull(v, `${path}.${k}`);
  }
}
