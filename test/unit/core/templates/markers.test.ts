/**
 * ValueMarkers shares the marker strings of the first values between renders (values.ts,
 * SHARED_MARKERS): every marker must still be the one its index encodes, past the shared ones
 * too, and fill() must put each value back where its marker stands.
 */
import { ValueMarkers } from '../../../../services/core/templates/values';

/** The marker of index `index` as values.ts documents it: U+E000, two base-5888 digits from U+E100, U+E001. */
function expectedMarker(index: number): string {
  return String.fromCharCode(0xe000, 0xe100 + Math.floor(index / 0x1700), 0xe100 + (index % 0x1700), 0xe001);
}

describe('value markers', () => {
  it('are the documented strings, the same in every render, past the shared ones too', () => {
    const first = new ValueMarkers();
    const second = new ValueMarkers();
    for (let index = 0; index < 3000; index += 1) {
      const a = first.mark(`value ${index}`);
      const b = second.mark(`other ${index}`);
      expect(a).toBe(expectedMarker(index));
      expect(b).toBe(a);
      expect(first.plain(a)).toBe(`value ${index}`);
      expect(second.plain(b)).toBe(`other ${index}`);
    }
  });

  it('fill puts every value back, encoded, and refuses a damaged marker', () => {
    const markers = new ValueMarkers();
    const marks = Array.from({ length: 1500 }, (_, i) => markers.mark(i % 7 === 0 ? `<${i}>` : `v${i}`));
    const text = marks.map((marker, i) => `[${i}]${marker}`).join(' ');
    const expected = marks.map((_, i) => `[${i}]${i % 7 === 0 ? `&lt;${i}&gt;` : `v${i}`}`).join(' ');
    expect(markers.fill(text, (value) => value.replace(/</g, '&lt;').replace(/>/g, '&gt;'))).toBe(expected);
    expect(() => markers.fill(`${text}\uE001`)).toThrow(/damaged value marker/);
    expect(() => markers.fill(marks[3].slice(0, 3))).toThrow(/damaged value marker/);
    expect(() => new ValueMarkers().fill(marks[1])).toThrow(/damaged value marker/);
  });
});
