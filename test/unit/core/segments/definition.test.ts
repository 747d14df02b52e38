import { parseSegmentDefinitions, SegmentDefinitionError } from '../../../../services/core/segments';
import { thrownBy } from '../../../support/thrown';
import { DAY, HOUR, MINUTE, defsOf } from './harness';

const errorOf = (text: string): SegmentDefinitionError => thrownBy(SegmentDefinitionError, () => parseSegmentDefinitions('config/segments.yaml', text));

describe('parseSegmentDefinitions: valid files', () => {
  it('normalizes every leaf kind and combinator', () => {
    const [segment] = defsOf([
      {
        name: 'everything',
        description: 'all kinds',
        trigger_on_entry: true,
        conditions: {
          all: [
            { count: { event: 'purchase', within: '90d', gte: 3, where: { category: 'shoes', product_id: 'p1', 'properties.channel': 'web' } } },
            { recency: { event: ['email_open', 'email_click', 'email_open'], within: '30d' } },
            { sum: { event: 'purchase', within: '365d', gte: 50000 } },
            { never: { event: 'purchase' } },
            { never: { event: 'purchase', within: '15m' } },
            { first: { event: 'purchase', within: '24h' } },
            { not: { profile: { field: 'attributes.tier', in: ['gold', 'platinum'] } } },
            { any: [{ profile: { field: 'email', exists: true } }, { profile: { field: 'consent_email', eq: true } }] },
          ],
        },
      },
    ]);
    expect(segment.name).toBe('everything');
    expect(segment.description).toBe('all kinds');
    expect(segment.triggerOnEntry).toBe(true);
    expect(segment.conditions).toEqual({
      kind: 'all',
      conditions: [
        {
          kind: 'count',
          filter: {
            types: ['purchase'],
            where: [
              { field: 'category', value: 'shoes' },
              { field: 'product_id', value: 'p1' },
              { field: 'properties.channel', value: 'web' },
            ],
          },
          windowMs: 90 * DAY,
          comparison: { op: 'gte', value: 3 },
          groupBy: null,
        },
        { kind: 'recency', filter: { types: ['email_click', 'email_open'], where: [] }, windowMs: 30 * DAY },
        { kind: 'sum', filter: { types: ['purchase'], where: [] }, windowMs: 365 * DAY, comparison: { op: 'gte', value: 50000 } },
        { kind: 'never', filter: { types: ['purchase'], where: [] }, windowMs: null },
        { kind: 'never', filter: { types: ['purchase'], where: [] }, windowMs: 15 * MINUTE },
        { kind: 'first', filter: { types: ['purchase'], where: [] }, windowMs: 24 * HOUR },
        { kind: 'not', condition: { kind: 'profile', field: 'attributes.tier', op: 'in', values: ['gold', 'platinum'] } },
        {
          kind: 'any',
          conditions: [
            { kind: 'profile', field: 'email', op: 'exists', values: [] },
            { kind: 'profile', field: 'consent_email', op: 'eq', values: [true] },
          ],
        },
      ],
    });
  });

  it('defaults description and trigger_on_entry', () => {
    const [segment] = defsOf([{ name: 'plain', conditions: { recency: { event: 'page_view', within: '1m' } } }]);
    expect(segment.description).toBeNull();
    expect(segment.triggerOnEntry).toBe(false);
  });

  it('accepts the window limits 1m and 365d', () => {
    expect(() => defsOf([{ name: 'a', conditions: { recency: { event: 'purchase', within: '1m' } } }])).not.toThrow();
    expect(() => defsOf([{ name: 'a', conditions: { recency: { event: 'purchase', within: '365d' } } }])).not.toThrow();
    expect(() => defsOf([{ name: 'a', conditions: { recency: { event: 'purchase', within: '8760h' } } }])).not.toThrow();
  });
});

describe('parseSegmentDefinitions: the shared grammar', () => {
  it('accepts 30s windows and where: { properties.<key>: value } like trigger rules', () => {
    const [segment] = defsOf([{ name: 'a', conditions: { count: { event: 'page_view', within: '30s', gte: 2, where: { 'properties.channel': 'web' } } } }]);
    expect(segment.conditions).toMatchObject({ kind: 'count', windowMs: 30_000, filter: { where: [{ field: 'properties.channel', value: 'web' }] } });
  });

  it('rejects the nested properties form, saying how to write it', () => {
    expect(errorOf(`segments:\n  - name: x\n    conditions: { count: { event: purchase, within: 1d, gte: 1, where: { properties: { channel: web } } } }\n`).message).toBe(
      'config/segments.yaml: segment "x": conditions.count.where.properties: is not a field; write each property as its own field, like properties.channel: web',
    );
  });
});

