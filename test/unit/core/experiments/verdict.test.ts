/**
 * experimentVerdict(): the plain-words sentence restates the report's own decisions (Holm-
 * adjusted significance), names the winner by its higher value, and lets a broken split
 * override every comparison.
 */
import { emptyCounters, experimentReport, type ArmCounters, type ArmInput } from '../../../../services/core/experiments';
import { experimentVerdict } from '../../../../services/core/experiments/verdict';

function counters(fields: Partial<ArmCounters>): ArmCounters {
  return { ...emptyCounters(), ...fields };
}

function arm(name: string, fields: Partial<ArmCounters>, share: number | null = 0.5, holdout = false): ArmInput {
  return { name, holdout, expectedShare: share, counters: counters(fields) };
}

// Revenue with the same mean and a wide spread: never significant at these sizes.
const revenue = (sent: number) => ({ revenue: sent * 100, revenueSq: sent * 100 * 100 * 50, converted: Math.round(sent * 0.02) });

describe('experimentVerdict', () => {
  it('says nothing can be compared before any send', () => {
    const verdict = experimentVerdict(experimentReport({ arms: [arm('A', {}), arm('B', {})] }));
    expect(verdict).toEqual({ kind: 'no_data', headline: 'No sends yet: nothing to compare.', holdout: null });
  });

  it('names the winner on click-through and keeps collecting for what is undecided', () => {
    const report = experimentReport({
      arms: [
        arm('A', { sent: 5000, opened: 2000, clicked: 250, ...revenue(5000) }),
        arm('B', { sent: 5000, opened: 2000, clicked: 400, ...revenue(5000) }),
      ],
    });
    const verdict = experimentVerdict(report);
    expect(verdict.kind).toBe('partly_decided');
    expect(verdict.headline).toBe('B beats A on click-through, 95% sure; keep collecting for conversion and revenue.');
  });

  it('names the control as the winner when the other arm is worse', () => {
    const report = experimentReport({
      arms: [
        arm('A', { sent: 5000, clicked: 400, ...revenue(5000) }),
        arm('B', { sent: 5000, clicked: 250, ...revenue(5000) }),
      ],
    });
    expect(experimentVerdict(report, ['clickThrough']).headline).toBe('A beats B on click-through, 95% sure.');
    expect(experimentVerdict(report, ['clickThrough']).kind).toBe('decided');
  });

  it('adds the daily-look caveat to a win the always-valid p does not confirm yet, and leaves it off once it does', () => {
    const borderline = experimentReport({
      arms: [arm('A', { sent: 5000, clicked: 250, ...revenue(5000) }), arm('B', { sent: 5000, clicked: 300, ...revenue(5000) })],
    });
    const comparison = borderline.comparisons.find((c) => c.metric === 'clickThrough');
    expect(comparison?.significant).toBe(true);
    expect(comparison?.alwaysValidAdjustedP).toBeGreaterThanOrEqual(0.05);
    expect(experimentVerdict(borderline, ['clickThrough']).headline).toBe('B beats A on click-through, 95% sure (if you check daily, wait until the always-valid p agrees).');
    const clear = experimentReport({
      arms: [arm('A', { sent: 5000, clicked: 250, ...revenue(5000) }), arm('B', { sent: 5000, clicked: 400, ...revenue(5000) })],
    });
    expect(clear.comparisons.find((c) => c.metric === 'clickThrough')?.alwaysValidAdjustedP).toBeLessThan(0.05);
    expect(experimentVerdict(clear, ['clickThrough']).headline).toBe('B beats A on click-through, 95% sure.');
  });

  it('keeps collecting when nothing differs', () => {
    const report = experimentReport({
      arms: [arm('A', { sent: 200, clicked: 10, ...revenue(200) }), arm('B', { sent: 200, clicked: 11, ...revenue(200) })],
    });
    const verdict = experimentVerdict(report);
    expect(verdict.kind).toBe('collecting');
    expect(verdict.headline).toBe('No clear difference yet; keep collecting for click-through, conversion and revenue.');
  });

  it('distrusts every comparison when the split is not the configured one', () => {
    const report = experimentReport({
      arms: [arm('A', { sent: 9000, clicked: 400 }), arm('B', { sent: 1000, clicked: 250 })],
    });
    const verdict = experimentVerdict(report);
    expect(verdict.kind).toBe('broken_split');
    expect(verdict.headline).toMatch(/^The split between arms is not the configured one \(p < 0\.001\): do not trust/);
  });

  it('waits for an arm without sends', () => {
    const report = experimentReport({ arms: [arm('A', { sent: 100 }, null), arm('B', {}, null)] });
    expect(experimentVerdict(report).headline).toBe('Keep collecting: B has no sends yet.');
  });

  it('speaks of the holdout: sending at all against no email', () => {
    const report = experimentReport({
      arms: [
        arm('A', { sent: 4000, converted: 200, revenue: 200 * 5000, revenueSq: 200 * 5000 * 5000 }, 0.4),
        arm('B', { sent: 4000, converted: 200, revenue: 200 * 5000, revenueSq: 200 * 5000 * 5000 }, 0.4),
        arm('holdout', { sent: 2000, converted: 20, revenue: 20 * 5000, revenueSq: 20 * 5000 * 5000 }, 0.2, true),
      ],
    });
    const verdict = experimentVerdict(report);
    expect(verdict.holdout).toBe('Sending beats the holdout on conversion, 95% sure; sending beats the holdout on revenue, 95% sure');
  });

  it('reports no lift over a holdout that converts as well', () => {
    const report = experimentReport({
      arms: [
        arm('A', { sent: 300, converted: 6 }, 0.4),
        arm('B', { sent: 300, converted: 6 }, 0.4),
        arm('holdout', { sent: 150, converted: 3 }, 0.2, true),
      ],
    });
    expect(experimentVerdict(report).holdout).toBe('No lift over the holdout shown yet (conversion and revenue)');
  });

  it('states a single arm has nothing to be compared with', () => {
    const report = experimentReport({ arms: [arm('only', { sent: 10 }, 1)] });
    expect(experimentVerdict(report).headline).toBe('One arm (only) only: there is nothing to compare it with.');
  });

  it('says sends outside any experiment (the results service\'s arm "-") have nothing to compare', () => {
    const report = experimentReport({ arms: [arm('-', { sent: 10 }, null)] });
    expect(experimentVerdict(report).headline).toBe('Sends outside any experiment: there is nothing to compare.');
  });
});
