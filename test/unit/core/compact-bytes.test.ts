import { ByteReader, ByteWriter, CompactFormatError } from '../../../services/core/compact-bytes';

/** Writes `texts` with ByteWriter.string and reads each back with ByteReader.string. */
function roundTrip(texts: readonly string[]): string[] {
  const w = new ByteWriter();
  for (const text of texts) w.string(text);
  const bytes = w.finish();
  const r = new ByteReader(bytes, 0);
  const out = texts.map(() => r.string());
  r.end();
  return out;
}

const texts = [
  '',
  'a',
  'p-1342',
  'email_open|email_click',
  'x'.repeat(32), // the longest read byte by byte
  'y'.repeat(33), // the shortest read as UTF-8
  'größe', // short, not ASCII
  'produkt-größe-'.repeat(4), // long, not ASCII
  '__proto__',
  'p-1342',
  'q-9999', // the same length as the one before: nothing of it may remain
];

describe('ByteReader strings', () => {
  it('string() reads back what string() wrote, short or long, ASCII or not', () => {
    expect(roundTrip(texts)).toEqual(texts);
  });

  it('string() refuses a length past the end', () => {
    expect(() => new ByteReader(Buffer.from([5, 0x61, 0x62]), 0).string()).toThrow(CompactFormatError);
  });

  it('base64url() reads back what base64url() wrote, up to the longest built from char codes (64 characters) and beyond', () => {
    for (const bytes of [3, 6, 9, 48, 51, 96]) {
      const text = Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 37 + bytes) & 255)).toString('base64url');
      const w = new ByteWriter();
      w.base64url(text, text.length);
      w.base64url(text, text.length);
      const r = new ByteReader(w.finish(), 0);
      expect([r.base64url(bytes), r.base64url(bytes)]).toEqual([text, text]);
      r.end();
    }
    const odd = Buffer.from([1, 2, 3, 4, 5]);
    expect(new ByteReader(odd, 0).base64url(5)).toBe(odd.toString('base64url'));
  });
});