describe('parseSegmentDefinitions: grouped counts and absence', () => {
  it('reads a count per group (group_by, as in triggers.yaml)', () => {
    const [segment] = defsOf([{ name: 'hi', conditions: { count: { event: 'product_view', group_by: 'product_id', within: '24h', gt: 3 } } }]);
    expect(segment.conditions).toEqual({
      kind: 'count',
      filter: { types: ['product_view'], where: [] },
      windowMs: 24 * HOUR,
      comparison: { op: 'gt', value: 3 },
      groupBy: 'product_id',
    });
  });

  it.each(['eq', 'neq', 'lt', 'lte'])('refuses a grouped count with %s, saying which comparisons it takes', (op) => {
    expect(errorOf(`segments:\n  - name: hi\n    conditions: { count: { event: product_view, group_by: product_id, within: 24h, ${op}: 3 } }\n`).message).toBe(
      `config/segments.yaml: segment "hi": conditions.count.group_by: counts per product_id and asks whether some product_id reaches the threshold, so it takes gt or gte; got ${op}`,
    );
  });

  it('refuses a group_by that is not an event field', () => {
    expect(errorOf(`segments:\n  - name: hi\n    conditions: { count: { event: product_view, group_by: colour, within: 24h, gt: 3 } }\n`).message).toContain(
      'segment "hi": conditions.count.group_by: "colour" is not an event field; expected product_id, category',
    );
  });

  it('reads an absence: an event at least `for` old, none of the cancelling ones since, within a window', () => {
    const [segment] = defsOf([
      { name: 'left', conditions: { absence: { event: 'add_to_cart', not_followed_by: ['purchase', 'checkout_started'], for: '15m', within: '30d', where: { category: 'shoes' } } } },
      { name: 'open', conditions: { absence: { event: 'add_to_cart', not_followed_by: 'purchase', within: '7d' } } },
    ]);
    expect(segment.conditions).toEqual({
      kind: 'absence',
      filter: { types: ['add_to_cart'], where: [{ field: 'category', value: 'shoes' }] },
      cancelledBy: { types: ['checkout_started', 'purchase'], where: [] },
      forMs: 15 * MINUTE,
      windowMs: 30 * DAY,
    });
  });

  it('defaults `for` to 0 and refuses one not shorter than the window', () => {
    expect(defsOf([{ name: 'open', conditions: { absence: { event: 'add_to_cart', not_followed_by: 'purchase', within: '7d' } } }])[0].conditions).toMatchObject({ forMs: 0 });
    expect(errorOf(`segments:\n  - name: left\n    conditions: { absence: { event: add_to_cart, not_followed_by: purchase, for: 2d, within: 1d } }\n`).message).toBe(
      'config/segments.yaml: segment "left": conditions.absence.for: 2d is not shorter than within (24h); the event would leave the window before it counts',
    );
    expect(errorOf(`segments:\n  - name: left\n    conditions: { absence: { event: add_to_cart, within: 1d } }\n`).message).toContain(
      'conditions.absence.not_followed_by: ',
    );
  });
});

