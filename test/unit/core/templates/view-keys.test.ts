/**
 * Keys that come from data (profile attributes, trigger context, segment names) become own
 * properties of the view and of its marked form, "__proto__" included, as Object.fromEntries
 * made them: never the object's prototype.
 */
import { buildView } from '../../../../services/core/templates/view';
import { ValueMarkers } from '../../../../services/core/templates/values';

const hostile = JSON.parse('{"__proto__": "x", "tier": " gold ", "blank": "  "}') as Record<string, string>;

function ownKeys(value: unknown): string[] {
  return Object.keys(value as object);
}

describe('data keys in the view', () => {
  const data = {
    customer: { first_name: 'Ada', attributes: hostile },
    trigger: { rule: 'r', context: hostile },
    segments: ['__proto__', ' vip ', ''],
    links: { unsubscribe_url: 'https://t.example/u/x' },
  };
  const view = buildView(data);
  const customer = view.customer as { attributes: Record<string, unknown> };
  const trigger = view.trigger as { context: Record<string, unknown> };

  it('are own properties, trimmed, blanks dropped, with Object.prototype as prototype', () => {
    for (const map of [customer.attributes, trigger.context]) {
      expect(ownKeys(map)).toEqual(['__proto__', 'tier']);
      expect(Object.getOwnPropertyDescriptor(map, '__proto__')?.value).toBe('x');
      expect(map.tier).toBe('gold');
      expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
    }
    expect(ownKeys(view.segments)).toEqual(['__proto__', 'vip']);
    expect(Object.getPrototypeOf(view.segments)).toBe(Object.prototype);
  });

  it('stay own properties in the marked view render() builds', () => {
    const markers = new ValueMarkers();
    const marked = buildView(data, markers);
    const attributes = (marked.customer as { attributes: Record<string, unknown> }).attributes;
    expect(ownKeys(attributes)).toEqual(['__proto__', 'tier']);
    expect(markers.plain(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value)).toBe('x');
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(ownKeys(marked.segments)).toEqual(['__proto__', 'vip']);
  });

  it('keep the view\'s key order', () => {
    expect(ownKeys(view)).toEqual(['customer', 'trigger', 'cart', 'recommendations', 'links', 'brand', 'segments', 'facts']);
    expect(ownKeys(view.customer)).toEqual(['first_name', 'attributes']);
  });
});
