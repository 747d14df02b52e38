/**
 * render() builds its view marked in one pass (buildView with its ValueMarkers) instead of
 * building the plain view and copying it with every data string replaced by a marker. The two
 * must give the same view: the same keys in the same order, own properties, markers for the
 * same values, offer and brand unmarked.
 */
import { sampleData } from '../../../../bench/render';
import { buildView, setOwn, type RenderData } from '../../../../services/core/templates/view';
import { ValueMarkers } from '../../../../services/core/templates/values';

/** A copy of `value` with every string (at any depth) replaced by its marker: how render() marked the view before. */
function markStrings(value: unknown, markers: ValueMarkers): unknown {
  if (typeof value === 'string') return markers.mark(value);
  if (Array.isArray(value)) return value.map((item) => markStrings(item, markers));
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setOwn(copy, key, markStrings((value as Record<string, unknown>)[key], markers));
    return copy;
  }
  return value;
}

/** The marked copy as render() made it before: every string but offer's and brand's. */
function copiedMarked(data: RenderData, markers: ValueMarkers): Record<string, unknown> {
  const view = buildView(data);
  const marked: Record<string, unknown> = {};
  for (const key of Object.keys(view)) marked[key] = key === 'offer' || key === 'brand' ? view[key] : markStrings(view[key], markers);
  return marked;
}

/** `value` as JSON with each marker shown as ⟦its value⟧ (so markers numbered in another order compare equal). */
function shown(value: unknown, markers: ValueMarkers): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'string') return item;
    const plain = markers.plain(item);
    return plain === item ? `plain:${item}` : `⟦${plain}⟧`;
  });
}

const hostile = JSON.parse('{"__proto__": "x", "tier": " gold ", "blank": "  ", "constructor": "c"}') as Record<string, string>;
const DAY = 86_400_000;

const CASES: Array<[string, RenderData]> = [
  ['bench sample', sampleData(7)],
  ['everything', {
    customer: { customer_id: 'c-1', first_name: ' Ada ', last_name: 'Lovelace', attributes: hostile },
    trigger: { rule: 'high_interest', context: hostile },
    product: { product_id: 'p-42', title: 'Trail <Runner>', url: 'https://Shop.example/p/42?sig=abc&x=1', image_url: 'https://cdn.example/42.jpg', price_cents: 12999, currency: 'eur' },
    cart: [
      { product_id: 'p-1', title: 'Bottle', url: 'https://shop.example/p/1', price_cents: 999, currency: 'usd' },
      { product_id: 'p-3', title: 'Bad link', url: 'javascript:alert(1)', price_cents: 100, currency: 'EUR' },
      { product_id: ' ', title: 'No id', url: 'https://shop.example/p/x', image_url: 'ftp://x/y', price_cents: 1.5, currency: 'EURO' },
    ],
    recommendations: { fallback: true, items: [{ product_id: 'p-7', title: 'Socks', url: 'https://shop.example/p/7' }] },
    offer: { headline: '15% off', description: 'For you.', code: 'THANKYOU15', discount_percent: 15, expires_at: 1_700_000_000_000 },
    links: { unsubscribe_url: 'https://t.example/u/abc?sig=1', preferences_url: 'https://t.example/prefs/abc', shop_url: 'not a url' },
    brand: { name: 'Kairos Shop', address: '1 Example Street, Berlin' },
    segments: ['frequent_buyer', '__proto__', ' '],
    facts: {
      last_purchase: { at: 5 * DAY, product: { product_id: 'p-9', title: 'Beanie', url: 'https://t.example/c/beanie' } },
      last_viewed: { at: DAY, product: { product_id: 'p-42' } },
      purchases_30d: 1,
      purchases_90d: 2,
    },
    blocks: ['cart', '__proto__'],
  }],
  ['sparse', { customer: { first_name: '  ' }, trigger: null, recommendations: null, links: { unsubscribe_url: 'https://t.example/u/x' }, brand: null, facts: { last_purchase: { at: -1 } } }],
];

describe('the marked view, built in one pass', () => {
  it.each(CASES)('equals the marked copy of the plain view: %s', (_name, data) => {
    const once = new ValueMarkers();
    const copied = new ValueMarkers();
    const built = buildView(data, once);
    const expected = copiedMarked(data, copied);
    expect(shown(built, once)).toBe(shown(expected, copied));
    // No string left unmarked outside offer and brand.
    expect(shown({ ...built, offer: undefined, brand: undefined }, once)).not.toContain('plain:');
  });

  it('keeps data keys own properties ("__proto__" included) and Object.prototype as prototype', () => {
    const built = buildView(CASES[1][1], new ValueMarkers()) as { customer: { attributes: object }; trigger: { context: object }; segments: object };
    for (const map of [built.customer.attributes, built.trigger.context, built.segments]) {
      expect(Object.keys(map)).toContain('__proto__');
      expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
    }
  });
});
