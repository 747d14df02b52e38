/**
 * Issue 11, HTTP surfaces: parameters are validated with one schema library (zod, through the
 * kit's http-params), and the segmenter's members cursor is opaque and strictly parsed.
 */
import { HttpError, enumParam, intParam, listParam, parseQuery, pathParam, textParam } from '../../../services/kit/http-params';
import { encodeMembersCursor, parseMembersCursor } from '../../../services/segmenter/routes';
import { thrownBy } from '../../support/thrown';

const url = (query: string) => new URL(`http://localhost/x?${query}`);

const rejection = (fn: () => unknown): HttpError => thrownBy(HttpError, fn);

describe('parseQuery', () => {
  const shape = { limit: intParam(1, 1000).optional(), format: enumParam(['json', 'html']).optional(), id: textParam(10).optional() };

  it('yields typed values and leaves absent optional ones undefined', () => {
    expect(parseQuery(url('limit=7&format=html&id=c-1'), shape)).toEqual({ limit: 7, format: 'html', id: 'c-1' });
    expect(parseQuery(url(''), shape)).toEqual({ limit: undefined, format: undefined, id: undefined });
  });

  it.each(['-Infinity', 'Infinity', 'NaN', '1e3', '0x10', '1.5', ' 5', '5 ', '', '-1', '0', '1001', '99999999999999999999'])(
    'refuses limit=%j with a 400 naming limit and the range',
    (value) => {
      const error = rejection(() => parseQuery(url(`limit=${encodeURIComponent(value)}`), shape));
      expect(error.status).toBe(400);
      expect(error.parameter).toBe('limit');
      expect(error.message).toMatch(/^limit: .*; expected an integer from 1 to 1000$/);
    },
  );

  it('refuses an unknown format, naming the allowed ones', () => {
    expect(rejection(() => parseQuery(url('format=pdf'), shape)).message).toBe('format: is not an allowed value; expected one of json, html');
  });

  it('refuses an unknown parameter (a typo is not silently ignored) and a repeated one', () => {
    expect(rejection(() => parseQuery(url('limt=5'), shape)).message).toMatch(/^limt: is not a parameter of this route; expected only limit, format, id$/);
    expect(rejection(() => parseQuery(url('limit=5&limit=6'), shape)).message).toMatch(/^limit: is given more than once/);
  });

  it('refuses control characters, bad UTF-8 and over-long text', () => {
    expect(rejection(() => parseQuery(url('id=a%00b'), shape)).message).toMatch(/^id: contains control characters/);
    expect(rejection(() => parseQuery(url('id=%E0%A4%A'), shape)).message).toMatch(/^id: contains control characters or invalid UTF-8/);
    expect(rejection(() => parseQuery(url('id=%ED%A0%80'), shape)).message).toMatch(/invalid UTF-8/);
    expect(rejection(() => parseQuery(url(`id=${'x'.repeat(11)}`), shape)).message).toMatch(/^id: is longer than 10 characters/);
    expect(parseQuery(url('id=%F0%9D%95%8F'), shape).id).toBe('𝕏');
  });

  it('echoes an unknown parameter name only clipped and printable', () => {
    const error = rejection(() => parseQuery(url(`${'%01'.repeat(3)}${'n'.repeat(500)}=1`), shape));
    expect(error.message.length).toBeLessThan(120);
    expect([...error.message].every((c) => c >= ' ' && c <= '~')).toBe(true);
  });

  it('names a missing required parameter', () => {
    expect(rejection(() => parseQuery(url(''), { campaign: textParam(20) })).message).toBe('campaign: is required; expected text of 1 to 20 printable characters');
  });

  it('lists: bounded entries, each checked', () => {
    const list = { ids: listParam(3, 5) };
    expect(parseQuery(url('ids=a,b,,c'), list).ids).toEqual(['a', 'b', 'c']);
    expect(rejection(() => parseQuery(url('ids=a,b,c,d'), list)).message).toMatch(/^ids: has more than 3 entries/);
    expect(rejection(() => parseQuery(url('ids=abcdef'), list)).message).toMatch(/^ids: has an entry that is longer than 5 characters/);
  });
});

describe('pathParam', () => {
  it('decodes percent-encoding and refuses a bad one with a 400 (it was a URIError, a 500)', () => {
    expect(pathParam('customer_id', 'c%2D42', textParam(20))).toBe('c-42');
    for (const raw of ['%E0%A4%A', '%', '%ZZ', 'abc%']) {
      const error = rejection(() => pathParam('customer_id', raw, textParam(20)));
      expect([error.status, error.message]).toEqual([400, 'customer_id: is not valid percent-encoding; expected UTF-8 percent-encoded as %XX']);
    }
  });
});

describe('the segment members cursor', () => {
  it('round-trips the positions it issues', () => {
    for (const position of [
      { partition: 0, cursor: '0' },
      { partition: 11, cursor: '123456' },
      { partition: 3, cursor: '18446744073709551615' },
    ]) {
      const text = encodeMembersCursor(position);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(parseMembersCursor(text, 12)).toEqual(position);
    }
  });

  it.each([
    ['-Infinity:0'], // Number('-Infinity') || 0 looped forever
    ['-50000:0'], // 50 000 empty partitions: 7.4 s
    ['0:abc'], // a 500 with a stack trace
    ['0:0'], // the old readable form is not a cursor this API issues
    ['NaN:0'],
    ['1e3:0'],
    [''],
    ['%00'],
    ['x'.repeat(65)],
    [Buffer.from('m1:-1:0').toString('base64url')],
    [Buffer.from('m1:01:0').toString('base64url')],
    [Buffer.from('m1:1:00').toString('base64url')],
    [Buffer.from('m1:1:0 ').toString('base64url')],
    [Buffer.from('m1:1:0x10').toString('base64url')],
    [Buffer.from('m1:1:18446744073709551616').toString('base64url')], // beyond 64 bits
    [Buffer.from('m1:12:0').toString('base64url')], // partition out of range
    [Buffer.from('m1:99999:0').toString('base64url')],
    [`${encodeMembersCursor({ partition: 1, cursor: '5' })}=`], // another spelling
  ])('refuses %j with a 400 naming cursor', (raw) => {
    const error = rejection(() => parseMembersCursor(raw, 12));
    expect(error.status).toBe(400);
    expect(error.parameter).toBe('cursor');
    expect(error.message).toMatch(/^cursor: .*; expected the next_cursor of a previous page/);
  });

  it('refuses a non-canonical base64url spelling of a valid cursor', () => {
    // 7 bytes: the last of 10 characters carries 4 unused bits, so 15 other spellings decode alike.
    const good = encodeMembersCursor({ partition: 1, cursor: '55' });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const variants = [...alphabet].map((c) => good.slice(0, -1) + c).filter((v) => v !== good && Buffer.from(v, 'base64url').equals(Buffer.from(good, 'base64url')));
    expect(variants).toHaveLength(15);
    for (const variant of variants) expect(() => parseMembersCursor(variant, 12)).toThrow(HttpError);
  });
});
