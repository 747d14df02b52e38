import { parseCampaigns } from '../../../services/core/campaigns';
import { cellKey } from '../../../services/core/experiments/attribution';
import { emptyCounters, type ArmCounters } from '../../../services/core/experiments/model';
import { campaignResults, campaignSummary, designsOf, knownCampaigns, requireCampaign } from '../../../services/results/figures';
import { formatCampaign, formatSummaries } from '../../../services/tools/results';
import { EXPERIMENT_CAMPAIGNS } from '../../support/experiments';

const designs = designsOf(parseCampaigns('campaigns.yaml', EXPERIMENT_CAMPAIGNS));
const design = [...designs.byId.values()][0]!;
const of = (fields: Partial<ArmCounters>): ArmCounters => ({ ...emptyCounters(), ...fields });
const cells = new Map<string, ArmCounters>([
  [cellKey({ campaign: 'upsell', experiment: design.id, arm: 'plain+co_viewed', segment: '*' }), of({ sent: 100, opened: 30, clicked: 10, converted: 5, conversions: 6, revenue: 50_000, revenueSq: 600_000_000 })],
  [cellKey({ campaign: 'upsell', experiment: design.id, arm: 'question+popular', segment: '*' }), of({ sent: 90, opened: 40, clicked: 12, converted: 9, conversions: 9, revenue: 80_000, revenueSq: 900_000_000 })],
  [cellKey({ campaign: 'upsell', experiment: design.id, arm: 'holdout', segment: '*' }), of({ sent: 20, converted: 1, conversions: 1, revenue: 5000, revenueSq: 25_000_000 })],
  [cellKey({ campaign: 'upsell', experiment: design.id, arm: 'plain+co_viewed', segment: 'engaged' }), of({ sent: 40, opened: 20 })],
  [cellKey({ campaign: 'upsell', experiment: 'upsell.old_test.0000abcd', arm: 'a', segment: '*' }), of({ sent: 7 })],
]);

describe('results figures', () => {
  it('orders arms by the design, gives configured shares, and reports old designs without shares', () => {
    const body = campaignResults('upsell', cells, designs);
    expect(body.experiments.map((e) => [e.id, e.in_config])).toEqual([[design.id, true], ['upsell.old_test.0000abcd', false]]);
    const current = body.experiments[0]!;
    expect(current.report.arms.map((a) => [a.name, a.expectedShare, a.counters.sent])).toEqual([
      ['plain+co_viewed', 0.225, 100],
      ['plain+popular', 0.225, 0],
      ['question+co_viewed', 0.225, 0],
      ['question+popular', 0.225, 90],
      ['holdout', 0.1, 20],
    ]);
    expect(current.report.arms[3]!.variables).toEqual({ subject: 'question', recommendations: 'popular' });
    expect(current.by_segment.map((s) => [s.segment, s.arms.map((a) => a.counters.sent)])).toEqual([['engaged', [40, 0, 0, 0, 0]]]);
    expect(body.experiments[1]!.report.srm.checked).toBe(false);
    expect(campaignSummary('upsell', cells, designs).totals.sent).toBe(217);
  });

  it('names the unknown campaign, experiment or segment and lists the known ones', () => {
    expect(() => requireCampaign('nope', knownCampaigns(new Map([['other', 3]]), designs))).toThrow('unknown campaign "nope"; known: upsell, other');
    expect(() => campaignResults('upsell', cells, designs, { experiment: 'x' })).toThrow(`campaign upsell has no experiment "x"; known: ${design.id}, upsell.old_test.0000abcd`);
    expect(() => campaignResults('upsell', cells, designs, { segment: 'vip' })).toThrow('counted no send in segment "vip"; segments with sends: engaged');
  });

  it('prints tables a person can read', () => {
    const text = formatCampaign(campaignResults('upsell', cells, designs), 72 * 3600_000);
    expect(text).toContain('Campaign upsell - attribution window 72h, segment *');
    expect(text).toMatch(/^plain\+co_viewed\s+100\s+0\s+30\.0% \[/m);
    expect(text).toContain('Comparisons with plain+co_viewed');
    expect(text).toMatch(/^question\+popular vs plain\+co_viewed\s+open\s+14\.44pp \[0\.80pp, 28\.08pp\]\s+0\.0393/m);
    expect(text).not.toContain('plain+popular vs'); // no sends yet: nothing to compare
    expect(text).toContain('Sample ratio: chi-squared');
    expect(text).toContain('Holdout lift');
    expect(text).toContain('Main effect of subject');
    expect(text).toContain('-- segment engaged');
    expect(formatSummaries([campaignSummary('upsell', cells, designs)], 3 * 86_400_000)).toContain('Attribution window 72h');
  });
});
