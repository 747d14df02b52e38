/** Small amounts laid out by hand: exactly Intl's text, or no layout at all. */
import { amountLayout, laidOut, LAID_OUT_MAJOR_UNITS } from '../../../../services/core/templates/amounts';
import { HELPERS } from '../../../../services/core/templates/helpers';
import type { HelperOptions } from 'handlebars';

const LOCALES = [
  'en-US', 'en-GB', 'en-IN', 'en-CH', 'de-DE', 'de-CH', 'de-AT', 'fr-FR', 'fr-CH', 'fr-CA', 'es-ES', 'es-MX', 'es-419', 'it-IT',
  'nl-NL', 'nl-BE', 'pt-PT', 'pt-BR', 'pt-CV', 'pl-PL', 'cs-CZ', 'sv-SE', 'da-DK', 'nb-NO', 'fi-FI', 'is-IS', 'ru-RU', 'uk-UA',
  'tr-TR', 'el-GR', 'he-IL', 'ar-AE', 'ar-MA', 'ur-PK', 'hi-IN', 'ta-IN', 'th-TH', 'vi-VN', 'id-ID', 'zh-CN', 'zh-TW', 'ja-JP',
  'ko-KR', 'hu-HU', 'lt-LT', 'sw-KE', 'am-ET', 'km-KH', 'ka-GE', 'hy-AM', 'kk-KZ', 'fil-PH', 'ca-ES',
];

function currencyFormat(locale: string, currency: string): { format: Intl.NumberFormat; scale: number } {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  return { format, scale: 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2) };
}

/** Amounts spread over [0, limit): the edges, every power of ten, and a stride through the rest. */
function amountsBelow(limit: number): number[] {
  const amounts = [0, 1, 9, 10, 11, 99, 100, 101, 109, 110, limit - 1, limit - 10, limit - 100];
  for (let cents = 3; cents < limit; cents += Math.max(1, Math.floor(limit / 37))) amounts.push(cents);
  return amounts.filter((cents) => cents >= 0 && cents < limit);
}

describe('amountLayout', () => {
  it('lays out every amount below 1,000 major units exactly as Intl formats it, in every currency of many locales', () => {
    let laid = 0;
    for (const locale of LOCALES) {
      for (const currency of Intl.supportedValuesOf('currency')) {
        const { format, scale } = currencyFormat(locale, currency);
        const layout = amountLayout(format, scale);
        // Every locale here writes ASCII digits, so every currency gets a layout.
        expect([locale, currency, layout === null]).toEqual([locale, currency, false]);
        if (layout === null) continue;
        expect(layout.limit).toBe(LAID_OUT_MAJOR_UNITS * scale);
        for (const cents of amountsBelow(layout.limit)) {
          const expected = format.format(cents / scale);
          if (laidOut(layout, cents) !== expected) expect([locale, currency, cents, laidOut(layout, cents)]).toEqual([locale, currency, cents, expected]);
          laid += 1;
        }
      }
    }
    expect(laid).toBeGreaterThan(LOCALES.length * 100 * 40);
  });

  it('gives no layout where digits are not ASCII, or the minor digits vary', () => {
    for (const locale of ['ar-EG', 'fa-IR', 'bn-BD', 'th-TH-u-nu-thai', 'my-MM']) {
      const { format, scale } = currencyFormat(locale, 'EUR');
      expect([locale, amountLayout(format, scale)]).toEqual([locale, null]);
    }
    const varying = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 0 });
    expect(amountLayout(varying, 100)).toBeNull();
    // A scale that is not the format's minor digits.
    expect(amountLayout(new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }), 1)).toBeNull();
  });

  it('keeps a layout only if it prints every probe amount as the formatter does', () => {
    const real = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' });
    expect(amountLayout(real, 100)).not.toBeNull();
    // A formatter whose parts look like a layout but which prints 999.99 another way.
    const odd = {
      resolvedOptions: () => real.resolvedOptions(),
      formatToParts: (value: number) => real.formatToParts(value),
      format: (value: number) => (value === 999.99 ? 'anders' : real.format(value)),
    } as unknown as Intl.NumberFormat;
    expect(amountLayout(odd, 100)).toBeNull();
  });

  it('is what money() prints: laid out below 1,000, Intl above, negative and fractional amounts', () => {
    const money = HELPERS.money as unknown as (cents: unknown, currency: unknown, options: HelperOptions) => string;
    const options = { data: { locale: 'fr-CH', timeZone: 'UTC' }, hash: {} } as unknown as HelperOptions;
    const { format } = currencyFormat('fr-CH', 'CHF');
    for (const cents of [0, 5, 4990, 99_999, 100_000, 123_456_789, -1, -4990, 4990.5]) expect([cents, money(cents, 'CHF', options)]).toEqual([cents, format.format(cents / 100)]);
  });
});
