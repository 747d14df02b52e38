/**
 * Small amounts laid out by hand: what `Intl.NumberFormat#format` prints for a price below 1,000
 * in major units, without asking it each time (about 0.5 µs a call, against a few string joins).
 *
 * Below 1,000 no locale groups digits, so a currency format prints such an amount as a fixed
 * text before the number, the whole units, the decimal separator and the minor digits, and a
 * fixed text after it. The layout is read off the formatter's own parts once, and kept only if
 * it then prints every probe amount exactly as the formatter does; anything else (digits other
 * than ASCII, a separator that is not a decimal part, a minor-digit count that varies, an
 * unexpected part) gives no layout, and those amounts are formatted by Intl as before.
 */

/** Amounts are laid out by hand below this many major units (no locale groups under 1,000). */
export const LAID_OUT_MAJOR_UNITS = 1000;

export interface AmountLayout {
  /** 10 ** minor digits: 100 for EUR, 1 for JPY, 1,000 for KWD. */
  scale: number;
  /** Every text before the whole units ("€", "$", "CHF ", "‏"…). */
  before: string;
  /** The decimal separator; "" when the currency has no minor units. */
  decimal: string;
  /** Every text after the minor digits (" €", " kr"…). */
  after: string;
  /** Amounts of minor units below this are laid out by hand (LAID_OUT_MAJOR_UNITS x scale). */
  limit: number;
}

/** Amounts in minor units, below the layout's limit, checked against the formatter before a layout is kept. */
function probes(scale: number): number[] {
  const limit = LAID_OUT_MAJOR_UNITS * scale;
  const some = [0, 1, 5, 9, 10, 99, 100, 101, 999, 1000, 4990, 12345, 99999, limit - 1, limit / 2 + 7];
  return [...new Set(some.filter((cents) => cents >= 0 && cents < limit))];
}

/**
 * The hand layout of `format` (a currency NumberFormat whose minor units are `scale`), or null
 * when it cannot print every amount below LAID_OUT_MAJOR_UNITS exactly as `format` does.
 */
export function amountLayout(format: Intl.NumberFormat, scale: number): AmountLayout | null {
  const options = format.resolvedOptions();
  const digits = options.maximumFractionDigits ?? 0;
  if (options.numberingSystem !== 'latn' || options.minimumFractionDigits !== digits || 10 ** digits !== scale) return null;
  // 123 and, with minor units, .1…: every part an amount below 1,000 can have, in its order.
  const parts = format.formatToParts(123 + (digits > 0 ? 0.1 : 0));
  const integer = parts.findIndex((part) => part.type === 'integer');
  if (integer < 0 || parts.filter((part) => part.type === 'integer').length !== 1) return null;
  let end = integer + 1;
  let decimal = '';
  if (digits > 0) {
    if (parts[end]?.type !== 'decimal' || parts[end + 1]?.type !== 'fraction') return null;
    decimal = parts[end].value;
    end += 2;
  }
  const fixed = (part: Intl.NumberFormatPart) => part.type === 'currency' || part.type === 'literal';
  const head = parts.slice(0, integer);
  const tail = parts.slice(end);
  if (!head.every(fixed) || !tail.every(fixed)) return null;
  const layout: AmountLayout = {
    scale,
    before: head.map((part) => part.value).join(''),
    decimal,
    after: tail.map((part) => part.value).join(''),
    limit: LAID_OUT_MAJOR_UNITS * scale,
  };
  for (const cents of probes(scale)) {
    if (laidOut(layout, cents) !== format.format(cents / scale)) return null;
  }
  return layout;
}

/** `cents` (a whole number, 0 <= cents < layout.limit) as the layout's formatter prints it. */
export function laidOut(layout: AmountLayout, cents: number): string {
  const { scale } = layout;
  if (scale === 1) return layout.before + cents + layout.after;
  const major = Math.floor(cents / scale);
  // scale + minor is 1 followed by the minor digits, zeros kept: "105" -> "05".
  return layout.before + major + layout.decimal + String(scale + (cents - major * scale)).slice(1) + layout.after;
}
