/**
 * Property: for a generated ledger and a settlement file derived from it by known perturbations
 * (drop a row, duplicate a row, change an amount, add an unknown payment, add an unknown refund),
 * the report finds exactly those perturbations, and money is conserved per row and in the totals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../../functions/core/ledger.ts';
import { readSettlementRows, reconcile } from '../../../functions/core/settlement/index.ts';
import { type FixtureRow, genericCsv, stripeCsv } from '../../fixtures/settlement/builders.ts';
import { chunked, utf8 } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger, ledgerEntry } from '../../fixtures/settlement/ledger.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');

const entrySpec = fc.record({
  refund: fc.boolean(),
  amountMinor: fc.integer({ min: 1, max: 5_000_000 }),
  feeMinor: fc.integer({ min: 0, max: 20_000 }),
  minute: fc.integer({ min: 0, max: 1439 }),
});

const scenario = fc.array(entrySpec, { minLength: 3, maxLength: 25 }).chain((specs) =>
  fc.record({
    specs: fc.constant(specs),
    // Three distinct rows: the one dropped, the one duplicated, the one whose amount changes.
    picks: fc.uniqueArray(fc.nat({ max: specs.length - 1 }), { minLength: 3, maxLength: 3 }),
    drop: fc.boolean(),
    duplicate: fc.boolean(),
    change: fc.integer({ min: -1000, max: 1000 }).filter((d) => d !== 0),
    doChange: fc.boolean(),
    unknownPayment: fc.boolean(),
    unknownRefund: fc.boolean(),
    shuffleSeed: fc.nat(),
  }),
);

function at(minute: number): string {
  return new Date(Date.parse('2026-11-20T00:00:00.000Z') + minute * 60_000).toISOString();
}

describe.each([
  { format: 'generic', gateway: 'acme', render: genericCsv, prefix: 'T' },
  { format: 'stripe', gateway: 'stripe', render: stripeCsv, prefix: 'pi_' },
])('$format: perturbations are found exactly', ({ gateway, render, prefix }) => {
  it('holds for generated ledgers', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const ledger: LedgerEntry[] = [];
        const rows: FixtureRow[] = [];
        s.specs.forEach((spec, i) => {
          const kind = spec.refund ? 'refund' : 'payment';
          // Stripe keys payments by pi_…, refunds by re_…; the generic file by its own ids.
          const transactionId = spec.refund ? `re_${i}` : `${prefix}${i}`;
          const fee = spec.refund ? 0 : Math.min(spec.feeMinor, spec.amountMinor);
          ledger.push(
            ledgerEntry({
              gateway,
              transactionId,
              kind,
              amountMinor: spec.amountMinor,
              currency: 'USD',
              receivedAt: at(spec.minute),
              orderId: `O-${i}`,
            }),
          );
          rows.push({
            kind,
            transactionId,
            orderId: `O-${i}`,
            currency: 'USD',
            grossMinor: spec.refund ? -spec.amountMinor : spec.amountMinor,
            feeMinor: fee,
            at: at(spec.minute),
          });
        });
        const [dropIdx, dupIdx, changeIdx] = s.picks as [number, number, number];
        const expected = {
          missing_in_settlement: 0,
          duplicate_in_settlement: 0,
          amount_mismatch: 0,
          missing_in_ledger: 0,
          unmatched_refund: 0,
        };
        const file: FixtureRow[] = [];
        rows.forEach((row, i) => {
          if (i === dropIdx && s.drop) {
            expected.missing_in_settlement++;
            return;
          }
          if (i === changeIdx && s.doChange) {
            // Keep the sign: a payment stays a payment. |gross| changes by `change`, never to 0.
            const magnitude =
              Math.abs(row.grossMinor) + s.change > 0
                ? Math.abs(row.grossMinor) + s.change
                : Math.abs(row.grossMinor) + 1;
            file.push({ ...row, grossMinor: Math.sign(row.grossMinor) * magnitude, feeMinor: 0 });
            expected.amount_mismatch++;
            return;
          }
          file.push(row);
          if (i === dupIdx && s.duplicate) {
            file.push(row);
            expected.duplicate_in_settlement++;
          }
        });
        // Keep the covered day whole whatever was dropped: unknown rows sit on the same day.
        if (s.unknownPayment) {
          file.push({
            kind: 'payment',
            transactionId: `${prefix}unknown`,
            orderId: 'O-unknown',
            currency: 'USD',
            grossMinor: 4242,
            feeMinor: 150,
            at: at(600),
          });
          expected.missing_in_ledger++;
        }
        if (s.unknownRefund) {
          file.push({
            kind: 'refund',
            transactionId: 're_unknown',
            refundOf: `${prefix}0`,
            orderId: 'O-0',
            currency: 'USD',
            grossMinor: -999,
            feeMinor: 0,
            at: at(700),
          });
          expected.unmatched_refund++;
        }
        if (file.length === 0) return;
        // Row order must not matter.
        const ordered = [...file].sort(
          (a, b) =>
            ((a.transactionId.length * 31 + s.shuffleSeed) % 7) -
            ((b.transactionId.length * 31 + s.shuffleSeed) % 7),
        );
        const bytes = utf8(render(ordered));

        const result = await reconcile({
          gateway,
          chunks: chunked(bytes, 97),
          ledger: new FakeLedger(ledger),
          now: NOW,
        });
        const { summary } = result;
        expect(summary.status).toBe('complete');
        const matchedExpected = rows.length - (s.drop ? 1 : 0) - (s.doChange ? 1 : 0);
        expect(summary.counts).toEqual({
          matched: matchedExpected,
          fee_mismatch: 0,
          currency_mismatch: 0,
          double_payment: 0,
          pending_settlement: 0,
          ignored: 0,
          ...expected,
        });

        // Money: per row and in the totals.
        let rowGross = 0;
        let rowFee = 0;
        let rowNet = 0;
        for await (const item of readSettlementRows(gateway, chunked(bytes, 4096))) {
          expect(item.kind).not.toBe('rejected');
          if (item.kind === 'rejected' || item.kind === 'ignored') continue;
          expect(item.grossMinor - item.feeMinor).toBe(item.netMinor);
          rowGross += item.grossMinor;
          rowFee += item.feeMinor;
          rowNet += item.netMinor;
        }
        const usd = summary.totals.USD!;
        expect(usd.settlementGrossMinor).toBe(ordered.reduce((n, r) => n + r.grossMinor, 0));
        expect(usd.settlementGrossMinor).toBe(rowGross);
        expect(usd.feesMinor).toBe(rowFee);
        expect(usd.netMinor).toBe(rowNet);
        expect(usd.settlementGrossMinor - usd.feesMinor).toBe(usd.netMinor);
        const ledgerGross = ledger.reduce(
          (n, e) => n + (e.kind === 'payment' ? e.amountMinor : -e.amountMinor),
          0,
        );
        expect(usd.ledgerGrossMinor).toBe(ledgerGross);
        expect(usd.differenceMinor).toBe(ledgerGross - usd.settlementGrossMinor);
        // One exceptions.csv line per perturbation found.
        const found = Object.values(expected).reduce((a, b) => a + b, 0);
        expect(result.exceptionsCsv.trimEnd().split('\r\n')).toHaveLength(1 + found);
      }),
      { numRuns: 60 },
    );
  });
});
