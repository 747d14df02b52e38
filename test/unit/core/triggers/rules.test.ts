import { readFileSync } from 'node:fs';
import { parseTriggerRules, TriggerRuleError } from '../../../../services/core/triggers';
import { thrownBy } from '../../../support/thrown';
import { SEED_RULES_PATH, seedRules } from './harness';

const FILE = 'config/triggers.yaml';

/** The error message parsing `text` throws (fails the test when it parses). */
function errorOf(text: string): string {
  return thrownBy(TriggerRuleError, () => parseTriggerRules(FILE, text)).message;
}

const threshold = (extra = '', overrides: Record<string, string> = {}) => {
  const fields: Record<string, string> = {
    name: 'high_interest',
    kind: 'threshold',
    event: 'product_view',
    group_by: 'product_id',
    window: '24h',
    greater_than: '3',
    ...overrides,
  };
  const lines = Object.entries(fields)
    .filter(([, value]) => value !== '')
    .map(([key, value]) => `    ${key}: ${value}`);
  return `rules:\n  - ${lines.join('\n').trimStart()}\n${extra}`;
};

const absence = (overrides: Record<string, string> = {}) => {
  const fields: Record<string, string> = {
    name: 'cart_abandoned',
    kind: 'absence',
    event: 'add_to_cart',
    not_followed_by: '[purchase, checkout_started]',
    within: '15m',
    ...overrides,
  };
  const lines = Object.entries(fields)
    .filter(([, value]) => value !== '')
    .map(([key, value]) => `    ${key}: ${value}`);
  return `rules:\n  - ${lines.join('\n').trimStart()}\n`;
};

describe('the shipped config/triggers.yaml', () => {
  it('parses into the seed rules', () => {
    expect(parseTriggerRules(FILE, readFileSync(SEED_RULES_PATH, 'utf8'))).toEqual([
      {
        kind: 'threshold',
        name: 'high_interest',
        description: expect.any(String),
        events: ['product_view'],
        where: [],
        groupBy: 'product_id',
        window: '24h',
        windowMs: 24 * 3_600_000,
        greaterThan: 3,
        cooldownMs: 0,
      },
      {
        kind: 'absence',
        name: 'cart_abandoned',
        description: expect.any(String),
        events: ['add_to_cart'],
        where: [],
        notFollowedBy: ['purchase', 'checkout_started'],
        within: '15m',
        withinMs: 15 * 60_000,
        onRepeat: 'restart',
        context: 'cart',
      },
    ]);
  });
});

