/**
 * Money is conserved: refunding every item of an order, in any split into refunds, at the order's original
 * rate, returns exactly the pay amount the customer paid (cumulative rounding), never a minor unit more or less.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commonChargeIncrementMinor } from '../../functions/core/gateways/currencies.ts';
import { baseToPay, type Currency } from '../../functions/core/money.ts';
import type { OrderRecord } from '../../functions/core/order-model.ts';
import { OrderValidationError } from '../../functions/core/orders.ts';
import { planRefund, RefundExceedsPaidError } from '../../functions/core/refunds.ts';

// HUF and TWD are charged in whole units by PayPal, KWD in multiples of 10 fils by Stripe: their orders
// and refunds are rounded to that step (functions/core/gateways/currencies.ts).
const PAY: Currency[] = ['USD', 'EUR', 'GBP', 'JPY', 'HKD', 'CNY', 'HUF', 'TWD', 'KWD'];
const GATEWAYS = ['stripe', 'paypal', 'alipay', 'wechatpay'] as const;

const orderArb = fc
  .record({
    items: fc.array(
      fc.record({
        quantity: fc.integer({ min: 1, max: 6 }),
        unitPriceMinor: fc.integer({ min: 1, max: 5_000_000 }),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    pay: fc.constantFrom(...PAY),
    // 0.010000 … 20.000000, as 6-decimal strings.
    rateMicros: fc.integer({ min: 10_000, max: 20_000_000 }),
  })
  .map(({ items, pay, rateMicros }): OrderRecord => {
    const rate =
      pay === 'CNY'
        ? '1.000000'
        : `${Math.floor(rateMicros / 1e6)}.${String(rateMicros % 1e6).padStart(6, '0')}`;
    const withSku = items.map((i, n) => ({ sku: `sku-${n}`, ...i }));
    const baseAmountMinor = withSku.reduce((s, i) => s + i.quantity * i.unitPriceMinor, 0);
    const payIncrementMinor = commonChargeIncrementMinor(GATEWAYS, pay);
    return {
      pk: 'o',
      sk: 'order',
      orderId: 'o',
      status: 'paid',
      customerId: 'c',
      items: withSku,
      baseCurrency: 'CNY',
      baseAmountMinor,
      payCurrency: pay,
      payAmountMinor: baseToPay(baseAmountMinor, 'CNY', pay, rate, payIncrementMinor),
      payIncrementMinor,
      exchangeRate: { pair: `${pay}/CNY`, rate, asOf: '', source: '' },
      flags: [],
      createdAt: '',
      updatedAt: '',
      statusHistory: [],
      refundedPayMinor: 0,
      pendingRefundPayMinor: 0,
      refundBaseCumulativeMinor: 0,
      refundedQuantities: {},
    };
  });

/** Applies a plan to the order as the refund transaction would. */
function apply(order: OrderRecord, plan: ReturnType<typeof planRefund>): OrderRecord {
  return {
    ...order,
    refundBaseCumulativeMinor: plan.refundBaseCumulativeMinor,
    pendingRefundPayMinor: order.pendingRefundPayMinor + plan.payAmountMinor,
    refundedQuantities: Object.fromEntries(plan.refundedQuantities),
  };
}

describe('refunds at the original rate with cumulative rounding', () => {
  it('refunding every unit, in any split, sums exactly to the paid pay amount', () => {
    fc.assert(
      fc.property(orderArb, fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (initial, cuts) => {
        fc.pre(initial.payAmountMinor > 0);
        // Every unit of every item, in a shuffled-by-cuts order, cut into consecutive refunds.
        const units = initial.items.flatMap((i) => Array.from({ length: i.quantity }, () => i.sku));
        const refunds: string[][] = [];
        let rest = units;
        for (const cut of cuts) {
          if (!rest.length) break;
          const size = 1 + (cut % rest.length);
          refunds.push(rest.slice(0, size));
          rest = rest.slice(size);
        }
        if (rest.length) refunds.push(rest);

        let order = initial;
        let paid = 0;
        let carried: string[] = [];
        for (const skus of refunds) {
          const batch = [...carried, ...skus];
          const counts = new Map<string, number>();
          for (const s of batch) counts.set(s, (counts.get(s) ?? 0) + 1);
          try {
            const plan = planRefund(order, {
              items: [...counts].map(([sku, quantity]) => ({ sku, quantity })),
            });
            expect(plan.payAmountMinor).toBeGreaterThan(0);
            expect(plan.payAmountMinor % (initial.payIncrementMinor ?? 1)).toBe(0);
            paid += plan.payAmountMinor;
            order = apply(order, plan);
            carried = [];
          } catch (error) {
            // A part worth less than half a pay minor unit is refused on its own (no gateway refunds 0);
            // the client folds it into its next refund, which is what we do here.
            if (!(error instanceof OrderValidationError)) throw error;
            carried = batch;
          }
        }
        // Whatever was left over rounds to nothing: everything paid has been returned already.
        expect(paid).toBe(initial.payAmountMinor);
        expect(
          order.refundBaseCumulativeMinor +
            carried.reduce((s, sku) => s + initial.items.find((i) => i.sku === sku)!.unitPriceMinor, 0),
        ).toBe(initial.baseAmountMinor);
        // And nothing more can be refunded.
        expect(() =>
          planRefund(order, {
            baseAmountMinor: 1 + (initial.baseAmountMinor - order.refundBaseCumulativeMinor),
          }),
        ).toThrow(RefundExceedsPaidError);
      }),
      { numRuns: 500 },
    );
  });

  it('refunding the base amount in any split sums exactly to the paid pay amount', () => {
    fc.assert(
      fc.property(
        orderArb,
        fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 30 }),
        (initial, parts) => {
          fc.pre(initial.payAmountMinor > 0);
          let order = initial;
          let paid = 0;
          let pendingBase = 0;
          const remaining = () => initial.baseAmountMinor - order.refundBaseCumulativeMinor;
          for (const part of [...parts, Number.MAX_SAFE_INTEGER]) {
            const amount = Math.min(part + pendingBase, remaining());
            if (amount <= 0) break;
            try {
              const plan = planRefund(order, { baseAmountMinor: amount });
              paid += plan.payAmountMinor;
              order = apply(order, plan);
              pendingBase = 0;
            } catch (error) {
              if (!(error instanceof OrderValidationError)) throw error;
              pendingBase = amount;
            }
          }
          expect(paid).toBe(initial.payAmountMinor);
        },
      ),
      { numRuns: 500 },
    );
  });
});
