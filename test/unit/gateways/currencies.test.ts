/**
 * Gateways' own currency rules against ISO 4217 (CONTRACT §3 "currencies"). Expected values are the
 * documents' own examples: docs.stripe.com/currencies (zero-decimal list, "5.124 KWD must be rounded to
 * 5120 or 5130", "to charge 5 ISK, provide an amount value of 500"), and PayPal's currency-codes page
 * (HUF, JPY, TWD "does not support decimals").
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chargeIncrementMinor,
  commonChargeIncrementMinor,
  currencyRule,
  fromGatewayMinor,
  PAYPAL_CURRENCY_RULES,
  parseGatewayMajor,
  roundToIncrement,
  STRIPE_CURRENCY_RULES,
  toGatewayMinor,
  withIsoAmount,
} from '../../../functions/core/gateways/currencies.ts';
import { MalformedEventError } from '../../../functions/core/gateways/errors.ts';
import { normalisePaypalEvent } from '../../../functions/core/gateways/paypal.ts';
import { signStripe } from '../../../functions/core/gateways/signers.ts';
import { createStripeGateway } from '../../../functions/core/gateways/stripe.ts';
import { baseToPay, type Currency, exponent, MoneyError } from '../../../functions/core/money.ts';
import { expectEvent, expectRejects, request } from './helpers.ts';

// docs.stripe.com/currencies#zero-decimal, as listed there.
const STRIPE_ZERO_DECIMAL = [
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
] as const;
const THREE_DECIMAL = ['BHD', 'JOD', 'KWD', 'OMR', 'TND'] as const;

describe('Stripe currency rules', () => {
  it('counts every zero-decimal currency in whole units', () => {
    for (const c of STRIPE_ZERO_DECIMAL) expect(currencyRule('stripe', c).decimals, c).toBe(0);
  });

  it('only MGA among them differs from ISO, which gives it 2 decimals', () => {
    const differing = STRIPE_ZERO_DECIMAL.filter((c) => exponent(c) !== 0);
    expect(differing).toEqual(['MGA']);
    expect(fromGatewayMinor('stripe', 500, 'MGA')).toBe(50_000);
    expect(toGatewayMinor('stripe', 50_000, 'MGA')).toBe(500);
  });

  it('keeps ISK two-decimal in its API, in whole krónur only (special cases)', () => {
    expect(fromGatewayMinor('stripe', 500, 'ISK')).toBe(5); // "to charge 5 ISK … 500"
    expect(() => fromGatewayMinor('stripe', 550, 'ISK')).toThrow(MoneyError);
    expect(toGatewayMinor('stripe', 5, 'ISK')).toBe(500);
    expect(chargeIncrementMinor('stripe', 'ISK')).toBe(1);
  });

  it('charges three-decimal currencies in multiples of ten', () => {
    for (const c of THREE_DECIMAL) {
      expect(exponent(c)).toBe(3);
      expect(chargeIncrementMinor('stripe', c), c).toBe(10);
      expect(fromGatewayMinor('stripe', 5120, c)).toBe(5120);
    }
    // "5.124 KWD must be rounded to 5120 or 5130": we round half-up.
    expect(roundToIncrement(5124, 10)).toBe(5120);
    expect(roundToIncrement(5125, 10)).toBe(5130);
  });

  it('treats HUF, TWD and UGX charges as ISO does (their Stripe exceptions are payout-only)', () => {
    expect(chargeIncrementMinor('stripe', 'HUF')).toBe(1);
    expect(chargeIncrementMinor('stripe', 'TWD')).toBe(1);
    expect(chargeIncrementMinor('stripe', 'UGX')).toBe(1);
    expect(exponent('UGX')).toBe(0);
  });

  it('names its source on every rule', () => {
    for (const rule of [...Object.values(STRIPE_CURRENCY_RULES), ...Object.values(PAYPAL_CURRENCY_RULES)])
      expect(rule.source).toMatch(/^https:\/\/(docs\.stripe\.com|developer\.paypal\.com)\//);
  });

  it('converts a signed ISK event to ISO units at the gateway edge', async () => {
    const secret = 'whsec_test';
    const gateway = createStripeGateway({ name: 'stripe', webhookSecrets: [secret] });
    const now = new Date('2026-11-23T10:00:00Z');
    // Shape per Stripe's API reference "The PaymentIntent object" / stripe-node test fixtures.
    const event = (amount: number) =>
      JSON.stringify({
        id: 'evt_3ISK',
        object: 'event',
        type: 'payment_intent.succeeded',
        created: 1_795_000_000,
        data: {
          object: {
            id: 'pi_3ISK',
            object: 'payment_intent',
            amount,
            amount_received: amount,
            currency: 'isk',
            latest_charge: 'ch_3ISK',
            metadata: { order_id: 'ord-isk' },
          },
        },
      });
    const req = (body: string) =>
      request(body, {
        'content-type': 'application/json',
        'stripe-signature': signStripe({ payload: body, secrets: secret, timestamp: now.getTime() / 1000 }),
      });
    const e = await expectEvent(gateway, req(event(1_250_000)), now);
    expect(e.amountMinor).toBe(12_500);
    expect(e.currency).toBe('ISK');
    await expectRejects(gateway.verify(req(event(1_250_050)), now), MalformedEventError, 400);
  });

  it('leaves amounts alone where Stripe agrees with ISO', () => {
    const result = {
      type: 'event' as const,
      event: { amountMinor: 1999, currency: 'USD' } as never,
    };
    expect(withIsoAmount('stripe', result, 'stripe')).toBe(result);
  });
});

describe('PayPal currency rules', () => {
  const capture = (currency: string, value: string) => ({
    id: 'WH-58D329510W468432D-8HN650336L201105X',
    event_type: 'PAYMENT.CAPTURE.COMPLETED',
    resource: { id: '7TK53561YB803214S', custom_id: 'ord-1', amount: { currency_code: currency, value } },
  });

  it('takes HUF, JPY and TWD in whole units only', () => {
    expect(parseGatewayMajor('paypal', '1500', 'HUF')).toBe(150_000);
    expect(parseGatewayMajor('paypal', '1500.00', 'HUF')).toBe(150_000);
    expect(() => parseGatewayMajor('paypal', '1500.50', 'HUF')).toThrow(MoneyError);
    expect(() => parseGatewayMajor('paypal', '99.5', 'TWD')).toThrow(MoneyError);
    expect(parseGatewayMajor('paypal', '1999', 'JPY')).toBe(1999);
    expect(chargeIncrementMinor('paypal', 'HUF')).toBe(100);
    expect(chargeIncrementMinor('paypal', 'TWD')).toBe(100);
    expect(chargeIncrementMinor('paypal', 'JPY')).toBe(1);
  });

  it('parses a capture amount with these rules (400 for fractional forints)', () => {
    const ok = normalisePaypalEvent(capture('HUF', '1500'));
    expect(ok.type === 'event' && ok.event.amountMinor).toBe(150_000);
    expect(() => normalisePaypalEvent(capture('HUF', '1500.50'))).toThrow(MalformedEventError);
    const usd = normalisePaypalEvent(capture('USD', '19.99'));
    expect(usd.type === 'event' && usd.event.amountMinor).toBe(1999);
  });
});

describe('a price every configured gateway can charge', () => {
  const ALL = ['stripe', 'paypal', 'alipay', 'wechatpay', 'standard-webhooks'] as const;

  it('is the least common multiple of the gateways steps', () => {
    expect(commonChargeIncrementMinor(ALL, 'HUF')).toBe(100);
    expect(commonChargeIncrementMinor(ALL, 'KWD')).toBe(10);
    expect(commonChargeIncrementMinor(ALL, 'USD')).toBe(1);
    expect(commonChargeIncrementMinor(['stripe'], 'HUF')).toBe(1);
    expect(commonChargeIncrementMinor([], 'HUF')).toBe(1);
  });

  it('rounds the exact quotient once, half-up, to that step', () => {
    // 118.00 CNY at 0.019600 CNY per forint = 6020.408… HUF → 6020 HUF.
    expect(baseToPay(11800, 'CNY', 'HUF', '0.019600')).toBe(602_041);
    expect(baseToPay(11800, 'CNY', 'HUF', '0.019600', 100)).toBe(602_000);
    // 5.125 exactly: half-up to 5.13 (step 10 fils), not 5.12.
    expect(baseToPay(5125, 'CNY', 'KWD', '10.000000', 10)).toBe(5130);
  });

  it('always lands on a multiple of the step, within half a step of the exact amount', () => {
    const currencies: Currency[] = ['HUF', 'TWD', 'KWD', 'BHD', 'JPY', 'USD', 'ISK', 'MGA'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000_000 }),
        fc.constantFrom(...currencies),
        fc.integer({ min: 1_000, max: 50_000_000 }),
        (baseMinor, pay, rateMicros) => {
          const rate = `${Math.floor(rateMicros / 1e6)}.${String(rateMicros % 1e6).padStart(6, '0')}`;
          const step = commonChargeIncrementMinor(ALL, pay);
          const priced = baseToPay(baseMinor, 'CNY', pay, rate, step);
          expect(priced % step).toBe(0);
          // |priced − exact| ≤ step / 2, in integers: exact = baseMinor·10^exp(pay)·10^6 / (100·rateMicros).
          const num = BigInt(baseMinor) * 10n ** BigInt(exponent(pay)) * 1_000_000n;
          const den = 100n * BigInt(rateMicros);
          const diff = BigInt(priced) * den - num;
          expect((diff < 0n ? -diff : diff) * 2n <= BigInt(step) * den).toBe(true);
          // Every gateway can express it in its own units.
          for (const kind of ['stripe', 'paypal'] as const) {
            const units = toGatewayMinor(kind, priced, pay);
            expect(units % (currencyRule(kind, pay).multipleOf ?? 1)).toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