describe('parseTriggerRules', () => {
  it('reads the full threshold format', () => {
    const [rule] = parseTriggerRules(
      FILE,
      threshold('', { where: '{ category: shoes, properties.channel: web }', cooldown: '90s', event: '[product_view, add_to_cart]' }),
    );
    expect(rule).toMatchObject({
      events: ['product_view', 'add_to_cart'],
      where: [
        { field: 'category', value: 'shoes' },
        { field: 'properties.channel', value: 'web' },
      ],
      cooldownMs: 90_000,
    });
  });

  it('defaults on_repeat to restart and context to none', () => {
    expect(parseTriggerRules(FILE, absence({ not_followed_by: 'purchase' }))[0]).toMatchObject({
      notFollowedBy: ['purchase'],
      onRepeat: 'restart',
      context: null,
    });
  });

  it('accepts the shared grammar: 30s durations and where: { properties.<key>: value }', () => {
    const [rule] = parseTriggerRules(FILE, threshold('', { window: '30s', cooldown: '500ms', where: '{ properties.channel: web }' }));
    expect(rule).toMatchObject({ window: '30s', windowMs: 30_000, cooldownMs: 500, where: [{ field: 'properties.channel', value: 'web' }] });
    expect(errorOf(threshold('', { where: '{ properties: { channel: web } }' }))).toContain(
      'rule "high_interest": where.properties: is not a field; write each property as its own field, like properties.channel: web',
    );
  });

  it('accepts an empty rule list', () => {
    expect(parseTriggerRules(FILE, 'rules: []\n')).toEqual([]);
  });

  it.each([
    [
      'a bad duration',
      threshold('', { window: '24x' }),
      'config/triggers.yaml: rule "high_interest": window: "24x" is not a duration; expected like 15m, 24h, 30d',
    ],
    ['a zero window', threshold('', { window: '0h' }), 'rule "high_interest": window: "0h" is zero; expected a positive duration'],
    ['a window over a year', threshold('', { window: '366d' }), 'rule "high_interest": window: "366d" is longer than'],
    ['a missing field', threshold('', { greater_than: '' }), 'rule "high_interest": greater_than: is missing; expected a whole number'],
    ['a fractional count', threshold('', { greater_than: '3.5' }), 'rule "high_interest": greater_than: 3.5 is not a whole number from 0 to 100'],
    ['a count over the cap', threshold('', { greater_than: '101' }), 'greater_than: 101 is not a whole number from 0 to 100'],
    ['an unknown event type', threshold('', { event: 'product_vue' }), 'rule "high_interest": event: "product_vue" is not a known event type; expected one of page_view, product_view'],
    ['an unknown type in a list', threshold('', { event: '[product_view, prodct_view]' }), 'event[1]: "prodct_view" is not a known event type'],
    ['an unknown key', threshold('', { colour: 'red' }), 'rule "high_interest": colour: unknown key; expected one of name, kind'],
    ['a misspelt key', threshold('', { window: '', windw: '24h' }), 'rule "high_interest": windw: unknown key; expected one of'],
    ['an unknown group field', threshold('', { group_by: 'sku' }), 'rule "high_interest": group_by: "sku" is not an event field; expected product_id, category'],
    ['an unknown where field', threshold('', { where: '{ sku: "1" }' }), 'rule "high_interest": where.sku: is not an event field'],
    ['a number in where', threshold('', { where: '{ product_id: 123 }' }), 'where.product_id: 123 is not text; expected quoted text'],
    ['an unknown kind', threshold('', { kind: 'treshold' }), 'rule "high_interest": kind: "treshold" is not a rule kind; expected threshold or absence'],
    ['a reserved name', threshold('', { name: '"segment:vip"' }), 'rule "segment:vip": name: "segment:vip" is not allowed: names starting with "segment:" are reserved'],
    ['an invalid name', threshold('', { name: '"High Interest"' }), 'rule "High Interest": name: "High Interest" is not a rule name'],
    ['a missing name', threshold('', { name: '' }), 'config/triggers.yaml: rule #1: name: is missing; expected a rule name'],
    ['an empty cancel list', absence({ not_followed_by: '[]' }), 'rule "cart_abandoned": not_followed_by: is an empty list'],
    ['an event that cancels itself', absence({ not_followed_by: '[purchase, add_to_cart]' }), 'rule "cart_abandoned": not_followed_by: lists add_to_cart, which also arms the rule'],
    ['a bad on_repeat', absence({ on_repeat: 'again' }), 'rule "cart_abandoned": on_repeat: "again" is not an on_repeat choice; expected restart or keep'],
    ['a bad context', absence({ context: 'basket' }), 'rule "cart_abandoned": context: "basket" is not a context option; expected cart'],
    ['a missing within', absence({ within: '' }), 'rule "cart_abandoned": within: is missing; expected a duration'],
  ])('rejects %s, naming the file, the rule and the field', (_what, text, message) => {
    expect(errorOf(text)).toContain(message);
    expect(errorOf(text).startsWith(`${FILE}: `)).toBe(true);
  });

  it('rejects duplicate names', () => {
    const text = `${threshold()}  - name: high_interest\n    kind: absence\n    event: add_to_cart\n    not_followed_by: purchase\n    within: 1h\n`;
    expect(errorOf(text)).toBe('config/triggers.yaml: rule "high_interest": name: is used by an earlier rule; expected unique names');
  });

  it('rejects a file that is not a rule list', () => {
    expect(errorOf('')).toBe('config/triggers.yaml: is empty; expected a mapping with a `rules:` list');
    expect(errorOf('rules: {}\n')).toBe('config/triggers.yaml: rules: a mapping is not a list of rules; expected a YAML list of rule mappings');
    expect(errorOf('rule: []\n')).toContain('config/triggers.yaml: rule: unknown key; expected one of rules');
    expect(errorOf('rules: [42]\n')).toBe('config/triggers.yaml: rule #1: 42 is not a mapping; expected name, kind and the fields of that kind');
  });

  it('rejects invalid YAML and duplicate keys with the line', () => {
    expect(errorOf('rules:\n  - name: [unclosed\n')).toMatch(/^config\/triggers\.yaml: is not valid YAML: .*line \d+/s);
    expect(errorOf(`${threshold()}    window: 1h\n`)).toMatch(/^config\/triggers\.yaml: is not valid YAML: Map keys must be unique/);
  });

  it('names the shipped rules so they never collide with segment triggers', () => {
    expect(seedRules().every((rule) => !rule.name.startsWith('segment:'))).toBe(true);
  });
});
