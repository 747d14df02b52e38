/**
 * ValueMarkers shares the marker strings of the first values between renders (values.ts,
 * SHARED_MARKERS): every marker must still be the one its index encodes, past the shared ones
 * too, and fill() must put each value back where its marker stands.
 */
import { ValueMarkers } from '../../../../services/core/templates/values';

/** The marker of index `index` as values.ts documents it: U+0001, three base-32 digits from U+0080 (C1 controls), U+0002. */
function expectedMarker(index: number): string {
  return String.fromCharCode(0x01, 0x80 + Math.floor(index / 1024), 0x80 + (Math.floor(index / 32) % 32), 0x80 + (index % 32), 0x02);
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
    expect(() => markers.fill(`${text}\x02`)).toThrow(/damaged value marker/);
    expect(() => markers.fill(marks[3].slice(0, 4))).toThrow(/damaged value marker/);
    expect(() => new ValueMarkers().fill(marks[1])).toThrow(/damaged value marker/);
  });

  it('are one-byte characters, and stop at 32,768 values in one email', () => {
    const markers = new ValueMarkers();
    let wrong = 0;
    let notOneByte = 0;
    for (let index = 0; index < 32_768; index += 1) {
      const marker = markers.mark('v');
      if (marker !== expectedMarker(index)) wrong += 1;
      // Every character below U+0100: a marked part stays a one-byte string (values.ts).
      // eslint-disable-next-line no-control-regex
      if (!/^\x01[\x80-\x9f]{3}\x02$/.test(marker)) notOneByte += 1;
    }
    expect({ wrong, notOneByte }).toEqual({ wrong: 0, notOneByte: 0 });
    expect(markers.plain(expectedMarker(32_767))).toBe('v');
    expect(() => markers.mark('one too many')).toThrow('more than 32768 values in one email');
  });
});
