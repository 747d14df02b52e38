import { jStat } from 'jstat';
import { assignArm, experimentOf, parseCampaigns, variantSubjects, type Campaign, type ExperimentDesign } from '../../../../services/core/campaigns';
import { FILE, parseError } from './parse-error';


function campaignWith(experiment: string, extra = ''): string {
  return `campaigns:\n  - name: standard_message\n    rules: [high_interest]\n    priority: 10\n    template: standard_message\n${extra}    experiment:\n${experiment}`;
}

const multivariate = `      name: subject_and_recs
      holdout: 10%
      variables:
        subject:
          - { name: plain, weight: 1, value: "{{product.title}} is still in stock" }
          - { name: question, weight: 1, value: "Still thinking about {{product.title}}?" }
        recommendations:
          - { name: co_viewed, value: co_viewed }
          - { name: popular }
`;

function only(text: string): Campaign {
  const [campaign] = parseCampaigns(FILE, text);
  return campaign;
}

function design(text: string): ExperimentDesign {
  const result = experimentOf(only(text));
  if (result === null) throw new Error('expected an experiment');
  return result;
}

describe('experiment: in campaigns.yaml', () => {
  it('parses a 2x2 multivariate design with a holdout into four arms', () => {
    const result = design(campaignWith(multivariate));
    expect(result.id).toMatch(/^standard_message\.subject_and_recs\.[0-9a-f]{8}$/);
    expect(result).toMatchObject({ campaign: 'standard_message', name: 'subject_and_recs', holdoutShare: 0.1, key: 'customer' });
    expect(result.variables).toEqual([
      { name: 'subject', kind: 'subject', levels: [{ name: 'plain', weight: 1 }, { name: 'question', weight: 1 }] },
      { name: 'recommendations', kind: 'recommendations', levels: [{ name: 'co_viewed', weight: 1 }, { name: 'popular', weight: 1 }] },
    ]);
    expect(result.arms.map((arm) => arm.name)).toEqual(['plain+co_viewed', 'plain+popular', 'question+co_viewed', 'question+popular']);
    expect(result.arms[1].variables).toEqual({ subject: 'plain', recommendations: 'popular' });
    for (const arm of result.arms) expect(arm.share).toBeCloseTo(0.225, 12);
  });

  it('takes a chosen fraction of the combinations and weights as products', () => {
    const text = campaignWith(multivariate.replace('weight: 1, value: "{{product.title}} is', 'weight: 3, value: "{{product.title}} is') + '      combinations: [[plain, co_viewed], question+popular]\n');
    const result = design(text);
    expect(result.arms.map((arm) => [arm.name, arm.share])).toEqual([['plain+co_viewed', 0.9 * 0.75], ['question+popular', 0.9 * 0.25]]);
  });

  it('maps a legacy variants: list onto an experiment named variants', () => {
    const text = `campaigns:\n  - name: exclusive_offer\n    rules: [x]\n    priority: 1\n    template: exclusive_offer\n    variant_key: trigger\n    variants:\n      - { name: control, weight: 1 }\n      - { name: urgent, weight: 3, subject: "Last chance" }\n`;
    const campaign = only(text);
    const result = experimentOf(campaign);
    expect(result).toMatchObject({ name: 'variants', key: 'trigger', holdoutShare: 0, variables: [{ name: 'variant', kind: 'subject', levels: [{ name: 'control', weight: 1 }, { name: 'urgent', weight: 3 }] }] });
    expect(result?.arms.map((arm) => [arm.name, arm.share])).toEqual([['control', 0.25], ['urgent', 0.75]]);
    expect(variantSubjects([campaign])).toEqual([{ id: 'exclusive_offer/urgent', text: 'Last chance' }]);
  });

  it('parses every variable kind', () => {
    const text = campaignWith(`      name: everything
      holdout: 0.05
      key: trigger
      combinations: [[a, a, a, a, a, a, a], [b, b, b, b, b, b, b]]
      variables:
        subject: [{ name: a, value: "A" }, { name: b, value: "B" }]
        preheader: [{ name: a, value: "pa" }, { name: b, value: "pb" }]
        look: { kind: template, levels: [{ name: a, value: standard_message }, { name: b, value: upsell }] }
        block_order: [{ name: a, value: [cart, recommendations] }, { name: b, value: [recommendations, cart] }]
        offer: [{ name: a, value: none }, { name: b, weight: 2, value: { headline: "10% off", code: TEN } }]
        recommendations: [{ name: a, value: none }, { name: b, value: popular }]
        send_delay: [{ name: a, value: 0s }, { name: b, value: 2h }]
`);
    const campaign = only(text);
    const variables = campaign.experiment?.variables ?? [];
    expect(variables.map((variable) => [variable.name, variable.kind])).toEqual([
      ['subject', 'subject'], ['preheader', 'preheader'], ['look', 'template'], ['block_order', 'block_order'], ['offer', 'offer'], ['recommendations', 'recommendations'], ['send_delay', 'send_delay'],
    ]);
    expect(variables.map((variable) => variable.levels[1].settings)).toEqual([
      { subject: 'B' }, { preheader: 'pb' }, { template: 'upsell' }, { blockOrder: ['recommendations', 'cart'] },
      { offer: { headline: '10% off', description: null, code: 'TEN', discountPercent: null, validForMs: null } }, { recommendations: 'popular' }, { sendDelayMs: 7_200_000 },
    ]);
    expect(variables[4].levels[0].settings).toEqual({ offer: null });
    expect(variables[6].levels[0].settings).toEqual({ sendDelayMs: 0 });
    expect(experimentOf(campaign)).toMatchObject({ key: 'trigger', holdoutShare: 0.05, arms: [{ name: 'a+a+a+a+a+a+a' }, { name: 'b+b+b+b+b+b+b' }] });
  });

  const subjectOnly = `      name: subject_test
      variables:
        subject:
          - { name: plain, value: "Plain" }
          - { name: question, value: "Question?" }
`;

  it.each([
    ['variants and experiment together', campaignWith(subjectOnly, '    variants: [{ name: a, weight: 1 }]\n'), 'experiment', /either variants: or experiment:/],
    ['a bad experiment name', campaignWith(subjectOnly.replace('subject_test', 'Subject Test')), 'experiment.name', /"Subject Test" is not a experiment name/],
    ['a holdout of 100%', campaignWith(subjectOnly + '      holdout: 100%\n'), 'experiment.holdout', /"100%" is not a holdout share/],
    ['a negative holdout', campaignWith(subjectOnly + '      holdout: -0.1\n'), 'experiment.holdout', /-0.1 is not a holdout share/],
    ['an unknown kind', campaignWith(subjectOnly.replace('subject:\n', 'colour:\n')), 'experiment.variables.colour', /is not a variable kind/],
    ['a kind that does not exist in { kind }', campaignWith(subjectOnly.replace('subject:\n', 'x:\n          kind: colour\n          levels:\n')), 'experiment.variables.x.kind', /expected a variable kind/],
    ['one level only', campaignWith(subjectOnly.replace('          - { name: question, value: "Question?" }\n', '')), 'experiment.variables.subject', /at least two levels/],
    ['a duplicate level', campaignWith(subjectOnly.replace('name: question', 'name: plain')), 'experiment.variables.subject[1].name', /duplicate level name "plain"/],
    ['a zero weight', campaignWith(subjectOnly.replace('name: plain,', 'name: plain, weight: 0,')), 'experiment.variables.subject[0].weight', /expected a number > 0/],
    ['an unknown key in a level', campaignWith(subjectOnly.replace('name: plain,', 'name: plain, wieght: 1,')), 'experiment.variables.subject[0].wieght', /unknown key/],
    ['a bad recommendation strategy', campaignWith(subjectOnly.replace('subject:', 'recommendations:').replace('"Plain"', 'random')), 'experiment.variables.recommendations[0].value', /expected co_viewed, popular or none/],
    ['an unknown block', campaignWith(subjectOnly.replace('subject:', 'block_order:').replace('"Plain"', '[cart, banner]').replace('"Question?"', '[cart]')), 'experiment.variables.block_order[0].value[1]', /"banner" is not a block/],
    ['a bad send delay', campaignWith(subjectOnly.replace('subject:', 'send_delay:').replace('"Plain"', '30d').replace('"Question?"', '1h')), 'experiment.variables.send_delay[0].value', /expected a duration/],
    ['a combination naming an unknown level', campaignWith(subjectOnly + '      combinations: [[plain], [shouty]]\n'), 'experiment.combinations[1]', /"shouty" is not a level of subject/],
    ['a combination of the wrong length', campaignWith(subjectOnly + '      combinations: [[plain, x], [question]]\n'), 'experiment.combinations[0]', /one level per variable/],
    ['a duplicate combination', campaignWith(subjectOnly + '      combinations: [[plain], [plain]]\n'), 'experiment.combinations[1]', /duplicate arm "plain"/],
    ['no variables', campaignWith('      name: empty\n      variables: {}\n'), 'experiment.variables', /at least one variable/],
    ['a bad key', campaignWith(subjectOnly + '      key: session\n'), 'experiment.key', /expected customer or trigger/],
  ])('refuses %s, naming file, campaign and field', (_label, text, field, message) => {
    const error = parseError(text);
    expect(error.file).toBe(FILE);
    expect(error.campaign).toBe('standard_message');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${FILE}: campaign "standard_message": ${field}: `)).toBe(true);
  });
});

describe('experiment id', () => {
  const base = design(campaignWith(multivariate)).id;

  it('is the same for the same design, whatever the key order or spacing', () => {
    expect(design(campaignWith(multivariate)).id).toBe(base);
    const reordered = multivariate.replace('{ name: plain, weight: 1, value: "{{product.title}} is still in stock" }', '{ value: "{{product.title}} is still in stock", weight: 1,   name: plain }');
    expect(design(campaignWith(reordered)).id).toBe(base);
    // Weight 1 is the default: leaving it out is the same design.
    expect(design(campaignWith(multivariate.replace('weight: 1, value: "Still', 'value: "Still'))).id).toBe(base);
    // Campaign fields outside the experiment do not change it.
    expect(design(campaignWith(multivariate).replace('priority: 10', 'priority: 11')).id).toBe(base);
  });

  it.each([
    ['a weight', multivariate.replace('name: plain, weight: 1', 'name: plain, weight: 2')],
    ['a value', multivariate.replace('is still in stock', 'is still here')],
    ['a level name', multivariate.replace('name: question', 'name: asking')],
    ['an added level', multivariate.replace('          - { name: popular }\n', '          - { name: popular }\n          - { name: none }\n')],
    ['the holdout', multivariate.replace('holdout: 10%', 'holdout: 20%')],
    ['the key', multivariate + '      key: trigger\n'],
    ['the combinations', multivariate + '      combinations: [[plain, co_viewed], [question, popular]]\n'],
    ['the name', multivariate.replace('subject_and_recs', 'subject_and_recs_2')],
    ['the variable order', multivariate.replace(/( {8}subject:\n(?: {10}.*\n){2})((?: {8}recommendations:\n)(?: {10}.*\n){2})/, '$2$1')],
  ])('changes when %s changes', (_label, changed) => {
    expect(design(campaignWith(changed)).id).not.toBe(base);
  });
});

/** Chi-squared goodness of fit of observed counts against expected shares; the p-value. */
function chiSquaredP(observed: number[], shares: number[]): number {
  const total = observed.reduce((sum, count) => sum + count, 0);
  const statistic = observed.reduce((sum, count, index) => sum + (count - total * shares[index]) ** 2 / (total * shares[index]), 0);
  return 1 - jStat.chisquare.cdf(statistic, observed.length - 1);
}

function split(result: ExperimentDesign): number[] {
  const counts = new Map<string, number>([['holdout', 0], ...result.arms.map((arm) => [arm.name, 0] as [string, number])]);
  for (let i = 0; i < 10_000; i++) {
    const assigned = assignArm(result, { customerId: `c-${i}`, triggerId: `t-${i}` });
    const name = assigned.holdout ? 'holdout' : assigned.arm.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.values()];
}

describe('assignArm', () => {
  const abn = design(campaignWith(`      name: three_subjects
      holdout: 10%
      variables:
        subject:
          - { name: a, weight: 2, value: "A" }
          - { name: b, weight: 1, value: "B" }
          - { name: c, weight: 1, value: "C" }
`));
  const twoByTwo = design(campaignWith(multivariate));

  it('is deterministic and sticky: the same customer gets the same arm on every send', () => {
    for (let i = 0; i < 200; i++) {
      const first = assignArm(twoByTwo, { customerId: `c-${i}`, triggerId: 't-1' });
      const second = assignArm(twoByTwo, { customerId: `c-${i}`, triggerId: 't-2' });
      expect(second).toEqual(first);
    }
  });

  it('keys on the trigger with key: trigger', () => {
    const byTrigger = design(campaignWith(multivariate + '      key: trigger\n'));
    const arms = new Set(Array.from({ length: 50 }, (_, i) => {
      const assigned = assignArm(byTrigger, { customerId: 'c-1', triggerId: `t-${i}` });
      return assigned.holdout ? 'holdout' : assigned.arm.name;
    }));
    expect(arms.size).toBeGreaterThan(2);
    expect(assignArm(byTrigger, { customerId: 'c-1', triggerId: 't-7' })).toEqual(assignArm(byTrigger, { customerId: 'c-2', triggerId: 't-7' }));
  });

  it('splits 10,000 customers 10% holdout / 45% / 22.5% / 22.5% for weights 2/1/1 (chi-squared p > 0.01)', () => {
    const counts = split(abn);
    expect(counts.length).toBe(4);
    expect(chiSquaredP(counts, [0.1, 0.45, 0.225, 0.225])).toBeGreaterThan(0.01);
  });

  it('splits 10,000 customers over a 2x2 multivariate with a 10% holdout (chi-squared p > 0.01)', () => {
    const counts = split(twoByTwo);
    expect(counts.length).toBe(5);
    expect(chiSquaredP(counts, [0.1, 0.225, 0.225, 0.225, 0.225])).toBeGreaterThan(0.01);
  });

  it('the test itself would notice a skewed split', () => {
    expect(chiSquaredP([1000, 4700, 2150, 2150], [0.1, 0.45, 0.225, 0.225])).toBeLessThan(0.01);
  });

  it('without a holdout never holds anyone out', () => {
    const noHoldout = design(campaignWith(multivariate.replace('      holdout: 10%\n', '')));
    for (let i = 0; i < 1000; i++) expect(assignArm(noHoldout, { customerId: `c-${i}`, triggerId: 't' }).holdout).toBe(false);
  });
});
