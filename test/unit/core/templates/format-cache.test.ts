/** The helpers' Intl formatter caches: same output as a fresh formatter, and bounded however many locales customers bring. */
import type { HelperOptions } from 'handlebars';
import { AMOUNT_CACHE_SIZE, amountCacheSize, FORMAT_CACHE_SIZE, formatCacheSizes, HELPERS } from '../../../../services/core/templates/helpers';
import { resolveLocale } from '../../../../services/core/templates';

type Helper = (...args: unknown[]) => string;
const money = HELPERS.money as unknown as Helper;
const percent = HELPERS.percent as unknown as Helper;
const date = HELPERS.date as unknown as Helper;

function frame(locale: string, timeZone = 'UTC', hash: Record<string, unknown> = {}): HelperOptions {
  return { data: { locale, timeZone }, hash } as unknown as HelperOptions;
}

describe('formatter caches', () => {
  it('format as a formatter built for the call would, twice in a row', () => {
    for (const [locale, currency, cents] of [['de-DE', 'eur', 4991], ['ja-JP', 'JPY', 1200], ['en-US', 'KWD', 123456], ['fr-CH', 'CHF', -5]] as const) {
      const fresh = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
      const expected = fresh.format(cents / 10 ** (fresh.resolvedOptions().maximumFractionDigits ?? 2));
      expect(money(cents, currency, frame(locale))).toBe(expected);
      expect(money(cents, currency, frame(locale))).toBe(expected);
    }
    expect(percent(15, frame('de-DE'))).toBe(new Intl.NumberFormat('de-DE', { style: 'percent', maximumFractionDigits: 1 }).format(0.15));
    const at = Date.UTC(2025, 5, 7, 23, 30);
    expect(date(at, frame('en-US', 'Asia/Tokyo', { style: 'long' }))).toBe('June 8, 2025');
    expect(date(at, frame('en-US', 'UTC', { style: 'long' }))).toBe('June 7, 2025');
    expect(date(at, frame('en-US', 'UTC', { style: 'short', time: true }))).toBe(new Intl.DateTimeFormat('en-US', { dateStyle: 'short', timeStyle: 'short', timeZone: 'UTC' }).format(at));
  });

  it('hold at most FORMAT_CACHE_SIZE formatters each, and still format right after evicting', () => {
    for (let i = 0; i < FORMAT_CACHE_SIZE + 50; i += 1) {
      const locale = `de-DE-x-c${i}`;
      money(100, 'EUR', frame(locale));
      percent(10, frame(locale));
      date(0, frame(locale, 'UTC', { style: 'short' }));
    }
    const sizes = formatCacheSizes();
    expect(sizes.money).toBe(FORMAT_CACHE_SIZE);
    expect(sizes.percent).toBe(FORMAT_CACHE_SIZE);
    expect(sizes.date).toBe(FORMAT_CACHE_SIZE);
    expect(money(4991, 'EUR', frame('de-DE-x-c0'))).toBe(new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' }).format(49.91));
  });

  it('resolveLocale answers the same from its cache', () => {
    for (const locale of ['de_DE', ' en-us ', '', '   ', 'not a locale!!', 'ja-JP']) {
      const first = resolveLocale(locale);
      expect(resolveLocale(locale)).toBe(first);
    }
    expect(resolveLocale('de_DE')).toBe('de-DE');
    expect(resolveLocale(' en-us ')).toBe('en-US');
    expect(resolveLocale('not a locale!!')).toBe('en-US');
    expect(resolveLocale(null)).toBe('en-US');
    expect(resolveLocale('')).toBe('en-US');
  });

  it('money keeps formatted amounts: the same text as a fresh formatter, -0 included, at most AMOUNT_CACHE_SIZE per formatter', () => {
    const fresh = (locale: string, currency: string, cents: number) => {
      const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
      return format.format(cents / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
    };
    const amounts = [0, -0, 1, -1, 5, 99, 100, 4990, 4991, 123456, -123456, 1e15, 0.5, 4990.25, Number.MAX_SAFE_INTEGER];
    for (const [locale, currency] of [['de-DE', 'EUR'], ['de-DE', 'eur'], ['en-US', 'usd'], ['ja-JP', 'JPY'], ['ar-EG', 'KWD'], ['fr-CH', 'CHF'], ['hi-IN', 'INR']] as const) {
      for (let round = 0; round < 2; round += 1) {
        for (const cents of amounts) expect([locale, currency, cents, money(cents, currency, frame(locale))]).toEqual([locale, currency, cents, fresh(locale, currency.toUpperCase(), cents)]);
      }
    }
    expect(money(-0, 'EUR', frame('de-DE'))).toBe(fresh('de-DE', 'EUR', -0));
    expect(money(0, 'EUR', frame('de-DE'))).toBe(fresh('de-DE', 'EUR', 0));
    expect(money(-0, 'EUR', frame('de-DE'))).not.toBe(money(0, 'EUR', frame('de-DE')));
    // Amounts below 1,000 pounds are laid out by hand (amounts.ts) and not kept; larger ones are.
    for (let cents = 0; cents < 1000; cents += 1) expect(money(cents, 'GBP', frame('en-GB'))).toBe(fresh('en-GB', 'GBP', cents));
    expect(amountCacheSize('en-GB', 'GBP')).toBe(0);
    const large = 100_000;
    for (let cents = large; cents < large + AMOUNT_CACHE_SIZE + 100; cents += 1) expect(money(cents, 'GBP', frame('en-GB'))).toBe(fresh('en-GB', 'GBP', cents));
    expect(amountCacheSize('en-GB', 'GBP')).toBe(AMOUNT_CACHE_SIZE);
    // The first amounts were evicted and are formatted again, the same.
    expect(money(large, 'GBP', frame('en-GB'))).toBe(fresh('en-GB', 'GBP', large));
    expect(money(large + 7, 'GBP', frame('en-GB'))).toBe(fresh('en-GB', 'GBP', large + 7));
    expect(amountCacheSize('en-GB', 'GBP')).toBe(AMOUNT_CACHE_SIZE);
  });

  it('money takes exactly three ASCII letters as a currency code, as /^[A-Za-z]{3}$/', () => {
    const fallback = (currency: unknown) => money(100, currency, frame('en-US', 'UTC', { fallback: 'n/a' }));
    for (let code = 0; code < 0x250; code += 1) {
      const char = String.fromCharCode(code);
      for (const currency of [`${char}SD`, `U${char}D`, `US${char}`]) {
        const valid = /^[A-Za-z]{3}$/.test(currency);
        expect([currency, fallback(currency) === 'n/a']).toEqual([currency, !valid]);
      }
    }
    for (const currency of ['', 'US', 'USDX', 'USD\n', ' USD', null, undefined, 3, ['USD']]) expect(fallback(currency)).toBe('n/a');
  });
});
