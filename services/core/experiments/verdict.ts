/**
 * The plain-words verdict of an experiment report, for marketers: one line per arm compared
 * with the control, one for the lift over the holdout, and a warning first when the split is
 * broken. "B beats A on click-through, 95% sure; keep collecting for revenue".
 *
 * Read from the report alone (services/core/experiments/report.ts): "sure" is the report's
 * `significant` (Holm-adjusted fixed-horizon p below 1 - confidence). When the always-valid p
 * does not confirm it yet, the line says so: a marketer who looks every day should wait for it
 * (docs/experiments.md, "Stopping early"). Pure: no I/O.
 */
import type { ComparedMetric, Comparison, ExperimentReport } from './model';

/** The compared metrics in the order a verdict names them, with their plain names. */
const METRIC_WORDS: ReadonlyArray<readonly [ComparedMetric, string]> = [
  ['open', 'opens'],
  ['clickThrough', 'click-through'],
  ['clickToOpen', 'click-to-open'],
  ['conversion', 'conversion'],
  ['revenuePerRecipient', 'revenue'],
];

/** "a", "a and b", "a, b and c". */
function listOf(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

const percent = (confidence: number) => `${Math.round(confidence * 1000) / 10}%`;

interface Judged {
  /** Metrics where the arm is surely better, or surely worse, than its baseline. */
  better: string[];
  worse: string[];
  /** Metrics with data and no sure difference yet. */
  open: string[];
  /** A sure difference that the always-valid p does not confirm yet. */
  unconfirmed: boolean;
}

function judge(comparisons: Comparison[], alpha: number): Judged {
  const judged: Judged = { better: [], worse: [], open: [], unconfirmed: false };
  for (const [metric, words] of METRIC_WORDS) {
    const c = comparisons.find((x) => x.metric === metric);
    if (c === undefined || c.difference.value === null) continue;
    if (c.significant && c.difference.value !== 0) {
      (c.difference.value > 0 ? judged.better : judged.worse).push(words);
      if (c.alwaysValidAdjustedP === null || c.alwaysValidAdjustedP >= alpha) judged.unconfirmed = true;
    } else {
      judged.open.push(words);
    }
  }
  return judged;
}

/** One sentence from an arm's judged comparisons with `baseline`. */
function sentence(arm: string, baseline: string, judged: Judged, confidence: number): string {
  const sure = `${percent(confidence)} sure`;
  const parts: string[] = [];
  if (judged.better.length > 0) parts.push(`${arm} beats ${baseline} on ${listOf(judged.better)}, ${sure}`);
  if (judged.worse.length > 0) parts.push(`${baseline} beats ${arm} on ${listOf(judged.worse)}, ${sure}`);
  if (parts.length === 0) {
    // One side sent nothing yet: every difference is null.
    if (judged.open.length === 0) return `${arm} vs ${baseline}: nothing to compare yet (one side has no sends)`;
    return `No sure difference between ${arm} and ${baseline} yet; keep collecting`;
  }
  if (judged.open.length > 0) parts.push(`keep collecting for ${listOf(judged.open)}`);
  const line = parts.join('; ');
  return judged.unconfirmed ? `${line} (if you check daily, wait until the always-valid p agrees)` : line;
}

/**
 * The verdict of one experiment in plain words, a line per finding: a sample-ratio warning
 * first when the split is broken, then each arm against the control, then sending against the
 * holdout. Never empty.
 */
export function verdict(report: ExperimentReport): string[] {
  const alpha = 1 - report.confidence;
  const lines: string[] = [];
  const sent = report.arms.reduce((sum, arm) => sum + arm.counters.sent, 0);
  if (sent === 0) return ['Nothing sent yet: no results to judge.'];
  if (report.srm.mismatch) {
    lines.push(`Warning: the split between the arms is not the one configured (sample-ratio p ${report.srm.p === null || report.srm.p < 0.0001 ? '< 0.0001' : report.srm.p.toFixed(4)}); do not trust the comparisons until that is explained.`);
  }
  if (report.control !== null) {
    const arms = report.arms.filter((a) => !a.holdout && a.name !== report.control).map((a) => a.name);
    for (const arm of arms) {
      lines.push(sentence(arm, report.control, judge(report.comparisons.filter((c) => c.arm === arm), alpha), report.confidence));
    }
    if (arms.length === 0) lines.push(`Only one arm (${report.control}): nothing to compare it with but the holdout.`);
  }
  if (report.holdoutLift !== null) {
    const lift = report.holdoutLift;
    const judged = judge([lift.conversion, lift.revenuePerRecipient], alpha);
    const line = sentence('sending', 'the holdout', judged, report.confidence);
    if (judged.better.length + judged.worse.length > 0) lines.push(`${line.charAt(0).toUpperCase()}${line.slice(1)}`);
    else if (judged.open.length > 0) lines.push('No sure lift of sending over the holdout yet; keep collecting');
    else lines.push('Sending vs the holdout: nothing to compare yet (one side has no sends)');
  }
  return lines;
}
