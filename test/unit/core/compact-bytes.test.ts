import { ByteReader, ByteWriter, CompactFormatError } from '../../../services/core/compact-bytes';

/** Writes `texts` with ByteWriter.string and reads each back with `read`. */
function roundTrip(texts: readonly string[], read: (r: ByteReader) => string): string[] {
  const w = new ByteWriter();
  for (const text of texts) w.string(text);
  const bytes = w.finish();
  const r = new ByteReader(bytes, 0);
  const out = texts.map(() => read(r));
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
];

describe('ByteReader strings', () => {
  it('string() and name() read back what string() wrote, short or long, ASCII or not', () => {
    expect(roundTrip(texts, (r) => r.string())).toEqual(texts);
    expect(roundTrip(texts, (r) => r.name())).toEqual(texts);
  });

  it('name() gives back the right text when the same slot saw other strings of the same length', () => {
    // 20,000 distinct names of 6 characters in a table of 4,096 slots: many share a slot and a
    // length, so a reader that trusted the slot without comparing every byte would mix them up.
    const names = Array.from({ length: 20_000 }, (_, i) => `n${String(i).padStart(5, '0')}`);
    const shuffled = names.map((_, i) => names[(i * 7919) % names.length]);
    for (const order of [names, shuffled, names]) expect(roundTrip(order, (r) => r.name())).toEqual(order);
  });

  it('name() returns the same string for the same bytes while its slot keeps it', () => {
    const [first, second] = roundTrip(['high_interest', 'high_interest'], (r) => r.name());
    expect(second).toBe(first);
  });

  it('name() refuses a length past the end as string() does', () => {
    const bytes = Buffer.from([5, 0x61, 0x62]);
    expect(() => new ByteReader(bytes, 0).name()).toThrow(CompactFormatError);
    expect(() => new ByteReader(bytes, 0).string()).toThrow(CompactFormatError);
  });

  it('base64url() reads back what base64url() wrote, at every length up to the longest kept one and beyond', () => {
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
