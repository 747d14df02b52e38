import { z } from 'zod';
import { eventFieldValue, matchesWhere, parseWith, sortedWhere, whereSchema, type FieldEquals } from '../../../../services/core/definitions';
import type { BehaviorEvent } from '../../../../services/core/types';

const WHERE = z.object({ where: whereSchema });

function problemOf(where: unknown): string {
  try {
    parseWith(WHERE, { where });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a problem');
}

const view = {
  type: 'product_view',
  product_id: 'p1',
  category: 'shoes',
  currency: null,
  properties: { channel: 'web', empty: '' },
} as unknown as BehaviorEvent;

describe('the where grammar', () => {
  it('reads field: value pairs in file order, properties as properties.<key>', () => {
    expect(parseWith(WHERE, { where: { category: 'shoes', 'properties.channel': 'web', product_id: 'p1' } }).where).toEqual([
      { field: 'category', value: 'shoes' },
      { field: 'properties.channel', value: 'web' },
      { field: 'product_id', value: 'p1' },
    ]);
  });

  it('rejects the nested properties form, saying how to write it', () => {
    expect(problemOf({ properties: { channel: 'web' } })).toBe('where.properties: is not a field; write each property as its own field, like properties.channel: web');
  });

  it.each([
    [{ sku: '1' }, 'where.sku: is not an event field; expected product_id, category, currency, order_id, campaign_id, message_id or properties.<key>'],
    [{ product_id: 123 }, 'where.product_id: 123 is not text; expected quoted text'],
    [{ category: '' }, 'where.category: is empty; expected the text the field must equal'],
    [['category'], 'where: a list is not a mapping of field: value'],
    [{ 'properties.': 'x' }, 'where.properties.: is not an event field'],
  ])('rejects %j', (where, message) => {
    expect(problemOf(where)).toContain(message);
  });

  it('matches when every condition holds; absent and empty values never match', () => {
    const where = (field: string, value: string): FieldEquals[] => [{ field: field as FieldEquals['field'], value }];
    expect(matchesWhere([], view)).toBe(true);
    expect(matchesWhere([...where('category', 'shoes'), ...where('properties.channel', 'web')], view)).toBe(true);
    expect(matchesWhere([...where('category', 'shoes'), ...where('properties.channel', 'app')], view)).toBe(false);
    expect(matchesWhere(where('currency', 'EUR'), view)).toBe(false);
    expect(eventFieldValue(view, 'properties.empty')).toBeNull();
    expect(eventFieldValue(view, 'properties.constructor')).toBeNull();
  });

  it('sorts conditions canonically: event fields in their order, then properties by key', () => {
    const sorted = sortedWhere([
      { field: 'properties.b', value: '1' },
      { field: 'category', value: 'shoes' },
      { field: 'properties.a', value: '2' },
      { field: 'product_id', value: 'p1' },
    ]);
    expect(sorted.map(({ field }) => field)).toEqual(['product_id', 'category', 'properties.a', 'properties.b']);
  });
});
