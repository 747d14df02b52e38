/** escapeHtml (values.ts) escapes exactly as Handlebars' own {{value}} does. */
import Handlebars from 'handlebars';
import { escapeHtml, ValueMarkers } from '../../../../services/core/templates/values';

const ALPHABET = ['a', 'Z', '0', ' ', '&', '<', '>', '"', "'", '`', '=', '&amp;', '€', '\u00a0', '\uE000', '\uE001', '\uD83D\uDE00', '\uD83D', '\n', '/', '#x3D;'];

describe('escapeHtml', () => {
  it('gives Handlebars.Utils.escapeExpression\'s output for 20,000 random strings', () => {
    let state = 7;
    const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 20_000; i += 1) {
      let value = '';
      for (let n = next() % 16; n > 0; n -= 1) value += ALPHABET[next() % ALPHABET.length];
      expect(escapeHtml(value)).toBe(Handlebars.Utils.escapeExpression(value));
    }
    for (const value of ['', '&<>"\'`=', 'plain', 'Trail shoe <3> & co', 'https://shop.example.com/p?t=abc&x=1']) {
      expect(escapeHtml(value)).toBe(Handlebars.Utils.escapeExpression(value));
    }
  });

  it('is applied to every occurrence of a value a fill prints more than once', () => {
    const markers = new ValueMarkers();
    const a = markers.mark('<a&b>');
    const b = markers.mark('x=1');
    expect(markers.fill(`${a}|${b}|${a}|${a}`, escapeHtml)).toBe('&lt;a&amp;b&gt;|x&#x3D;1|&lt;a&amp;b&gt;|&lt;a&amp;b&gt;');
    expect(markers.fill(`${a}|${b}|${a}`)).toBe('<a&b>|x=1|<a&b>');
  });
});
