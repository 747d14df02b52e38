/**
 * The byte writer and reader of the compact stored states (triggers/state.ts, segments/state.ts).
 * Pure, no dependencies. Integers are unsigned LEB128 varints (7 bits a byte, low bits first);
 * signed values and times are zigzag varints of their difference to a base time, so an epoch-ms
 * time near the base takes 3-4 bytes instead of 13 digits. Strings are a varint byte length and
 * their UTF-8 bytes. A value that the layout cannot hold (a non-integer, an unsafe integer)
 * throws NotCompact, and the caller stores its JSON form instead.
 */

/** The value does not fit the compact layout; the encoder falls back to JSON. */
export class NotCompact extends Error {
  override readonly name = 'NotCompact';
}

/** A state's compact bytes, or its format-1 JSON as bytes when the compact layout cannot hold it (NotCompact). */
export function compactOrJson<T>(state: T, compact: (state: T) => Buffer, json: (state: T) => string): Buffer {
  try {
    return compact(state);
  } catch (error) {
    if (!(error instanceof NotCompact)) throw error;
    return Buffer.from(json(state), 'utf8');
  }
}

/** A stored value as text: a format-1 (JSON) state read from Redis as bytes is UTF-8. */
export function storedText(stored: string | Buffer): string {
  return typeof stored === 'string' ? stored : stored.toString('utf8');
}

/** The bytes are not a well-formed compact state (truncated, overlong, out of range). */
export class CompactFormatError extends Error {
  override readonly name = 'CompactFormatError';
}

const TWO_POW_31 = 2 ** 31;

/** One encode at a time (the cores are synchronous), so a shared scratch buffer is safe. */
let scratch = Buffer.allocUnsafe(16 * 1024);

