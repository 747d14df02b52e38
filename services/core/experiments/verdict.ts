/**
 * The plain-words verdict of an experiment report, for people who do not read p-values:
 * "B beats A on click-through, 95% sure; keep collecting for revenue".
 *
 * It only restates what the report already decided: a comparison is a win when the report
 * marks it `significant` (Holm-adjusted p below 1 - confidence), and the winner is the arm with
 * the higher value. A sample-ratio mismatch overrides everything (the split is broken, so no
 * comparison can be trusted). Pure: no I/O.
 */
import type { ComparedMetric, Comparison, ExperimentReport } from './model';

/** How each metric is named in a sentence. */
export const METRIC_WORDS: Readonly<Record<ComparedMetric, string>> = {
  open: 'opens',
  clickThrough: 'click-through',
  clickToOpen: 'click-to-open',
  conversion: 'conversion',
  revenuePerRecipient: 'revenue',
};

/** The metrics a verdict speaks of, in this order, unless told otherwise. */
export const VERDICT_METRICS: readonly ComparedMetric[] = ['clickThrough', 'conversion', 'revenuePerRecipient'];

export type VerdictKind = 'no_data' | 'broken_split' | 'decided' | 'partly_decided' | 'collecting';

export interface Verdict {
  kind: VerdictKind;
  /** One sentence, e.g. "B beats A on click-through, 95% sure; keep collecting for revenue". */
  headline: string;
  /** What the holdout says about sending at all, when there is a holdout with sends. */
  holdout: string | null;
}

const percent = (confidence: number): string => `${Math.round(confidence * 1000) / 10}%`;

/** "a", "a and b", "a, b and c". */
function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** "<winner> beats <loser> on <metric>" for a significant comparison (null when it has no values). */
function winSentence(comparison: Comparison): string | null {
  const { armValue, controlValue } = comparison;
  if (armValue === null || controlValue === null || armValue === controlValue) return null;
  const [winner, loser] = armValue > controlValue ? [comparison.arm, comparison.control] : [comparison.control, comparison.arm];
  return `${winner} beats ${loser} on ${METRIC_WORDS[comparison.metric]}`;
}

function holdoutSentence(report: ExperimentReport): string | null {
  const lift = report.holdoutLift;
  if (lift === null || lift.holdout.sent === 0 || lift.treated.sent === 0) return null;
  const sure = percent(report.confidence);
  const decided = [lift.conversion, lift.revenuePerRecipient].filter((c) => c.significant);
  const open = [lift.conversion, lift.revenuePerRecipient].filter((c) => !c.significant).map((c) => METRIC_WORDS[c.metric]);
  const parts = decided.map((c) => {
    const better = (c.armValue ?? 0) > (c.controlValue ?? 0);
    return better ? `sending beats the holdout on ${METRIC_WORDS[c.metric]}, ${sure} sure` : `the holdout beats sending on ${METRIC_WORDS[c.metric]}, ${sure} sure`;
  });
  if (open.length > 0) parts.push(decided.length === 0 ? `no lift over the holdout shown yet (${listWords(open)})` : `keep collecting for ${listWords(open)}`);
  return capitalize(parts.join('; '));
}

const capitalize = (text: string): string => (text === '' ? text : text[0].toUpperCase() + text.slice(1));

/**
 * The verdict of `report` on `metrics` (default VERDICT_METRICS), comparing each arm with the
 * report's control. Metrics the report does not compare are left out.
 */
export function experimentVerdict(report: ExperimentReport, metrics: readonly ComparedMetric[] = VERDICT_METRICS): Verdict {
  const sent = report.arms.reduce((sum, arm) => sum + arm.counters.sent, 0);
  if (sent === 0) return { kind: 'no_data', headline: 'No sends yet: nothing to compare.', holdout: null };
  const holdout = holdoutSentence(report);
  if (report.srm.mismatch) {
    const p = report.srm.p === null ? '' : report.srm.p < 0.001 ? ' (p < 0.001)' : ` (p = ${report.srm.p.toPrecision(2)})`;
    return {
      kind: 'broken_split',
      headline: `The split between arms is not the configured one${p}: do not trust these comparisons until the assignment is fixed.`,
      holdout,
    };
  }
  const treated = report.arms.filter((arm) => !arm.holdout);
  // The results service reports sends outside any experiment as one arm named "-".
  if (treated.length === 1 && treated[0].name === '-') return { kind: 'collecting', headline: 'Sends outside any experiment: there is nothing to compare.', holdout };
  if (treated.length < 2) {
    return { kind: 'collecting', headline: treated.length === 1 ? `One arm (${treated[0].name}) only: there is nothing to compare it with.` : 'No arm has sends yet.', holdout };
  }
  if (treated.some((arm) => arm.counters.sent === 0)) {
    const empty = treated.filter((arm) => arm.counters.sent === 0).map((arm) => arm.name);
    return { kind: 'collecting', headline: `Keep collecting: ${listWords(empty)} has no sends yet.`, holdout };
  }
  const sure = percent(report.confidence);
  const wins: string[] = [];
  const open: string[] = [];
  for (const metric of metrics) {
    const comparisons = report.comparisons.filter((c) => c.metric === metric);
    if (comparisons.length === 0) continue;
    const sentences = comparisons.filter((c) => c.significant).map(winSentence).filter((s): s is string => s !== null);
    if (sentences.length > 0) wins.push(`${listWords(sentences)}, ${sure} sure`);
    // A metric is still open while some arm's comparison on it is undecided.
    if (comparisons.some((c) => !c.significant)) open.push(METRIC_WORDS[metric]);
  }
  if (wins.length === 0) {
    return { kind: 'collecting', headline: `No clear difference yet; keep collecting for ${listWords(open)}.`, holdout };
  }
  // A win that the always-valid (mSPRT) p does not confirm yet holds only for one look at the
  // results: someone who checks every day should wait for it.
  const alpha = 1 - report.confidence;
  const unconfirmed = report.comparisons.some((c) => metrics.includes(c.metric) && c.significant && (c.alwaysValidAdjustedP === null || c.alwaysValidAdjustedP >= alpha));
  const caveat = unconfirmed ? ' (if you check daily, wait until the always-valid p agrees)' : '';
  const headline = open.length === 0 ? `${wins.join('; ')}${caveat}.` : `${wins.join('; ')}; keep collecting for ${listWords(open)}${caveat}.`;
  return { kind: open.length === 0 ? 'decided' : 'partly_decided', headline, holdout };
}
