/**
 * Alipay's cumulative `refund_fee` arriving in any order (CONTRACT §3 "alipay"): whatever the arrival
 * order, each refund ends at its cumulative minus the one before it (what the trade bill lists per
 * 退款批次号) and the trade's refunds sum to the highest cumulative seen. Property-tested on the core's
 * `splitCumulative`, replaying what the callback records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitCumulative } from '../../functions/core/callbacks.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';

function entry(
  pk: string,
  kind: 'refund' | 'refund_adjustment',
  amountMinor: number,
  extra: Partial<LedgerEntry>,
) {
  return {
    pk,
    gateway: 'alipay',
    transactionId: pk,
    kind,
    amountMinor,
    currency: 'CNY',
    classification: 'processed',
    eventId: pk,
    eventType: 'TRADE_SUCCESS',
    references: {},
    receivedAt: '2026-11-24T00:00:00Z',
    gatewayDay: 'alipay#2026-11-24',
    ...extra,
  } as LedgerEntry;
}

/** Records refunds with these cumulatives in `order`, as the callback does; returns the ledger. */
function replay(cumulatives: readonly number[], order: readonly number[]): LedgerEntry[] {
  const ledger: LedgerEntry[] = [];
  for (const i of order) {
    const split = splitCumulative(cumulatives[i]!, ledger);
    ledger.push(entry(`r${i}`, 'refund', split.amountMinor, { cumulativeMinor: cumulatives[i]! }));
    if (split.adjustment) {
      ledger.push(
        entry(`adj${ledger.length}`, 'refund_adjustment', split.adjustment.amountMinor, {
          adjusts: split.adjustment.of.pk,
        }),
      );
    }
  }
  return ledger;
}

const own = (ledger: LedgerEntry[], pk: string) =>
  ledger.filter((e) => e.pk === pk || e.adjusts === pk).reduce((s, e) => s + e.amountMinor, 0);

describe('cumulative refund_fee in any order', () => {
  it('the documented example: 30, 40, 10 delivered last first', () => {
    const ledger = replay([3000, 7000, 8000], [2, 1, 0]);
    expect([own(ledger, 'r0'), own(ledger, 'r1'), own(ledger, 'r2')]).toEqual([3000, 4000, 1000]);
    expect(ledger.reduce((s, e) => s + e.amountMinor, 0)).toBe(8000);
  });

  it('every arrival order ends with each refund at its own amount and the total at the highest cumulative', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 8 })
          .chain((amounts) =>
            fc.tuple(
              fc.constant(amounts),
              fc.shuffledSubarray([...amounts.keys()], { minLength: amounts.length }),
            ),
          ),
        ([amounts, order]) => {
          const cumulatives = amounts.map((_, i) => amounts.slice(0, i + 1).reduce((s, a) => s + a, 0));
          const ledger = replay(cumulatives, order);
          for (const [i, a] of amounts.entries()) expect(own(ledger, `r${i}`)).toBe(a);
          expect(ledger.reduce((s, e) => s + e.amountMinor, 0)).toBe(cumulatives.at(-1));
          // Totals move only by what arrived: at every prefix the sum equals the highest cumulative so far.
          for (let n = 1; n <= order.length; n++) {
            const partial = replay(cumulatives, order.slice(0, n));
            const max = Math.max(...order.slice(0, n).map((i) => cumulatives[i]!));
            expect(partial.reduce((s, e) => s + e.amountMinor, 0)).toBe(max);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
