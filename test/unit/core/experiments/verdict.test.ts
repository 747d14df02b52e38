/**
 * verdict(): the plain-words reading of a report, on reports computed by experimentReport()
 * from counters chosen so that each finding is clear-cut (or clearly not).
 */
import { emptyCounters, experimentReport, verdict, type ArmCounters, type ArmInput, type ExperimentReport } from '../../../../services/core/experiments';

function counters(fields: Partial<ArmCounters>): ArmCounters {
  return { ...emptyCounters(), ...fields };
}

/** revenueSq for `converted` sends of `each` cents (the rest 0). */
const revenue = (converted: number, each: number) => ({ converted, conversions: converted, revenue: converted * each, revenueSq: converted * each * each });

function report(arms: ArmInput[], confidence?: number): ExperimentReport {
  return experimentReport({ arms, ...(confidence === undefined ? {} : { confidence }) });
}

const arm = (name: string, c: Partial<ArmCounters>, share: number | null = 0.5): ArmInput => ({ name, holdout: false, expectedShare: share, counters: counters(c) });
const holdout = (c: Partial<ArmCounters>, share: number | null): ArmInput => ({ name: 'holdout', holdout: true, expectedShare: share, counters: counters(c) });

describe('verdict', () => {
  it('says nothing was sent when no arm sent anything', () => {
    expect(verdict(report([arm('A', {}), arm('B', {})]))).toEqual(['Nothing sent yet: no results to judge.']);
  });

  it('names the winner on click-through and asks for more data on the rest (the issue\'s example)', () => {
    // Same opens, conversions and revenue; B's click-through 20% against A's 5% on 2000 sends each.
    const same = { opened: 600, ...revenue(40, 5000) };
    const lines = verdict(report([arm('A', { sent: 2000, clicked: 100, ...same }), arm('B', { sent: 2000, clicked: 400, ...same })]));
    expect(lines).toEqual(['B beats A on click-through and click-to-open, 95% sure; keep collecting for opens, conversion and revenue']);
  });

  it('says when the control is the better one', () => {
    const lines = verdict(report([arm('plain', { sent: 20000, opened: 9000, clicked: 1800 }), arm('question', { sent: 20000, opened: 5000, clicked: 1000 })]));
    expect(lines).toEqual(['plain beats question on opens and click-through, 95% sure; keep collecting for click-to-open, conversion and revenue']);
  });

  it('names both directions when an arm wins on one metric and loses on another', () => {
    const lines = verdict(report([arm('plain', { sent: 2000, opened: 900, clicked: 200 }), arm('question', { sent: 2000, opened: 500, clicked: 200 })]));
    expect(lines).toEqual(['question beats plain on click-to-open, 95% sure; plain beats question on opens, 95% sure; keep collecting for click-through, conversion and revenue']);
  });

  it('asks to keep collecting when nothing differs for sure', () => {
    const lines = verdict(report([arm('A', { sent: 50, opened: 10, clicked: 2 }), arm('B', { sent: 52, opened: 11, clicked: 3 })]));
    expect(lines).toEqual(['No sure difference between B and A yet; keep collecting']);
  });

  it('has one line per arm against the control, in arm order', () => {
    const lines = verdict(report([arm('A', { sent: 100, opened: 20 }, 1 / 3), arm('B', { sent: 100, opened: 21 }, 1 / 3), arm('C', { sent: 100, opened: 22 }, 1 / 3)]));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('between B and A');
    expect(lines[1]).toContain('between C and A');
  });

  it('reports the lift over the holdout', () => {
    const arms = [arm('A', { sent: 3000, opened: 900, ...revenue(300, 4000) }, 0.9), holdout({ sent: 330, ...revenue(3, 4000) }, 0.1)];
    const lines = verdict(report(arms));
    expect(lines).toContain('Only one arm (A): nothing to compare it with but the holdout.');
    expect(lines[lines.length - 1]).toMatch(/^Sending beats the holdout on conversion( and revenue)?, 95% sure/);
  });

  it('says when the holdout cannot be compared yet', () => {
    // Unknown shares: no sample-ratio check, so only the two lines.
    const lines = verdict(report([arm('A', {}, null), arm('B', {}, null), holdout({ sent: 3 }, null)]));
    expect(lines).toEqual(['B vs A: nothing to compare yet (one side has no sends)', 'Sending vs the holdout: nothing to compare yet (one side has no sends)']);
  });

  it('warns first when the split is broken (sample-ratio mismatch)', () => {
    const lines = verdict(report([arm('A', { sent: 1000, opened: 200 }), arm('B', { sent: 600, opened: 120 })]));
    expect(lines[0]).toMatch(/^Warning: the split between the arms is not the one configured \(sample-ratio p < 0\.0001\); do not trust/);
    expect(lines).toHaveLength(2);
  });

  it('uses the report\'s confidence', () => {
    const same = { opened: 600 };
    const lines = verdict(report([arm('A', { sent: 2000, clicked: 100, ...same }), arm('B', { sent: 2000, clicked: 400, ...same })], 0.99));
    expect(lines[0]).toContain('99% sure');
  });

  it('tells a daily looker to wait when the always-valid p does not confirm a fixed-horizon win yet', () => {
    // Just significant at the fixed horizon (z about 2.2), far from the always-valid threshold.
    const lines = verdict(report([arm('A', { sent: 2000, opened: 400 }), arm('B', { sent: 2000, opened: 460 })]));
    expect(lines[0]).toBe('B beats A on opens, 95% sure; keep collecting for click-through, click-to-open, conversion and revenue (if you check daily, wait until the always-valid p agrees)');
  });
});