export class ByteWriter {
  private buf = scratch;
  private pos = 0;

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
    scratch = bigger;
  }

  byte(value: number): void {
    this.room(1);
    this.buf[this.pos++] = value;
  }

  /** A non-negative safe integer. */
  uint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new NotCompact(`${value} is not a non-negative safe integer`);
    this.room(8);
    const buf = this.buf;
    let n = value;
    if (n < TWO_POW_31) {
      while (n >= 0x80) {
        buf[this.pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n >= 0x80) {
        buf[this.pos++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
    }
    buf[this.pos++] = n;
  }

  /** A safe integer, zigzag coded (small magnitudes, either sign, take few bytes). */
  int(value: number): void {
    if (!Number.isSafeInteger(value)) throw new NotCompact(`${value} is not a safe integer`);
    // 2|v| fits a double exactly up to 2^53; beyond it the difference is not a safe integer anyway.
    const zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
    if (!Number.isSafeInteger(zigzag)) throw new NotCompact(`${value} is too large for the compact layout`);
    this.uint(zigzag);
  }

  /** A time (or any safe integer) as its difference to `base`. */
  time(value: number, base: number): void {
    this.int(value - base);
  }

  /** A list of times: their count, then each as its difference to `base`. */
  times(values: readonly number[], base: number): void {
    this.uint(values.length);
    for (const value of values) this.time(value, base);
  }

  string(value: string): void {
    const max = value.length * 3;
    this.room(max + 8);
    if (value.length <= SHORT && isAscii(value)) {
      // Short ASCII (ids, names, group values): byte by byte beats a call into Buffer.write.
      const buf = this.buf;
      let pos = this.pos;
      buf[pos++] = value.length;
      for (let i = 0; i < value.length; i += 1) buf[pos++] = value.charCodeAt(i);
      this.pos = pos;
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.uint(length);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += length;
  }

  /** A string, or null (a length one larger, 0 for null). */
  nullableString(value: string | null): void {
    if (value === null) {
      this.byte(0);
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.uint(length + 1);
    this.room(length);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += length;
  }

  /**
   * A base64url text of exactly `chars` characters (a multiple of 4: no padding) as its raw
   * bytes; throws NotCompact when it is not such a text.
   */
  base64url(text: string, chars: number): void {
    if (text.length !== chars || chars % 4 !== 0) throw new NotCompact('not a base64url text of the expected length');
    this.room((chars / 4) * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < chars; i += 4) {
      const a = sextet(text.charCodeAt(i));
      const b = sextet(text.charCodeAt(i + 1));
      const c = sextet(text.charCodeAt(i + 2));
      const d = sextet(text.charCodeAt(i + 3));
      if ((a | b | c | d) < 0) throw new NotCompact('not a base64url text');
      buf[pos++] = (a << 2) | (b >> 4);
      buf[pos++] = ((b & 15) << 4) | (c >> 2);
      buf[pos++] = ((c & 3) << 6) | d;
    }
    this.pos = pos;
  }

  /** Bytes verbatim. */
  raw(bytes: Buffer): void {
    this.room(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  /** A copy of what was written (the scratch buffer is reused by the next encode). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** Strings up to this length are written and read byte by byte when ASCII. */
const SHORT = 32;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ALPHABET_CODES = Array.from(ALPHABET, (char) => char.charCodeAt(0));
const SEXTETS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i += 1) SEXTETS[ALPHABET.charCodeAt(i)] = i;

function sextet(code: number): number {
  return code < 128 ? SEXTETS[code] : -1;
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Arrays of char codes, one per length up to MAX_CODES, reused by the reader: a short string is
 * built by one String.fromCharCode.apply from them instead of a concatenation per character
 * (each of which allocated). One decode at a time, as for the writer's scratch buffer.
 */
const MAX_CODES = 64;
const CODES: number[][] = Array.from({ length: MAX_CODES + 1 }, (_, length) => new Array<number>(length).fill(0));

export class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.buf.length) throw new CompactFormatError(`truncated at byte ${this.pos}`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  uint(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i += 1) {
      if (this.pos >= buf.length) throw new CompactFormatError(`truncated at byte ${this.pos}`);
      const b = buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new CompactFormatError(`integer out of range before byte ${this.pos}`);
        return result;
      }
      scale *= 0x80;
    }
    throw new CompactFormatError(`overlong integer before byte ${this.pos}`);
  }

  int(): number {
    const zigzag = this.uint();
    return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
  }

  time(base: number): number {
    const value = base + this.int();
    if (!Number.isSafeInteger(value)) throw new CompactFormatError(`time out of range before byte ${this.pos}`);
    return value;
  }

  /** A list of times as ByteWriter.times wrote it. */
  times(base: number): number[] {
    const values: number[] = [];
    for (let i = 0, n = this.count(); i < n; i += 1) values.push(this.time(base));
    return values;
  }

  /** A flags byte (or a 0/1 presence byte, `max` 1) no larger than `max`; `what` names it in the error. */
  flags(max: number, what: string): number {
    const flags = this.byte();
    if (flags > max) throw new CompactFormatError(`${what} flags ${flags}`);
    return flags;
  }

  /** A count of items that take at least `minBytes` each: never more than the bytes left allow. */
  count(minBytes = 1): number {
    const n = this.uint();
    if (n * minBytes > this.buf.length - this.pos) throw new CompactFormatError(`count ${n} exceeds the bytes left at byte ${this.pos}`);
    return n;
  }

  string(): string {
    const length = this.uint();
    this.need(length);
    if (length <= SHORT) {
      // Short ASCII (ids, names): one string from the char codes, not one per character.
      const buf = this.buf;
      const from = this.pos;
      const codes = CODES[length];
      let ascii = true;
      for (let i = 0; i < length; i += 1) {
        const b = buf[from + i];
        if (b >= 0x80) {
          ascii = false;
          break;
        }
        codes[i] = b;
      }
      if (ascii) {
        this.pos += length;
        return String.fromCharCode.apply(null, codes);
      }
    }
    const value = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  nullableString(): string | null {
    const length = this.uint();
    if (length === 0) return null;
    this.need(length - 1);
    const value = this.buf.toString('utf8', this.pos, this.pos + length - 1);
    this.pos += length - 1;
    return value;
  }

  /**
   * `bytes` raw bytes as base64url text, as ByteWriter.base64url wrote them (a multiple of 3;
   * any other count reads as Buffer's base64url does).
   */
  base64url(bytes: number): string {
    this.need(bytes);
    const buf = this.buf;
    const chars = (bytes / 3) * 4;
    if (bytes % 3 !== 0 || chars > MAX_CODES) {
      const text = buf.toString('base64url', this.pos, this.pos + bytes);
      this.pos += bytes;
      return text;
    }
    const codes = CODES[chars];
    let j = 0;
    for (let i = this.pos, end = this.pos + bytes; i < end; i += 3) {
      const n = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
      codes[j++] = ALPHABET_CODES[n >> 18];
      codes[j++] = ALPHABET_CODES[(n >> 12) & 63];
      codes[j++] = ALPHABET_CODES[(n >> 6) & 63];
      codes[j++] = ALPHABET_CODES[n & 63];
    }
    this.pos += bytes;
    return String.fromCharCode.apply(null, codes);
  }

  raw(length: number): Buffer {
    this.need(length);
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.pos !== this.buf.length) throw new CompactFormatError(`${this.buf.length - this.pos} unread bytes at the end`);
  }
}
