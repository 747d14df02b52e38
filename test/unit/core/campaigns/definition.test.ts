import { BUILT_IN_DEFAULTS, parseCampaigns, validateCampaignTemplates, variantSubjects } from '../../../../services/core/campaigns';
import { FILE, parseError } from './parse-error';


function campaignsYaml(campaign: string, defaults = ''): string {
  return `${defaults}campaigns:\n${campaign}`;
}

const valid = `
  - name: exclusive_offer
    rules: [segment:high_value_engaged, high_interest]
    eligibility:
      all_segments: [frequent_buyer, engaged]
      profile:
        - { field: country, in: [DE, AT] }
    priority: 20
    template: exclusive_offer
    variants:
      - { name: control, weight: 1 }
      - { name: urgent, weight: 1, subject: "Last chance, {{default customer.first_name \\"friend\\"}}" }
    caps:
      cooldown: 7d
      quiet_hours: false
`;

describe('parseCampaigns', () => {
  it('parses a campaign and merges the defaults into its caps', () => {
    const [campaign] = parseCampaigns(FILE, campaignsYaml(valid, 'defaults:\n  frequency_cap: { max: 5, per: 7d }\n'));
    expect(campaign).toMatchObject({
      name: 'exclusive_offer',
      rules: ['segment:high_value_engaged', 'high_interest'],
      eligibility: { allSegments: ['frequent_buyer', 'engaged'], anySegments: [], noneSegments: [], profile: [{ field: 'country', op: 'in', values: ['DE', 'AT'] }] },
      priority: 20,
      template: 'exclusive_offer',
      variantKey: 'customer',
      caps: { cooldownMs: 7 * 86_400_000, frequencyCap: { max: 5, perMs: 7 * 86_400_000 }, quietHours: null },
    });
    expect(campaign.variants.map((variant) => variant.name)).toEqual(['control', 'urgent']);
  });

  it('uses the built-in defaults (3 per 24h, quiet 21:00-08:00) when defaults are left out', () => {
    const [campaign] = parseCampaigns(FILE, campaignsYaml('  - { name: a, rules: [x], priority: 1, template: a }\n'));
    expect(campaign.caps.frequencyCap).toEqual({ max: 3, perMs: 86_400_000 });
    expect(campaign.caps.quietHours).toEqual({ start: '21:00', end: '08:00', startMinute: 1260, endMinute: 480 });
    expect(campaign.caps).toEqual({ ...BUILT_IN_DEFAULTS, cooldownMs: null });
  });

  it.each([
    ['a bad duration', valid.replace('cooldown: 7d', 'cooldown: 7x'), 'exclusive_offer', 'caps.cooldown', /"7x" is not a duration; expected like 15m, 24h, 30d/],
    ['a typo in a key', valid.replace('priority: 20', 'priorty: 20'), 'exclusive_offer', 'priorty', /unknown key; expected one of name, description, rules/],
    ['a missing template', valid.replace('    template: exclusive_offer\n', ''), 'exclusive_offer', 'template', /required; expected a template name/],
    ['a bad segment name', valid.replace('[frequent_buyer, engaged]', '[frequent_buyer, Engaged!]'), 'exclusive_offer', 'eligibility.all_segments[1]', /"Engaged!" is not a segment name/],
    ['two profile operators', valid.replace('in: [DE, AT]', 'in: [DE], eq: DE'), 'exclusive_offer', 'eligibility.profile[0]', /expected exactly one of eq, neq, in, not_in, exists, not_exists; got eq, in/],
    ['an unknown profile field', valid.replace('field: country', 'field: shoe_size'), 'exclusive_offer', 'eligibility.profile[0].field', /"shoe_size" is not a profile field/],
    ['a zero weight', valid.replace('weight: 1 }', 'weight: 0 }'), 'exclusive_offer', 'variants[0].weight', /expected a whole number >= 1/],
    ['a duplicate variant', valid.replace('name: urgent', 'name: control'), 'exclusive_offer', 'variants[1].name', /duplicate variant name "control"/],
    ['a bad quiet hours time', valid.replace('quiet_hours: false', 'quiet_hours: { start: "25:00", end: "08:00" }'), 'exclusive_offer', 'caps.quiet_hours', /expected \{ start: "HH:MM", end: "HH:MM" \} or false/],
    ['a non-integer priority', valid.replace('priority: 20', 'priority: high'), 'exclusive_offer', 'priority', /expected a whole number \(higher wins\)/],
    ['a control character in an offer', valid.replace('    caps:\n', '    offer: { headline: "Half price\\u0001" }\n    caps:\n'), 'exclusive_offer', 'offer.headline', /holds the control character U\+0001; remove it \(tab and line breaks are allowed\)/],
    ['a marker bound in a subject', valid.replace('subject: "Last chance', 'subject: "\\u0002Last chance'), 'exclusive_offer', 'variants[1].subject', /holds the control character U\+0002; remove it/],
    ['an empty rules list', valid.replace('rules: [segment:high_value_engaged, high_interest]', 'rules: []'), 'exclusive_offer', 'rules', /expected at least one trigger rule name/],
  ])('names file, campaign and field for %s', (_label, campaign, name, field, problem) => {
    const error = parseError(campaignsYaml(campaign));
    expect(error.file).toBe(FILE);
    expect(error.campaign).toBe(name);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`${FILE}: campaign "${name}": ${field}: `);
    expect(error.message).toMatch(problem);
  });

  it('keeps tab and line breaks in copy and refuses C1 control characters', () => {
    const [campaign] = parseCampaigns(FILE, campaignsYaml(valid.replace('    caps:\n', '    offer: { headline: "Half price", description: "Two lines:\\n\\tthis one indented" }\n    caps:\n')));
    expect(campaign.offer).toMatchObject({ headline: 'Half price', description: 'Two lines:\n\tthis one indented' });
    expect(parseError(campaignsYaml(valid.replace('    caps:\n', '    offer: { headline: "Half price", code: "SAVE\\u0085" }\n    caps:\n'))).message).toMatch(/offer\.code: holds the control character U\+0085/);
  });

  it('names the position when the campaign has no valid name', () => {
    const error = parseError(campaignsYaml(`${valid}  - { name: Bad Name, rules: [x], priority: 1, template: a }\n`));
    expect(error.message).toMatch(/^config\/campaigns\.yaml: campaigns\[1\]: name: "Bad Name" is not a campaign name/);
  });

  it('rejects duplicate campaign names', () => {
    expect(parseError(campaignsYaml(valid + valid)).message).toMatch(/campaign "exclusive_offer": name: duplicate campaign name/);
  });

  it('names the field of a bad default', () => {
    const error = parseError(campaignsYaml(valid, 'defaults:\n  frequency_cap: { max: 0, per: 24h }\n'));
    expect(error.message).toBe('config/campaigns.yaml: defaults.frequency_cap.max: expected a whole number >= 1');
    expect(error.campaign).toBeNull();
  });

  it('accepts the shared duration grammar, 30s included', () => {
    const [campaign] = parseCampaigns(FILE, campaignsYaml('  - { name: a, rules: [x], priority: 1, template: a, caps: { cooldown: 30s, frequency_cap: { max: 1, per: 90m } } }\n'));
    expect(campaign.caps).toMatchObject({ cooldownMs: 30_000, frequencyCap: { max: 1, perMs: 90 * 60_000 } });
    expect(parseError(campaignsYaml('  - { name: a, rules: [x], priority: 1, template: a, caps: { cooldown: 366d } }\n')).message).toContain(
      'campaign "a": caps.cooldown: "366d" is longer than the longest allowed, 365d',
    );
  });

  it('reports YAML syntax errors and a wrong top level', () => {
    expect(parseError('campaigns: [\n').message).toMatch(/^config\/campaigns\.yaml: is not valid YAML/);
    expect(parseError('campaign:\n  - name: x\n').message).toMatch(/expected a top-level "campaigns:" list/);
  });

  it('lists variant subject overrides by id', () => {
    const campaigns = parseCampaigns(FILE, campaignsYaml(valid));
    expect(variantSubjects(campaigns)).toEqual([{ id: 'exclusive_offer/urgent', text: 'Last chance, {{default customer.first_name "friend"}}' }]);
  });
});

describe('validateCampaignTemplates', () => {
  const campaigns = parseCampaigns(FILE, campaignsYaml(valid.replace('weight: 1 }', 'weight: 1, template: exclusive_offer_b }')));

  it('passes when every template exists', () => {
    expect(() => validateCampaignTemplates(campaigns, ['exclusive_offer', 'exclusive_offer_b'])).not.toThrow();
  });

  it('names the campaign and the missing template', () => {
    expect(() => validateCampaignTemplates(campaigns, ['standard_message'])).toThrow(
      'campaign "exclusive_offer": template "exclusive_offer" does not exist; known templates: standard_message',
    );
  });

  it('names the variant whose template is missing', () => {
    expect(() => validateCampaignTemplates(campaigns, ['exclusive_offer'])).toThrow(
      /campaign "exclusive_offer": variant "control": template "exclusive_offer_b" does not exist/,
    );
  });
});
