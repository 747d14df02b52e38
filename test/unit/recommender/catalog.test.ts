import { Catalog, parseCatalog, titleFromId } from '../../../services/recommender/catalog';

describe('catalog', () => {
  it('describes products from the file, or from the id and the URL template', () => {
    const entries = parseCatalog('catalog.json', JSON.stringify({ 'sku-1': { title: 'Blue mug', price_cents: 1299, currency: 'EUR', url: 'https://shop.example/mug' } }));
    const catalog = new Catalog(entries, 'https://shop.example/p/{product_id}', 'https://img.example/{product_id}.jpg');
    expect(catalog.describe('sku-1')).toEqual({
      product_id: 'sku-1',
      title: 'Blue mug',
      url: 'https://shop.example/mug',
      image_url: 'https://img.example/sku-1.jpg',
      price_cents: 1299,
      currency: 'EUR',
    });
    expect(catalog.describe('red_tea-pot/2')).toEqual({
      product_id: 'red_tea-pot/2',
      title: 'Red tea pot/2',
      url: 'https://shop.example/p/red_tea-pot%2F2',
      image_url: 'https://img.example/red_tea-pot%2F2.jpg',
    });
    expect(titleFromId('---')).toBe('---');
  });

  it('rejects a bad catalog naming the file, the product and the field', () => {
    expect(() => parseCatalog('c.json', JSON.stringify({ 'sku-1': { title: 'x', url: 'javascript:1' } }))).toThrow(/c\.json: sku-1\.url: must be an absolute http\(s\) URL/);
    expect(() => parseCatalog('c.json', JSON.stringify({ 'sku-1': { title: 'x', colour: 'red' } }))).toThrow(/c\.json: sku-1/);
    expect(() => parseCatalog('c.json', '[')).toThrow(/c\.json: not valid JSON/);
  });
});
