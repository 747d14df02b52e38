/**
 * The figures of an experiment: the counters kept per cell by the results service, and the
 * shape of the report that services/core/experiments/report.ts computes from them.
 *
 * A cell is (campaign, experiment or "-", arm name or "holdout" or "-", segment or "*"). The
 * unit of analysis is one send: one trigger's email, or for the holdout one virtual send (the
 * email it would have got). Every rate's denominator is `sent`, except click-to-open (opened).
 * Pure: no I/O.
 */

/** What the results service counts per cell; every field is a sum over the cell's sends. */
export interface ArmCounters {
  /** Sends (holdout: virtual sends). */
  sent: number;
  /** Sends with an email_delivered. */
  delivered: number;
  /** Sends with an email_bounced. */
  bounced: number;
  /** Sends with >= 1 human open (suspect or prefetch hits do not count). */
  opened: number;
  /** Sends with >= 1 human click. */
  clicked: number;
  /** Sends with an unsubscribe carrying their message_id. */
  unsubscribed: number;
  /** Sends with an email_complained. */
  complained: number;
  /** Sends with >= 1 purchase attributed (send window). */
  converted: number;
  /** Purchases attributed (send window). */
  conversions: number;
  /** Cents attributed (send window). */
  revenue: number;
  /** Sum over sends of (that send's attributed revenue in cents)^2: the variance for Welch. */
  revenueSq: number;
  /** Sends with >= 1 purchase attributed (click window). */
  clickConverted: number;
  /** Purchases attributed (click window). */
  clickConversions: number;
  /** Cents attributed (click window). */
  clickRevenue: number;
}

export const COUNTER_FIELDS = [
  'sent', 'delivered', 'bounced', 'opened', 'clicked', 'unsubscribed', 'complained',
  'converted', 'conversions', 'revenue', 'revenueSq', 'clickConverted', 'clickConversions', 'clickRevenue',
] as const satisfies ReadonlyArray<keyof ArmCounters>;

/** All zero: the counters of a cell that has seen nothing. */
export function emptyCounters(): ArmCounters {
  return {
    sent: 0, delivered: 0, bounced: 0, opened: 0, clicked: 0, unsubscribed: 0, complained: 0,
    converted: 0, conversions: 0, revenue: 0, revenueSq: 0, clickConverted: 0, clickConversions: 0, clickRevenue: 0,
  };
}

/**
 * The counters of two disjoint sets of sends together (pooling arms, segments or partitions):
 * every field is a sum over sends, so pooling is field-wise addition. A new object.
 */
export function addCounters(a: ArmCounters, b: ArmCounters): ArmCounters {
  const sum = emptyCounters();
  for (const field of COUNTER_FIELDS) sum[field] = a[field] + b[field];
  return sum;
}

// ---------------------------------------------------------------------------------------------
// The report (JSON-able: every number is finite or null, never NaN or Infinity).

/** A point estimate with its confidence interval; all null when there is nothing to estimate. */
export interface Estimate {
  value: number | null;
  low: number | null;
  high: number | null;
}

/** The proportions compared between arms (denominator `sent`, click-to-open `opened`). */
export type ProportionMetric = 'open' | 'clickThrough' | 'clickToOpen' | 'conversion';
/** Everything compared between arms: the proportions and revenue per recipient (Welch). */
export type ComparedMetric = ProportionMetric | 'revenuePerRecipient';

/** The rates of one arm (or of the holdout, or of a pooled level), each with its interval. */
export interface ArmRates {
  /** opened / sent (Wilson). */
  open: Estimate;
  /** clicked / sent (Wilson). */
  clickThrough: Estimate;
  /** clicked / opened (Wilson). */
  clickToOpen: Estimate;
  /** converted / sent, send window (Wilson). */
  conversion: Estimate;
  /** clickConverted / sent, click window (Wilson). */
  clickConversion: Estimate;
  /** revenue / sent in cents, send window (Student t interval from revenue and revenueSq). */
  revenuePerRecipient: Estimate;
}

/** One arm as given to experimentReport(). */
export interface ArmInput {
  name: string;
  /** True for the holdout (no email; its counters are virtual sends). */
  holdout: boolean;
  /** The arm's configured share of all assigned (holdout included); null = unknown, no SRM check. */
  expectedShare: number | null;
  /** Variable name -> level name, for multivariate designs (main effects). */
  variables?: Record<string, string>;
  counters: ArmCounters;
}

export interface ArmReport {
  name: string;
  holdout: boolean;
  expectedShare: number | null;
  variables: Record<string, string>;
  counters: ArmCounters;
  rates: ArmRates;
}

/** One arm (or level, or the treated pool) against its baseline on one metric. */
export interface Comparison {
  metric: ComparedMetric;
  /** The arm, level or "treated" compared. */
  arm: string;
  /** The baseline: the control arm, the variable's first level, or "holdout". */
  control: string;
  armValue: number | null;
  controlValue: number | null;
  /** armValue - controlValue, with its confidence interval (unpooled Wald; Welch for revenue). */
  difference: Estimate;
  /** difference / controlValue; null when the control's value is 0 or unknown. */
  relativeLift: number | null;
  /** z (proportions, pooled) or Welch's t (revenue). */
  statistic: number | null;
  /** Welch-Satterthwaite degrees of freedom for revenue; null for proportions. */
  df: number | null;
  /** Two-sided p-value of the fixed-horizon test. */
  p: number | null;
  /** Holm-Bonferroni adjusted p across the comparisons of the same metric in the same family. */
  adjustedP: number | null;
  /** mSPRT always-valid p-value: valid however often the results are looked at. */
  alwaysValidP: number | null;
  /**
   * Holm over the same family's always-valid p-values: still valid at any time (Holm is closed
   * testing with Bonferroni, and a Bonferroni of always-valid p-values is always valid).
   */
  alwaysValidAdjustedP: number | null;
  /** adjustedP < 1 - confidence. */
  significant: boolean;
}

/** Chi-squared test that all non-holdout arms share one rate (k x 2 table). */
export interface Homogeneity {
  metric: ProportionMetric;
  statistic: number | null;
  df: number;
  p: number | null;
}

/** Sample-ratio mismatch: arms' `sent` against their configured shares. */
export interface SampleRatioCheck {
  /** False when a share is null or nothing was sent: then the figures below are null. */
  checked: boolean;
  statistic: number | null;
  df: number | null;
  p: number | null;
  /** p < SRM_THRESHOLD: the split is not what was configured; distrust the comparisons. */
  mismatch: boolean;
  arms: Array<{ name: string; sent: number; expectedShare: number | null; expected: number | null }>;
}

/** All non-holdout arms pooled against the holdout: the lift of sending at all. */
export interface HoldoutLift {
  treated: ArmCounters;
  holdout: ArmCounters;
  conversion: Comparison;
  revenuePerRecipient: Comparison;
}

/** One variable of a multivariate design: each level pooled over the other variables' levels. */
export interface MainEffect {
  variable: string;
  /** Levels in first-seen arm order; the first is the baseline. */
  levels: Array<{ level: string; counters: ArmCounters; rates: ArmRates }>;
  /** Each later level against the first, per compared metric (Holm within variable and metric). */
  comparisons: Comparison[];
}

export interface ExperimentReport {
  confidence: number;
  /** The arm the others are compared with; null when there is no non-holdout arm. */
  control: string | null;
  arms: ArmReport[];
  comparisons: Comparison[];
  homogeneity: Homogeneity[];
  srm: SampleRatioCheck;
  holdoutLift: HoldoutLift | null;
  mainEffects: MainEffect[];
}
