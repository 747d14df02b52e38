/** oneLine's shortcut (a line that is one line already is returned as it is) changes nothing. */
import { isOneLine, isOtherWhitespace, oneLine } from '../../../../services/core/templates/render';

const PIECES = ['a', 'Ada', ',', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\ufeff', '\u3000', '\uE000', '\x01\x80\x9f\x85\x02', 'x y', '€'];

describe('oneLine', () => {
  it('equals collapsing every whitespace run to one space and trimming, for 30,000 random lines', () => {
    let state = 11;
    const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 30_000; i += 1) {
      let value = '';
      for (let n = next() % 10; n > 0; n -= 1) value += PIECES[next() % PIECES.length];
      expect(oneLine(value)).toBe(value.replace(/\s+/g, ' ').trim());
    }
  });

  it('isOtherWhitespace is /\\s/ but for " ", over every UTF-16 code unit', () => {
    for (let char = 0; char <= 0xffff; char += 1) {
      const expected = char !== 0x20 && /\s/.test(String.fromCharCode(char));
      if (isOtherWhitespace(char) !== expected) expect([char, isOtherWhitespace(char)]).toEqual([char, expected]);
    }
  });

  it('isOneLine is false exactly where /\\s\\s|[^\\S ]|^\\s|\\s$/ matches, for 30,000 random lines', () => {
    let state = 5;
    const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 30_000; i += 1) {
      let value = '';
      for (let n = next() % 8; n > 0; n -= 1) value += PIECES[next() % PIECES.length];
      expect([value, isOneLine(value)]).toEqual([value, !/\s\s|[^\S ]|^\s|\s$/.test(value)]);
    }
  });
});
