/**
 * The experiment report: from each arm's counters (and the holdout's) to the rates with their
 * intervals, the comparisons against the control with a many-comparisons correction and an
 * always-valid p-value, the chi-squared test across arms, the sample-ratio-mismatch check,
 * the lift over the holdout and, for multivariate designs, the main effect of each variable.
 * The figures and tests are defined in docs/experiments.md ("The figures", "Statistics").
 *
 * The report is JSON-able: every number is finite or null (a figure without data is null).
 * Pure: no I/O.
 */
import { z } from 'zod';
import {
  COUNTER_FIELDS,
  addCounters,
  emptyCounters,
  type ArmCounters,
  type ArmInput,
  type ArmRates,
  type ArmReport,
  type ComparedMetric,
  type Comparison,
  type Estimate,
  type ExperimentReport,
  type Homogeneity,
  type HoldoutLift,
  type MainEffect,
  type ProportionMetric,
  type SampleRatioCheck,
} from './model';
import {
  MIXING_SD,
  alwaysValidMeans,
  alwaysValidProportions,
  chiSquaredHomogeneity,
  goodnessOfFit,
  holm,
  meanInterval,
  twoProportionTest,
  welch,
  wilson,
  type DifferenceTest,
} from './stats';

/** An SRM p-value below this flags the split as broken (a deliberately strict threshold: with daily looks, 0.05 would cry wolf). */
export const SRM_THRESHOLD = 0.001;

export const PROPORTION_METRICS: readonly ProportionMetric[] = ['open', 'clickThrough', 'clickToOpen', 'conversion'];
export const COMPARED_METRICS: readonly ComparedMetric[] = [...PROPORTION_METRICS, 'revenuePerRecipient'];

/** Numerator and denominator of each proportion (the unit is one send; click-to-open: one opened send). */
const PROPORTIONS: Record<ProportionMetric | 'clickConversion', readonly [keyof ArmCounters, keyof ArmCounters]> = {
  open: ['opened', 'sent'],
  clickThrough: ['clicked', 'sent'],
  clickToOpen: ['clicked', 'opened'],
  conversion: ['converted', 'sent'],
  clickConversion: ['clickConverted', 'sent'],
};

const count = z.number().finite().nonnegative();
// Other fields beside the counters (a stored cell's bookkeeping) are dropped, not refused.
const countersSchema = z.object(Object.fromEntries(COUNTER_FIELDS.map((field) => [field, count])) as Record<keyof ArmCounters, typeof count>);

const inputSchema = z.object({
  arms: z.array(z.object({
    name: z.string().min(1).max(256),
    holdout: z.boolean(),
    expectedShare: z.number().finite().min(0).max(1).nullable(),
    variables: z.record(z.string(), z.string()).optional(),
    counters: countersSchema,
  })).min(1).max(1000),
  control: z.string().optional(),
  confidence: z.number().gt(0).lt(1).optional(),
  mixingSd: z.object(Object.fromEntries(COMPARED_METRICS.map((m) => [m, z.number().finite().positive().optional()]))).strict().optional(),
});

export interface ReportInput {
  arms: ArmInput[];
  /** The arm the others are compared with; default the first non-holdout arm. */
  control?: string;
  /** Confidence of every interval; significance is adjusted p < 1 - confidence. Default 0.95. */
  confidence?: number;
  /** The mSPRT's mixing standard deviation per metric (default MIXING_SD). */
  mixingSd?: Partial<Record<ComparedMetric, number>>;
}

/**
 * successes/n of a proportion, or null when the counts cannot be a proportion (n = 0 is fine:
 * the statistics return nulls). clicked > opened happens when the results service sees a
 * human click without a human open (images blocked); such a click-to-open is not reported.
 */
function fraction(counters: ArmCounters, metric: ProportionMetric | 'clickConversion'): readonly [number, number] | null {
  const [numerator, denominator] = PROPORTIONS[metric];
  const x = counters[numerator];
  const n = counters[denominator];
  return x <= n ? [x, n] : null;
}

const NO_ESTIMATE: Estimate = { value: null, low: null, high: null };

function proportionEstimate(counters: ArmCounters, metric: ProportionMetric | 'clickConversion', confidence: number): Estimate {
  const f = fraction(counters, metric);
  return f === null ? NO_ESTIMATE : wilson(f[0], f[1], confidence);
}

