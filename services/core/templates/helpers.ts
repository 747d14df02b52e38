/**
 * The helpers templates may call. Locale and time zone come from the render's data frame
 * (`@locale`, `@timeZone`), so one compiled set serves every customer.
 */
import type { HelperOptions } from 'handlebars';
import { BoundedCache } from '../bounded-cache';
import { amountLayout, laidOut, type AmountLayout } from './amounts';
import { markedValue, plainValue } from './values';

/** Helpers that ship with Handlebars and stay allowed. */
export const BUILT_IN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup'] as const;

/** A value counts as missing when it would render as nothing (or as "null"). */
export function isMissing(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

function frame(options: HelperOptions): { locale: string; timeZone: string } {
  const data = (options.data ?? {}) as { locale?: string; timeZone?: string };
  return { locale: data.locale ?? 'en-US', timeZone: data.timeZone ?? 'UTC' };
}

/** The locale of the render's data frame, as frame() reads it, without an object per call. */
function frameLocale(options: HelperOptions): string {
  return (options.data as { locale?: string } | undefined)?.locale ?? 'en-US';
}

/** The `fallback=` hash argument, or an error saying how to fix the template. */
function fallbackOr(helper: string, options: HelperOptions): string {
  const fallback: unknown = options.hash?.fallback;
  if (typeof fallback === 'string' && fallback.trim() !== '') return fallback;
  throw new Error(`${helper}: the value is missing; guard it with {{#if}} or pass fallback="..."`);
}

/**
 * Intl formatters are costly to build (about 15 µs for a NumberFormat, 60 µs for a
 * DateTimeFormat) and to ask (`resolvedOptions()` about 4 µs), and cheap to use (about 1 µs a
 * format), so each is built once per locale and currency (or zone and style) and kept, with what
 * the helpers read of its resolved options. Locales and currencies come from customer data, so
 * each cache holds at most FORMAT_CACHE_SIZE formatters: a new one past that evicts the oldest.
 */
export const FORMAT_CACHE_SIZE = 500;

/**
 * How many formatted amounts each money formatter keeps, of those it does not lay out by hand
 * (amounts.ts lays out whole minor units below 1,000 major ones, most prices, where the
 * locale's format allows). A shop's prices repeat from email to email (the same products, in
 * the same currency), and a kept amount costs a map look-up instead of about 0.5 µs of
 * `Intl.NumberFormat#format`; the shipped cart reminder formats 16 prices per email. Bounded
 * like the formatters: at most FORMAT_CACHE_SIZE x AMOUNT_CACHE_SIZE strings in all.
 */
export const AMOUNT_CACHE_SIZE = 256;

interface MoneyFormat {
  format: Intl.NumberFormat;
  /** 10 ** the currency's minor digits (100 for EUR, 1 for JPY, 1000 for KWD). */
  scale: number;
  /** Amounts below 1,000 major units laid out by hand (amounts.ts); null where they cannot be. */
  small: AmountLayout | null;
  /** Other formatted amounts by minor units (a pure function of the amount for this formatter). */
  amounts: BoundedCache<string, number>;
}

const moneyFormats = new BoundedCache<MoneyFormat>(FORMAT_CACHE_SIZE);
const percentFormats = new BoundedCache<Intl.NumberFormat>(FORMAT_CACHE_SIZE);
const dateFormats = new BoundedCache<Intl.DateTimeFormat>(FORMAT_CACHE_SIZE);

/** How many formatters each cache holds (tests). */
export function formatCacheSizes(): { money: number; percent: number; date: number } {
  return { money: moneyFormats.size, percent: percentFormats.size, date: dateFormats.size };
}

/** How many amounts the money formatter of `locale` and `currency` keeps (tests); -1 without one. */
export function amountCacheSize(locale: string, currency: string): number {
  return moneyFormats.find(`${locale}|${currency.toUpperCase()}`)?.amounts.size ?? -1;
}

/** Three ASCII letters (a currency code), as /^[A-Za-z]{3}$/ tests. */
export function isCurrencyCode(value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== 3) return false;
  for (let at = 0; at < 3; at += 1) {
    const letter = value.charCodeAt(at) | 0x20;
    if (letter < 0x61 || letter > 0x7a) return false;
  }
  return true;
}

/**
 * The last formatter money() used, by the locale and the currency as given: an email prints all
 * its prices in one locale and mostly one currency, so most calls skip building the cache key.
 */
let lastMoney: { locale: string; currency: string; money: MoneyFormat } | null = null;

