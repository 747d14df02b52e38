/**
 * Issue 13, "done when" 2, from raw records to the report: a fixed data set of sends, opens,
 * clicks and purchases at known times goes through the attribution core (as the results
 * service applies it, customer by customer, in shuffled batches) and the figures code, and every
 * counter, rate, interval and p-value equals what this test computes on its own: the counters
 * by counting the plan below, the statistics with the textbook formulas of stats.textbook.ts
 * (own erfc, incomplete gamma and beta; no jstat, nothing from services/). The formulas there
 * were checked once against scipy (reference.py beside them).
 */
import { parseCampaigns } from '../../../services/core/campaigns';
import { applyRecords, DEFAULT_LIMITS, emptyAttributionState, parseAttributionState, serializeAttributionState, type AttributionRecord, type AttributionState } from '../../../services/core/experiments/attribution';
import { COUNTER_FIELDS, emptyCounters, type ArmCounters, type Comparison, type Estimate } from '../../../services/core/experiments/model';
import { MIXING_SD } from '../../../services/core/experiments/stats';
import { behaviorEvent, type EmailOutcome } from '../../../services/core/types';
import { campaignResults, designsOf } from '../../../services/results/figures';
import { seededRandom } from '../../../services/tools/synthetic';
import * as textbook from '../core/experiments/stats.textbook';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const W = 72 * HOUR;
const T0 = Date.UTC(2026, 10, 2, 9);
const OPTIONS = { windowMs: W, horizonMs: 30 * 24 * HOUR, ...DEFAULT_LIMITS };
const REL = 1e-9;
/** The Student t figures: jstat's incomplete beta stops at a step of 3e-7 (see stats.test.ts). */
const REL_T = 1e-6;

const YAML = `campaigns:
  - name: upsell
    rules: [high_interest]
    priority: 5
    template: upsell
    experiment:
      name: subject
      holdout: 20%
      variables:
        subject:
          - { name: a, value: "Still thinking it over?" }
          - { name: b, value: "{{product.title}} is waiting" }
`;
const designs = designsOf(parseCampaigns('campaigns.yaml', YAML));
const design = [...designs.byId.values()][0]!;

/**
 * The plan, per arm: how many customers (one send each, customer i sent at T0 + i minutes);
 * the first `opens` open an hour after their send, the first `clicks` of those click at 1 h 30;
 * the first `buyers` buy `cents` 2 h after their send; `extra` buy a second time (1,000 cents,
 * 5 h after); `late` customers (from the end of the list) buy 73 h after (outside the window);
 * `early` ones bought an hour before the send (never attributed). The holdout gets virtual sends.
 */
interface ArmPlan {
  customers: number;
  opens: number;
  clicks: number;
  buyers: number;
  cents: number;
  extra: number;
  late: number;
  early: number;
}
const PLAN: Record<string, ArmPlan> = {
  a: { customers: 60, opens: 21, clicks: 7, buyers: 4, cents: 3_000, extra: 1, late: 2, early: 1 },
  b: { customers: 55, opens: 27, clicks: 14, buyers: 9, cents: 4_500, extra: 3, late: 1, early: 2 },
  holdout: { customers: 30, opens: 0, clicks: 0, buyers: 2, cents: 2_500, extra: 0, late: 1, early: 0 },
};

function records(): Map<string, AttributionRecord[]> {
  const byCustomer = new Map<string, AttributionRecord[]>();
  for (const [arm, plan] of Object.entries(PLAN)) {
    for (let i = 0; i < plan.customers; i++) {
      const customer = `${arm}-${i}`;
      const at = T0 + i * MINUTE;
      const trigger = `${customer}-t`;
      const outcome: EmailOutcome = {
        trigger_id: trigger, customer_id: customer, campaign: 'upsell', variant: arm === 'holdout' ? null : arm,
        status: arm === 'holdout' ? 'skipped' : 'sent', ses_message_id: arm === 'holdout' ? null : `ses-${trigger}`,
        reason: arm === 'holdout' ? `holdout: ${design.id}` : 'chosen: test', at,
        experiment: design.id, holdout: arm === 'holdout', variables: arm === 'holdout' ? {} : { subject: arm }, segments: i % 2 === 0 ? ['engaged'] : [], rule: 'high_interest',
      };
      const list: AttributionRecord[] = [{ outcome }];
      const event = (type: string, id: string, when: number, fields: Record<string, unknown> = {}) =>
        list.push({ event: behaviorEvent({ event_id: id, customer_id: customer, type, occurred_at: when, ...fields }) });
      if (i < plan.opens) event('email_open', `${customer}-open`, at + HOUR, { message_id: trigger, campaign_id: 'upsell' });
      if (i < plan.clicks) event('email_click', `${customer}-click`, at + 1.5 * HOUR, { message_id: trigger, campaign_id: 'upsell' });
      if (i < plan.buyers) event('purchase', `${customer}-buy`, at + 2 * HOUR, { value_cents: plan.cents });
      if (i < plan.extra) event('purchase', `${customer}-buy2`, at + 5 * HOUR, { value_cents: 1_000 });
      if (i >= plan.customers - plan.late) event('purchase', `${customer}-late`, at + 73 * HOUR, { value_cents: 7_777 });
      if (i >= plan.buyers && i < plan.buyers + plan.early) event('purchase', `${customer}-early`, at - HOUR, { value_cents: 5_555 });
      byCustomer.set(customer, list);
    }
  }
  return byCustomer;
}

