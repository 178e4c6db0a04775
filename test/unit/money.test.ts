/** Money: exact parsing, half-up rounding, conversion by decimal rate strings, no floats. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyRate,
  baseToPay,
  CURRENCIES,
  type Currency,
  deviationExceeds,
  divRoundHalfUp,
  exponent,
  formatMajor,
  formatRate,
  MoneyError,
  parseMajor,
  payToBase,
} from '../../functions/core/money.ts';

describe('currencies', () => {
  it('knows the ISO 4217 exponents the shops use', () => {
    const expected: Record<string, number> = {
      USD: 2,
      EUR: 2,
      GBP: 2,
      JPY: 0,
      CNY: 2,
      HKD: 2,
      AUD: 2,
      CAD: 2,
      KRW: 0,
      SGD: 2,
      TWD: 2,
    };
    for (const [code, exp] of Object.entries(expected)) expect(exponent(code as Currency)).toBe(exp);
  });

  it('knows every ISO 4217 exponent, three-decimal and zero-decimal ones included', () => {
    // ISO 4217 List One (SIX Group): minor units per code.
    const expected: Record<string, number> = {
      KWD: 3,
      BHD: 3,
      OMR: 3,
      JOD: 3,
      TND: 3,
      IQD: 3,
      LYD: 3,
      ISK: 0,
      UGX: 0,
      VND: 0,
      CLP: 0,
      XOF: 0,
      HUF: 2,
      MGA: 2,
      IDR: 2,
      CLF: 4,
      UYW: 4,
    };
    for (const [code, exp] of Object.entries(expected)) expect(exponent(code as Currency), code).toBe(exp);
    expect(CURRENCIES.length).toBeGreaterThanOrEqual(160);
    for (const c of CURRENCIES) expect(c).toMatch(/^[A-Z]{3}$/);
    expect(parseMajor('5.124', 'KWD')).toBe(5124);
    expect(() => parseMajor('5.1245', 'KWD')).toThrow(MoneyError);
    expect(formatMajor(5124, 'KWD')).toBe('5.124');
  });
});

describe('parseMajor', () => {
  it.each([
    ['19.99', 'USD', 1999],
    ['-5', 'USD', -500],
    ['0.5', 'EUR', 50],
    ['1999', 'JPY', 1999],
    ['+7.10', 'CNY', 710],
    ['90071992547409.91', 'USD', 9007199254740991],
  ] as const)('%s %s → %d minor units', (input, currency, minor) => {
    expect(parseMajor(input, currency)).toBe(minor);
  });

  it('refuses more decimals than the currency has, unless half-up rounding is asked for', () => {
    expect(() => parseMajor('1.005', 'USD')).toThrow(MoneyError);
    expect(() => parseMajor('1.5', 'JPY')).toThrow(/more than 0 decimals/);
    expect(parseMajor('1.005', 'USD', { rounding: 'half-up' })).toBe(101);
    expect(parseMajor('1.00499', 'USD', { rounding: 'half-up' })).toBe(100);
    expect(parseMajor('-1.005', 'USD', { rounding: 'half-up' })).toBe(-101);
    expect(parseMajor('1.000', 'USD')).toBe(100); // extra zeros are exact
  });

  it('refuses what is not a plain decimal number', () => {
    for (const bad of ['', '1,000.00', '1e3', 'abc', '1.2.3', 'NaN', '0x10', '99999999999999999.00']) {
      expect(() => parseMajor(bad, 'USD'), bad).toThrow(MoneyError);
    }
  });

  it('round-trips with formatMajor for every currency (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCIES),
        fc.integer({ min: -1e13, max: 1e13 }),
        (currency, minor) => {
          expect(parseMajor(formatMajor(minor, currency), currency)).toBe(minor);
        },
      ),
    );
  });
});

describe('half-up rounding', () => {
  it('rounds halves away from zero, everything else to nearest', () => {
    expect(divRoundHalfUp(5n, 2n)).toBe(3n);
    expect(divRoundHalfUp(-5n, 2n)).toBe(-3n);
    expect(divRoundHalfUp(7n, 3n)).toBe(2n);
    expect(divRoundHalfUp(8n, 3n)).toBe(3n);
    expect(divRoundHalfUp(5n, -2n)).toBe(-3n);
  });

  it('is within half a unit of the exact quotient (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        (n, d) => {
          const q = divRoundHalfUp(n, d);
          // |n - q·d| ≤ d/2, i.e. 2|n - q·d| ≤ d
          const r = n - q * d;
          expect(2n * (r < 0n ? -r : r) <= d).toBe(true);
        },
      ),
    );
  });
});

describe('conversion by a decimal rate', () => {
  it('converts base to pay as base / rate, half-up in the pay currency', () => {
    expect(baseToPay(11800, 'CNY', 'USD', '7.123400')).toBe(1657); // 118.00 / 7.1234 = 16.5651…
    expect(baseToPay(11800, 'CNY', 'JPY', '0.047600')).toBe(2479); // 118 / 0.0476 = 2478.99…
    expect(baseToPay(11800, 'CNY', 'CNY', '1.000000')).toBe(11800);
    expect(payToBase(1657, 'USD', 'CNY', '7.123400')).toBe(11803); // 16.57 × 7.1234 = 118.0347…
  });

  it('formats rates with 6 decimals, half-up', () => {
    expect(formatRate('7.1234')).toBe('7.123400');
    expect(formatRate('0.0476005')).toBe('0.047601');
    expect(() => formatRate('0')).toThrow(MoneyError);
    expect(() => formatRate('-1')).toThrow(MoneyError);
  });

  it('pay → base → pay comes back within one pay minor unit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: 1, max: 99_999_999 }),
        fc.constantFrom<Currency>('USD', 'EUR', 'JPY', 'GBP', 'HKD'),
        (payMinor, rateMicros, pay) => {
          const rate = formatRate(
            `${Math.floor(rateMicros / 1e6)}.${String(rateMicros % 1e6).padStart(6, '0')}`,
          );
          const back = baseToPay(payToBase(payMinor, pay, 'CNY', rate), 'CNY', pay, rate);
          // One base minor unit of rounding is worth at most 1/rate pay units, plus half a unit.
          const slack = Math.ceil(1e6 / rateMicros / 10 ** (2 - exponent(pay))) + 1;
          expect(Math.abs(back - payMinor)).toBeLessThanOrEqual(slack);
        },
      ),
    );
  });

  it('compares relative deviation exactly', () => {
    expect(deviationExceeds('7.266868', '7.123400', '0.02')).toBe(true); // 2.014 %
    expect(deviationExceeds('7.265868', '7.123400', '0.02')).toBe(false); // 1.99996 %
    expect(deviationExceeds('7.265868', '7.123400', 0.02)).toBe(false);
  });

  it('applies a decimal fraction half-up (refund buffer reservations)', () => {
    expect(applyRate(11800, '0.006')).toBe(71); // 70.8
    expect(applyRate(250, '0.006')).toBe(2); // 1.5 → 2
  });
});
