/**
 * The rounding table: what a customer pays for a base-currency (CNY) price, per pay currency, including the
 * half-up boundaries (exactly .5 of a minor unit rounds away from zero) and amounts near Number.MAX_SAFE_INTEGER.
 * Expected values were computed independently with Python's decimal module (ROUND_HALF_UP).
 */
import { describe, expect, it } from 'vitest';
import { baseToPay, type Currency, MoneyError, payToBase } from '../../functions/core/money.ts';
import type { OrderRecord } from '../../functions/core/order-model.ts';
import { cumulativePay } from '../../functions/core/refunds.ts';

const table: [string, number, Currency, string, number][] = [
  // name, base CNY minor, pay currency, rate (1 pay unit = rate CNY), expected pay minor
  ['CONTRACT example', 11800, 'USD', '7.123400', 1657],
  ['USD one yuan', 100, 'USD', '7.123400', 14],
  ['USD half-up boundary: 0.5 cent → 1', 4, 'USD', '8.000000', 1],
  ['USD just below half: 0.375 cent → 0', 3, 'USD', '8.000000', 0],
  ['USD 1.5 cents → 2', 12, 'USD', '8.000000', 2],
  ['USD 2.5 cents → 3 (not banker’s 2)', 20, 'USD', '8.000000', 3],
  ['USD large, near MAX_SAFE_INTEGER', 900_719_925_474_099, 'USD', '7.123400', 126_445_226_362_987],
  ['EUR exact', 7745, 'EUR', '7.745000', 1000],
  ['EUR half-up boundary 0.5 → 1', 2, 'EUR', '4.000000', 1],
  ['EUR 1.25 → 1', 5, 'EUR', '4.000000', 1],
  ['EUR 1.5 → 2', 6, 'EUR', '4.000000', 2],
  ['EUR 1.75 → 2', 7, 'EUR', '4.000000', 2],
  ['EUR large', 123_456_789_012, 'EUR', '7.745000', 15_940_192_255],
  ['JPY (no minor unit) one yuan', 100, 'JPY', '0.047600', 21],
  ['JPY exact', 476, 'JPY', '0.047600', 100],
  ['JPY half-up boundary 0.5 yen → 1', 2, 'JPY', '0.040000', 1],
  ['JPY 0.25 yen → 0', 1, 'JPY', '0.040000', 0],
  ['JPY 1.5 yen → 2', 6, 'JPY', '0.040000', 2],
  ['JPY large', 999_999_999_999, 'JPY', '0.047600', 210_084_033_613],
  ['JPY near MAX_SAFE_INTEGER', 900_719_925_474_099, 'JPY', '0.047600', 189_226_875_099_601],
  ['CNY pays CNY at 1.000000', 11800, 'CNY', '1.000000', 11800],
  ['CNY one fen', 1, 'CNY', '1.000000', 1],
  ['CNY large', 900_719_925_474_099, 'CNY', '1.000000', 900_719_925_474_099],
];

describe('baseToPay rounding table (base CNY)', () => {
  it.each(table)('%s: %i CNY minor in %s at %s → %i', (_name, base, pay, rate, expected) => {
    expect(baseToPay(base, 'CNY', pay, rate)).toBe(expected);
  });
});

describe('payToBase (the FX difference of a refund)', () => {
  it.each([
    [1657, 'USD', '7.123400', 11803],
    [1657, 'USD', '7.800000', 12925],
    [12345, 'JPY', '0.047600', 58762],
    // 0.0712345 CNY → 7.12345 fen: the 7th decimal of the rate decides, exactly.
    [1, 'USD', '7.123450', 7],
    [11800, 'CNY', '1.000000', 11800],
  ] as [number, Currency, string, number][])(
    '%i %s at %s → %i CNY minor',
    (pay, currency, rate, expected) => {
      expect(payToBase(pay, currency, 'CNY', rate)).toBe(expected);
    },
  );
});

describe('cumulativePay', () => {
  const order = {
    baseAmountMinor: 11800,
    baseCurrency: 'CNY',
    payCurrency: 'USD',
    payAmountMinor: 1657,
    exchangeRate: { pair: 'USD/CNY', rate: '7.123400', asOf: '', source: '' },
  } as unknown as OrderRecord;

  it('is the paid amount for the whole order and half-up for a part', () => {
    expect(cumulativePay(order, 11800)).toBe(1657);
    expect(cumulativePay(order, 5900)).toBe(828); // 828.26
    expect(cumulativePay(order, 0)).toBe(0);
  });
});

describe('rounding to a step every gateway can charge (CONTRACT §3 "currencies")', () => {
  // name, base CNY minor, pay, rate, step (ISO minor units), expected pay minor. Worked by hand:
  // exact pay = base/100/rate major units, then half-up to a multiple of step.
  const stepped: [string, number, Currency, string, number, number][] = [
    ['HUF for PayPal: 6020.408… forints → 6020', 11800, 'HUF', '0.019600', 100, 602_000],
    ['HUF 60.50 → 61 forints (half-up)', 6050, 'HUF', '1.000000', 100, 6100],
    ['HUF 60.49 → 60 forints', 6049, 'HUF', '1.000000', 100, 6000],
    ['TWD for PayPal: 4.3478… → 4 dollars', 100, 'TWD', '0.230000', 100, 400],
    ['KWD for Stripe: 5.125 → 5.130', 5125, 'KWD', '10.000000', 10, 5130],
    ['KWD for Stripe: 5.124 → 5.120', 5124, 'KWD', '10.000000', 10, 5120],
    ['step 1 is plain half-up', 11800, 'USD', '7.123400', 1, 1657],
  ];
  it.each(stepped)('%s', (_name, base, pay, rate, step, expected) => {
    expect(baseToPay(base, 'CNY', pay, rate, step)).toBe(expected);
  });

  it('refunds of a stepped order round to the same step, and the whole order is what was paid', () => {
    const order = {
      baseCurrency: 'CNY',
      baseAmountMinor: 11800,
      payCurrency: 'HUF',
      payAmountMinor: 602_000,
      payIncrementMinor: 100,
      exchangeRate: { pair: 'HUF/CNY', rate: '0.019600', asOf: '', source: '' },
    } as unknown as OrderRecord;
    expect(cumulativePay(order, 5900)).toBe(301_000); // 3010.204… forints → 3010
    expect(cumulativePay(order, 11800)).toBe(602_000);
  });

  it('refuses a step that is not a positive integer', () => {
    expect(() => baseToPay(100, 'CNY', 'USD', '7.000000', 0)).toThrow(MoneyError);
    expect(() => baseToPay(100, 'CNY', 'USD', '7.000000', 2.5)).toThrow(MoneyError);
  });
});