/** The counters of an arm, by counting the plan (not through any code under test). */
function planned(plan: ArmPlan, segment: 'all' | 'even' = 'all'): ArmCounters {
  const counters = emptyCounters();
  for (let i = 0; i < plan.customers; i++) {
    if (segment === 'even' && i % 2 !== 0) continue;
    const revenue = (i < plan.buyers ? plan.cents : 0) + (i < plan.extra ? 1_000 : 0);
    const purchases = (i < plan.buyers ? 1 : 0) + (i < plan.extra ? 1 : 0);
    counters.sent += 1;
    counters.opened += i < plan.opens ? 1 : 0;
    counters.clicked += i < plan.clicks ? 1 : 0;
    counters.converted += purchases > 0 ? 1 : 0;
    counters.conversions += purchases;
    counters.revenue += revenue;
    counters.revenueSq += revenue * revenue;
    // Purchases come after the click (1 h 30) and within W of it when the customer clicked.
    const clicked = i < plan.clicks;
    counters.clickConverted += clicked && purchases > 0 ? 1 : 0;
    counters.clickConversions += clicked ? purchases : 0;
    counters.clickRevenue += clicked ? revenue : 0;
  }
  return counters;
}

/** Applies each customer's records in shuffled batches, summing deltas as the service's counters do. */
function counted(seed: number): Map<string, ArmCounters> {
  const random = seededRandom(seed);
  const cells = new Map<string, ArmCounters>();
  for (const list of records().values()) {
    const shuffled = [...list].sort(() => random() - 0.5);
    let state: AttributionState = emptyAttributionState();
    for (let start = 0; start < shuffled.length; ) {
      const size = 1 + Math.floor(random() * 3);
      const applied = applyRecords(parseAttributionState(serializeAttributionState(state)), shuffled.slice(start, start + size), OPTIONS);
      state = applied.state;
      for (const [key, delta] of applied.delta) {
        const sum = cells.get(key) ?? emptyCounters();
        for (const field of COUNTER_FIELDS) sum[field] += delta[field];
        cells.set(key, sum);
      }
      start += size;
    }
  }
  return cells;
}

/**
 * Value and bounds to `rel`. The bounds are compared as half-widths (value - low, high - value):
 * the t quantile's own error is relative to the half-width, and a bound near 0 would magnify it.
 */
function expectEstimate(actual: Estimate, expected: [number, number, number], rel = REL): void {
  textbook.expectClose(actual.value, expected[0], rel, 'value');
  textbook.expectClose((actual.value as number) - (actual.low as number), expected[0] - expected[1], rel, 'value - low');
  textbook.expectClose((actual.high as number) - (actual.value as number), expected[2] - expected[0], rel, 'high - value');
}

function expectProportionComparison(actual: Comparison | undefined, x1: number, n1: number, x2: number, n2: number, tau: number): void {
  const expected = textbook.twoProportions(x1, n1, x2, n2);
  expect(actual).toBeDefined();
  expectEstimate(actual!.difference, [expected.difference, expected.low, expected.high]);
  textbook.expectClose(actual!.statistic, expected.statistic, REL, 'z');
  textbook.expectClose(actual!.p, expected.p, REL, 'p');
  textbook.expectClose(actual!.alwaysValidP, textbook.msprtProportions(x1, n1, x2, n2, tau), REL, 'always-valid p');
}

function expectRevenueComparison(actual: Comparison | undefined, one: ArmCounters, two: ArmCounters): void {
  const expected = textbook.welch(one.sent, one.revenue, one.revenueSq, two.sent, two.revenue, two.revenueSq);
  expect(actual).toBeDefined();
  expectEstimate(actual!.difference, [expected.difference, expected.low, expected.high], REL_T);
  textbook.expectClose(actual!.statistic, expected.statistic, REL, 't');
  textbook.expectClose(actual!.df, expected.df, REL, 'df');
  textbook.expectClose(actual!.p, expected.p, REL_T, 'p');
  textbook.expectClose(actual!.alwaysValidP, textbook.msprtMeans(one.sent, one.revenue, one.revenueSq, two.sent, two.revenue, two.revenueSq, MIXING_SD.revenuePerRecipient), REL, 'always-valid p');
}