function moneyFormat(locale: string, currency: string): MoneyFormat {
  if (lastMoney !== null && lastMoney.locale === locale && lastMoney.currency === currency) return lastMoney.money;
  const code = currency.toUpperCase();
  const money = moneyFormats.get(`${locale}|${code}`, () => {
    const format = new Intl.NumberFormat(locale, { style: 'currency', currency: code });
    const scale = 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2);
    return { format, scale, small: amountLayout(format, scale), amounts: new BoundedCache<string, number>(AMOUNT_CACHE_SIZE) };
  });
  lastMoney = { locale, currency, money };
  return money;
}

/**
 * {{money value_cents currency}}: minor units in the customer's locale (JPY has none). The
 * currency arrives as a value marker (see values.ts) and is read through it.
 */
function money(cents: unknown, markedCurrency: unknown, options: HelperOptions): string {
  const currency = plainValue(markedCurrency, options.data);
  if (typeof cents !== 'number' || !Number.isFinite(cents) || !isCurrencyCode(currency)) {
    return fallbackOr('money', options);
  }
  const { format, scale, small, amounts } = moneyFormat(frameLocale(options), currency);
  // -0 formats as "-0,00 €" but is the same map key as 0: formatted each time.
  if (cents === 0 && 1 / cents < 0) return markedValue(format.format(cents / scale), options.data);
  // Most prices: a whole number of minor units below 1,000 major ones.
  if (small !== null && cents >= 0 && cents < small.limit && Number.isInteger(cents)) return markedValue(laidOut(small, cents), options.data);
  let text = amounts.find(cents);
  if (text === undefined) {
    text = format.format(cents / scale);
    amounts.add(cents, text);
  }
  return markedValue(text, options.data);
}

const DATE_STYLES = ['short', 'medium', 'long', 'full'] as const;
type DateStyle = (typeof DATE_STYLES)[number];

/** {{date ms style="long" time=true}}: a date (and time) in the customer's locale and zone. */
function date(ms: unknown, options: HelperOptions): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return fallbackOr('date', options);
  const { locale, timeZone } = frame(options);
  const style: unknown = options.hash?.style ?? 'long';
  if (!(DATE_STYLES as readonly unknown[]).includes(style)) throw new Error(`date: style="${String(style)}" is not one of ${DATE_STYLES.join(', ')}`);
  const withTime = options.hash?.time === true;
  const format = dateFormats.get(`${locale}|${timeZone}|${String(style)}|${withTime}`, () =>
    new Intl.DateTimeFormat(locale, { dateStyle: style as DateStyle, ...(withTime ? { timeStyle: 'short' } : {}), timeZone }));
  return markedValue(format.format(ms), options.data);
}

/** {{default value "fallback"}}: the value, or the fallback when it would render as nothing. */
function defaultValue(value: unknown, fallback: unknown, options?: HelperOptions): unknown {
  if (options === undefined || typeof fallback !== 'string') throw new Error('default: expected {{default value "fallback"}}');
  return isMissing(value) ? fallback : value;
}

/** {{percent 20}}: a whole-number percentage in the customer's locale ("20 %" in de-DE). */
function percent(value: unknown, options: HelperOptions): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallbackOr('percent', options);
  const { locale } = frame(options);
  return markedValue(percentFormats.get(locale, () => new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 })).format(value / 100), options.data);
}

/**
 * Handlebars' built-in {{lookup obj key}}, reading a key that is a value marker through it
 * (a customer value used as a key still finds its entry). Registered over the built-in.
 */
export function lookupHelper(object: unknown, field: unknown, options: HelperOptions): unknown {
  if (object === null || object === undefined) return object;
  const key = plainValue(field, options.data);
  const lookupProperty = (options as unknown as { lookupProperty?: (o: unknown, k: unknown) => unknown }).lookupProperty;
  if (lookupProperty !== undefined) return lookupProperty(object, key);
  // Own properties only, as Handlebars' prototype-access rules would allow.
  return Object.prototype.hasOwnProperty.call(object, String(key)) ? (object as Record<string, unknown>)[String(key)] : undefined;
}

/** The helpers registered in every template environment. */
export const HELPERS: Record<string, (...args: never[]) => unknown> = {
  money,
  date,
  default: defaultValue,
  percent,
};

/** Every helper name a template may call. */
export const KNOWN_HELPERS: readonly string[] = [...BUILT_IN_HELPERS, ...Object.keys(HELPERS)];