export function armRates(counters: ArmCounters, confidence = 0.95): ArmRates {
  return {
    open: proportionEstimate(counters, 'open', confidence),
    clickThrough: proportionEstimate(counters, 'clickThrough', confidence),
    clickToOpen: proportionEstimate(counters, 'clickToOpen', confidence),
    conversion: proportionEstimate(counters, 'conversion', confidence),
    clickConversion: proportionEstimate(counters, 'clickConversion', confidence),
    revenuePerRecipient: meanInterval(counters.sent, counters.revenue, counters.revenueSq, confidence),
  };
}

interface Settings {
  confidence: number;
  mixingSd: Record<ComparedMetric, number>;
}

/** One group against its baseline on one metric, before the many-comparisons correction. */
function compare(metric: ComparedMetric, arm: string, a: ArmCounters, control: string, b: ArmCounters, settings: Settings): Comparison {
  const tau2 = settings.mixingSd[metric] ** 2;
  let test: DifferenceTest;
  let alwaysValidP: number | null;
  let armValue: number | null;
  let controlValue: number | null;
  if (metric === 'revenuePerRecipient') {
    test = welch(a.sent, a.revenue, a.revenueSq, b.sent, b.revenue, b.revenueSq, settings.confidence);
    alwaysValidP = alwaysValidMeans(a.sent, a.revenue, a.revenueSq, b.sent, b.revenue, b.revenueSq, tau2);
    armValue = a.sent > 0 ? a.revenue / a.sent : null;
    controlValue = b.sent > 0 ? b.revenue / b.sent : null;
  } else {
    const fa = fraction(a, metric);
    const fb = fraction(b, metric);
    if (fa === null || fb === null) {
      test = { difference: null, low: null, high: null, statistic: null, df: null, p: null };
      alwaysValidP = null;
    } else {
      test = twoProportionTest(fa[0], fa[1], fb[0], fb[1], settings.confidence);
      alwaysValidP = alwaysValidProportions(fa[0], fa[1], fb[0], fb[1], tau2);
    }
    armValue = fa !== null && fa[1] > 0 ? fa[0] / fa[1] : null;
    controlValue = fb !== null && fb[1] > 0 ? fb[0] / fb[1] : null;
  }
  return {
    metric,
    arm,
    control,
    armValue,
    controlValue,
    difference: { value: test.difference, low: test.low, high: test.high },
    relativeLift: test.difference !== null && controlValue !== null && controlValue !== 0 ? test.difference / controlValue : null,
    statistic: test.statistic,
    df: test.df,
    p: test.p,
    adjustedP: test.p,
    alwaysValidP,
    alwaysValidAdjustedP: alwaysValidP,
    significant: false,
  };
}

/** Holm over each metric's comparisons (one family per metric), p and always-valid p, then significance. */
function adjust(comparisons: Comparison[], confidence: number): Comparison[] {
  for (const metric of COMPARED_METRICS) {
    const family = comparisons.filter((c) => c.metric === metric);
    const adjusted = holm(family.map((c) => c.p));
    const alwaysValidAdjusted = holm(family.map((c) => c.alwaysValidP));
    family.forEach((c, i) => {
      c.adjustedP = adjusted[i];
      c.alwaysValidAdjustedP = alwaysValidAdjusted[i];
    });
  }
  for (const c of comparisons) c.significant = c.adjustedP !== null && c.adjustedP < 1 - confidence;
  return comparisons;
}

function pool(counters: ArmCounters[]): ArmCounters {
  return counters.reduce(addCounters, emptyCounters());
}

function sampleRatio(arms: ArmInput[]): SampleRatioCheck {
  const shares = arms.map((a) => a.expectedShare);
  const total = arms.reduce((sum, a) => sum + a.counters.sent, 0);
  const known = shares.every((s): s is number => s !== null);
  const shareSum = known ? shares.reduce((sum, s) => sum + s, 0) : 0;
  const checked = known && total > 0 && shareSum > 0 && arms.length >= 2;
  const test = checked ? goodnessOfFit(arms.map((a) => a.counters.sent), shares as number[]) : null;
  return {
    checked,
    statistic: test?.statistic ?? null,
    df: test ? test.df : null,
    p: test?.p ?? null,
    mismatch: test !== null && test.p !== null && test.p < SRM_THRESHOLD,
    arms: arms.map((a) => ({
      name: a.name,
      sent: a.counters.sent,
      expectedShare: a.expectedShare,
      expected: checked && a.expectedShare !== null ? (total * a.expectedShare) / shareSum : null,
    })),
  };
}