describe('from sends, opens, clicks and purchases at known times to every figure of the report', () => {
  const a = planned(PLAN.a!);
  const b = planned(PLAN.b!);
  const h = planned(PLAN.holdout!);

  it('counts every arm as planned, whatever the order and batching of the records', () => {
    for (const seed of [1, 2, 3]) {
      const body = campaignResults('upsell', counted(seed), designs);
      const report = body.experiments[0]!.report;
      expect(new Map(report.arms.map((arm) => [arm.name, arm.counters]))).toEqual(new Map([['a', a], ['b', b], ['holdout', h]]));
      // By segment: the even-numbered customers were in `engaged` at send time.
      const engaged = body.experiments[0]!.by_segment.find((s) => s.segment === 'engaged');
      expect(new Map(engaged?.arms.map((arm) => [arm.name, arm.counters]))).toEqual(
        new Map([['a', planned(PLAN.a!, 'even')], ['b', planned(PLAN.b!, 'even')], ['holdout', planned(PLAN.holdout!, 'even')]]),
      );
    }
  });

  it('gives every rate with its interval, the comparisons, the chi-squared, the SRM and the holdout lift as the textbook does', () => {
    const report = campaignResults('upsell', counted(7), designs).experiments[0]!.report;
    const arm = (name: string) => report.arms.find((x) => x.name === name)!;
    for (const [name, c] of [['a', a], ['b', b], ['holdout', h]] as const) {
      const rates = arm(name).rates;
      expectEstimate(rates.open, textbook.wilson(c.opened, c.sent));
      expectEstimate(rates.clickThrough, textbook.wilson(c.clicked, c.sent));
      expectEstimate(rates.conversion, textbook.wilson(c.converted, c.sent));
      expectEstimate(rates.clickConversion, textbook.wilson(c.clickConverted, c.sent));
      expectEstimate(rates.revenuePerRecipient, textbook.meanInterval(c.sent, c.revenue, c.revenueSq), REL_T);
      if (c.opened > 0) expectEstimate(rates.clickToOpen, textbook.wilson(c.clicked, c.opened));
      else expect(rates.clickToOpen.value).toBeNull();
    }

    // b against the control a: one comparison per metric, so Holm leaves p as it is.
    const comparison = (metric: string) => report.comparisons.find((x) => x.metric === metric && x.arm === 'b' && x.control === 'a');
    expectProportionComparison(comparison('open'), b.opened, b.sent, a.opened, a.sent, MIXING_SD.open);
    expectProportionComparison(comparison('clickThrough'), b.clicked, b.sent, a.clicked, a.sent, MIXING_SD.clickThrough);
    expectProportionComparison(comparison('clickToOpen'), b.clicked, b.opened, a.clicked, a.opened, MIXING_SD.clickToOpen);
    expectProportionComparison(comparison('conversion'), b.converted, b.sent, a.converted, a.sent, MIXING_SD.conversion);
    expectRevenueComparison(comparison('revenuePerRecipient'), b, a);
    for (const x of report.comparisons) {
      expect(x.adjustedP).toBe(x.p);
      expect(x.significant).toBe((x.p as number) < 0.05);
    }

    const homogeneity = report.homogeneity.find((x) => x.metric === 'clickThrough');
    const chi = textbook.chiSquaredRows([[a.clicked, a.sent], [b.clicked, b.sent]]);
    textbook.expectClose(homogeneity?.statistic, chi.statistic, REL, 'chi-squared');
    textbook.expectClose(homogeneity?.p, chi.p, REL, 'chi-squared p');

    // SRM: 60 / 55 / 30 sends against 40% / 40% / 20%.
    const srm = textbook.goodnessOfFit([a.sent, b.sent, h.sent], [0.4, 0.4, 0.2]);
    textbook.expectClose(report.srm.statistic, srm.statistic, REL, 'SRM statistic');
    textbook.expectClose(report.srm.p, srm.p, REL, 'SRM p');
    expect(report.srm.mismatch).toBe(srm.p < 0.001);

    // The lift of sending at all: a and b pooled against the holdout.
    const treated = emptyCounters();
    for (const field of COUNTER_FIELDS) treated[field] = a[field] + b[field];
    expect(report.holdoutLift?.treated).toEqual(treated);
    expectProportionComparison(report.holdoutLift?.conversion, treated.converted, treated.sent, h.converted, h.sent, MIXING_SD.conversion);
    expectRevenueComparison(report.holdoutLift?.revenuePerRecipient, treated, h);
  });
});