describe('parseSegmentDefinitions: errors name the file, the segment and the field', () => {
  const engaged = (within: unknown) =>
    `segments:\n  - name: engaged\n    conditions:\n      any:\n        - recency: { event: email_open, within: ${within} }\n`;

  it('rejects a bad duration with the full path and an example', () => {
    const error = errorOf(engaged('30x'));
    expect(error.message).toBe(
      'config/segments.yaml: segment "engaged": conditions.any[0].recency.within: "30x" is not a duration; expected like 15m, 24h, 30d',
    );
    expect(error.file).toBe('config/segments.yaml');
    expect(error.segment).toBe('engaged');
    expect(error.field).toBe('conditions.any[0].recency.within');
  });

  it.each([
    ['366d', '"366d" is longer than the longest allowed, 365d'],
    ['8761h', '"8761h" is longer than the longest allowed, 365d'],
    ['0m', '"0m" is zero; expected a positive duration'],
    ['500ms', '"500ms" is shorter than the shortest allowed, 1s'],
    ['30x', '"30x" is not a duration; expected like 15m, 24h, 30d'],
    ['30', '30 is not a duration'],
  ])('rejects the window %s', (within, expected) => {
    expect(errorOf(engaged(within)).message).toContain(`conditions.any[0].recency.within: ${expected}`);
  });

  it('rejects duplicate segment names', () => {
    const text = `segments:\n  - name: a\n    conditions: { never: { event: purchase } }\n  - name: a\n    conditions: { never: { event: purchase } }\n`;
    expect(errorOf(text).message).toBe('config/segments.yaml: segment "a": name: duplicate segment name; each name must be unique in the file');
  });

  it('rejects unknown keys in a leaf and lists the expected ones', () => {
    const text = `segments:\n  - name: fb\n    conditions: { count: { event: purchase, within: 90d, gtee: 3 } }\n`;
    const message = errorOf(text).message;
    expect(message).toContain('config/segments.yaml: segment "fb": conditions.count.gtee: unknown key; expected one of event, where, within, group_by, eq, neq, gt, gte, lt, lte');
  });

  it('rejects unknown keys in a segment, in where, and at the top level', () => {
    expect(errorOf(`segments:\n  - name: x\n    trigger_on_entri: true\n    conditions: { never: { event: purchase } }\n`).message).toContain(
      'segment "x": trigger_on_entri: unknown key; expected one of name, description, trigger_on_entry, conditions',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { never: { event: purchase, where: { colour: red } } }\n`).message).toContain(
      'segment "x": conditions.never.where.colour: is not an event field; expected product_id, category, currency',
    );
    expect(errorOf(`segments: []\nrules: []\n`).message).toBe('config/segments.yaml: expected a top-level "segments:" list and nothing else');
  });

  it('rejects unknown event types', () => {
    const message = errorOf(`segments:\n  - name: x\n    conditions: { recency: { event: [email_open, purchse], within: 1d } }\n`).message;
    expect(message).toContain('segment "x": conditions.recency.event: "purchse" is not a known event type; expected an event type or a non-empty list of them (page_view,');
  });

  it('requires exactly one comparison', () => {
    expect(errorOf(`segments:\n  - name: x\n    conditions: { count: { event: purchase, within: 1d } }\n`).message).toContain(
      'conditions.count: expected exactly one comparison (eq, neq, gt, gte, lt, lte); got none',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { sum: { event: purchase, within: 1d, gt: 1, lt: 5 } }\n`).message).toContain(
      'conditions.sum: expected exactly one comparison (eq, neq, gt, gte, lt, lte); got gt, lt',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { profile: { field: country, eq: DE, neq: FR } }\n`).message).toContain(
      'conditions.profile: expected exactly one operator',
    );
  });

  it('rejects bad thresholds, profile fields and operator values', () => {
    expect(errorOf(`segments:\n  - name: x\n    conditions: { count: { event: purchase, within: 1d, gte: 2.5 } }\n`).message).toContain(
      'conditions.count.gte: expected a whole number from 0 to 1000',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { count: { event: purchase, within: 1d, gte: 5000 } }\n`).message).toContain(
      'conditions.count.gte: expected a whole number from 0 to 1000',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { profile: { field: password, exists: true } }\n`).message).toContain(
      'conditions.profile.field: "password" is not a profile field; expected one of email, first_name',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { profile: { field: country, exists: false } }\n`).message).toContain(
      'conditions.profile.exists: expected true',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { profile: { field: country, in: [] } }\n`).message).toContain(
      'conditions.profile.in: expected a non-empty list',
    );
  });

  it('rejects malformed condition trees', () => {
    expect(errorOf(`segments:\n  - name: x\n    conditions: { all: [] }\n`).message).toContain('segment "x": conditions.all: expected a non-empty list of conditions');
    expect(errorOf(`segments:\n  - name: x\n    conditions: { all: [ { bogus: 1 } ] }\n`).message).toContain(
      'segment "x": conditions.all[0]: expected an object with exactly one of all, any, not, profile, count, recency, sum, never, first, absence; got keys bogus',
    );
    expect(errorOf(`segments:\n  - name: x\n    conditions: { never: { event: purchase }, first: { event: purchase, within: 1d } }\n`).message).toContain(
      'conditions: expected an object with exactly one of',
    );
    expect(errorOf(`segments:\n  - name: x\n`).message).toContain('segment "x": conditions: required; expected a condition');
  });

  it('names a segment by position when its name is bad', () => {
    const message = errorOf(`segments:\n  - name: Bad Name\n    conditions: { never: { event: purchase } }\n`).message;
    expect(message).toBe(
      'config/segments.yaml: segments[0]: name: "Bad Name" is not a segment name; expected lower_snake_case like frequent_buyer (letters, digits, _; up to 63)',
    );
  });

  it('reports YAML syntax errors with the file name', () => {
    const error = errorOf(`segments:\n  - name: x\n    conditions: { never: { event: purchase }\n`);
    expect(error.message).toMatch(/^config\/segments\.yaml: is not valid YAML: .*line \d+/);
  });
});