function mainEffects(arms: ArmInput[], settings: Settings): MainEffect[] {
  const variables: string[] = [];
  for (const arm of arms) for (const name of Object.keys(arm.variables ?? {})) if (!variables.includes(name)) variables.push(name);
  // One variable: its levels are the arms, and the arm comparisons already say it all.
  if (variables.length < 2) return [];
  return variables.map((variable) => {
    const levels = new Map<string, ArmCounters>();
    for (const arm of arms) {
      const level = arm.variables?.[variable];
      if (level === undefined) continue;
      levels.set(level, addCounters(levels.get(level) ?? emptyCounters(), arm.counters));
    }
    const entries = [...levels.entries()];
    const [baseName, base] = entries[0];
    const comparisons = COMPARED_METRICS.flatMap((metric) =>
      entries.slice(1).map(([level, counters]) => compare(metric, level, counters, baseName, base, settings)));
    return {
      variable,
      levels: entries.map(([level, counters]) => ({ level, counters, rates: armRates(counters, settings.confidence) })),
      comparisons: adjust(comparisons, settings.confidence),
    };
  });
}

/**
 * The report of one experiment (or of one segment of it: the caller passes that segment's
 * counters). `arms` holds the arms and at most one holdout, each with its configured share of
 * all assigned customers (holdout included) for the SRM check. Throws a RangeError on a bad
 * input (duplicate arm names, two holdouts, an unknown control, counters that are not counts).
 */
export function experimentReport(input: ReportInput): ExperimentReport {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) throw new RangeError(`experimentReport: bad input: ${z.prettifyError(parsed.error)}`);
  const arms: ArmInput[] = parsed.data.arms;
  const confidence = input.confidence ?? 0.95;
  const settings: Settings = { confidence, mixingSd: { ...MIXING_SD, ...input.mixingSd } };

  const names = new Set<string>();
  for (const arm of arms) {
    if (names.has(arm.name)) throw new RangeError(`experimentReport: arm "${arm.name}" appears twice; give each arm (and the holdout) its own name`);
    names.add(arm.name);
  }
  const holdouts = arms.filter((a) => a.holdout);
  if (holdouts.length > 1) throw new RangeError(`experimentReport: ${holdouts.length} holdouts (${holdouts.map((h) => h.name).join(', ')}); pool them into one`);
  const treatments = arms.filter((a) => !a.holdout);
  const control = input.control === undefined ? treatments[0] : treatments.find((a) => a.name === input.control);
  if (input.control !== undefined && control === undefined) {
    throw new RangeError(`experimentReport: control "${input.control}" is not an arm; name one of: ${treatments.map((a) => a.name).join(', ') || '(no arms)'}`);
  }

  const comparisons = control === undefined ? [] : adjust(
    COMPARED_METRICS.flatMap((metric) => treatments
      .filter((a) => a !== control)
      .map((a) => compare(metric, a.name, a.counters, control.name, control.counters, settings))),
    confidence,
  );

  const homogeneity: Homogeneity[] = PROPORTION_METRICS.map((metric) => {
    const rows = treatments.map((a) => fraction(a.counters, metric));
    if (rows.some((r) => r === null)) return { metric, statistic: null, df: 0, p: null };
    return { metric, ...chiSquaredHomogeneity(rows as Array<readonly [number, number]>) };
  });

  let holdoutLift: HoldoutLift | null = null;
  if (holdouts.length === 1 && treatments.length > 0) {
    const treated = pool(treatments.map((a) => a.counters));
    const holdout = holdouts[0].counters;
    const lift = (metric: ComparedMetric): Comparison => adjust([compare(metric, 'treated', treated, holdouts[0].name, holdout, settings)], confidence)[0];
    holdoutLift = { treated, holdout, conversion: lift('conversion'), revenuePerRecipient: lift('revenuePerRecipient') };
  }

  const armReports: ArmReport[] = arms.map((a) => ({
    name: a.name,
    holdout: a.holdout,
    expectedShare: a.expectedShare,
    variables: { ...(a.variables ?? {}) },
    counters: { ...a.counters },
    rates: armRates(a.counters, confidence),
  }));

  return {
    confidence,
    control: control?.name ?? null,
    arms: armReports,
    comparisons,
    homogeneity,
    srm: sampleRatio(arms),
    holdoutLift,
    mainEffects: mainEffects(treatments, settings),
  };
}
