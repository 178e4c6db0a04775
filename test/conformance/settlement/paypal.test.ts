/**
 * PayPal STL files as the Settlement Report Specification lays them out (builder in
 * test/fixtures/settlement/published.ts), through the real reconcile handler: T-codes read with their
 * debit/credit direction, SF totals in the spec's column order, SC/RC/FF counts in either reading.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { utf8, utf16le } from '../../fixtures/settlement/bytes.ts';
import { ledgerEntry } from '../../fixtures/settlement/ledger.ts';
import { type StlBody, stl } from '../../fixtures/settlement/published.ts';
import { byCategory, Harness } from './harness.ts';

const NOW = new Date('2026-11-26T09:00:00.000Z');
let h: Harness;
beforeAll(async () => {
  h = await Harness.create(NOW);
});

const at = (hh: number) => `2026-11-20T${String(hh).padStart(2, '0')}:00:00.000Z`;
const entry = (
  transactionId: string,
  kind: string,
  amountMinor: number,
  receivedAt: string,
  currency: 'USD' | 'JPY' = 'USD',
) =>
  ledgerEntry({
    gateway: 'paypal',
    transactionId,
    kind: kind as 'payment',
    amountMinor,
    currency,
    receivedAt,
  });

// SH period Nov 20 (−08:00) is 08:00 UTC Nov 20 to 08:00 UTC Nov 21.
const rows: StlBody[] = [
  {
    id: 'CAP1',
    code: 'T0006',
    dc: 'CR',
    grossMinor: 5000,
    currency: 'USD',
    feeDc: 'DR',
    feeMinor: 175,
    custom: 'O-1',
    at: at(12),
  },
  { id: 'SENT1', code: 'T0000', dc: 'DR', grossMinor: 2000, currency: 'USD', at: at(13) },
  {
    id: 'REF1',
    code: 'T1107',
    dc: 'DR',
    grossMinor: 1000,
    currency: 'USD',
    feeDc: 'CR',
    feeMinor: 30,
    referenceId: 'CAP1',
    at: at(14),
  },
  { id: 'CB1', code: 'T1201', dc: 'DR', grossMinor: 5000, currency: 'USD', referenceId: 'CAP1', at: at(15) },
  { id: 'CBR1', code: 'T1202', dc: 'CR', grossMinor: 5000, currency: 'USD', referenceId: 'CB1', at: at(16) },
  { id: 'FEE1', code: 'T0106', dc: 'DR', grossMinor: 2000, currency: 'USD', referenceId: 'CB1', at: at(16) },
  { id: 'WD1', code: 'T0400', dc: 'DR', grossMinor: 10000, currency: 'USD', at: at(17) },
  { id: 'FX1', code: 'T0200', dc: 'DR', grossMinor: 3000, currency: 'USD', at: at(18) },
  { id: 'FX2', code: 'T0200', dc: 'CR', grossMinor: 4000, currency: 'JPY', at: at(18) },
  { id: 'REF9', code: 'T1107', dc: 'DR', grossMinor: 500, currency: 'USD', referenceId: 'CAP1', at: at(19) },
  { id: 'CAP9', code: 'T0006', dc: 'CR', grossMinor: 1200, currency: 'USD', at: at(20) },
  {
    id: 'CAPJ',
    code: 'T0006',
    dc: 'CR',
    grossMinor: 1999,
    currency: 'JPY',
    feeDc: 'DR',
    feeMinor: 80,
    at: at(21),
  },
];
const period = { from: '2026/11/20', to: '2026/11/20' };

describe('PayPal STL', () => {
  it('reads T-codes with their direction: payments received, money sent, refunds, chargebacks and their reversals, fees, withdrawals, conversions', async () => {
    await h.seed([
      entry('CAP1', 'payment', 5000, at(12)),
      entry('REF1', 'refund', 1000, at(14)),
      entry('CB1', 'reversal', 5000, at(15)),
      entry('CBR1', 'reinstatement', 5000, at(16)),
      entry('CAPJ', 'payment', 1999, at(21), 'JPY'),
    ]);
    const report = await h.reconcile('incoming/paypal/STL-20261120.01.009.CSV', utf8(stl(rows, period)));
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary).toMatchObject({
      status: 'complete',
      counts: { matched: 5, ignored: 5, unmatched_refund: 1, missing_in_ledger: 1, amount_mismatch: 0 },
    });
    // 50 − 10 − 50 + 50 − 5 + 12 settled; 50 − 10 − 50 + 50 in the ledger.
    expect(report.summary.totals.USD).toMatchObject({ settlementGrossMinor: 4700, ledgerGrossMinor: 4000 });
    expect(report.summary.totals.JPY).toMatchObject({
      settlementGrossMinor: 1999,
      ledgerGrossMinor: 1999,
      feesMinor: 80,
    });
    expect(byCategory(report, 'unmatched_refund').get('REF9')).toMatchObject({
      settlement_amount_minor: '-500',
    });
    const notes = report.summary.notes.join('\n');
    expect(notes).toMatch(/T0000 debit \(.*money the merchant sent\)/);
    expect(notes).toMatch(/T0106 debit \(fee-only/);
    expect(notes).toMatch(/T0400 debit \(withdrawal/);
    expect(notes).toMatch(/T0200 debit \(currency conversion/);
    expect(notes).toMatch(/T0200 credit \(currency conversion/);
  });

  it('accepts SC/RC/FF counting every row of their scope, the other reading of the spec', async () => {
    const report = await h.reconcile(
      'incoming/paypal/STL-20261120.02.009.CSV',
      utf16le(stl(rows, { ...period, counts: 'all' })),
    );
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary.status).toBe('complete');
  });

  it('checks SF in the spec order (gross credit, gross debit, fee credit, fee debit)', async () => {
    // The USD totals with credit and debit swapped: what a reader of another column order would write.
    const report = await h.reconcile(
      'incoming/paypal/STL-20261120.03.009.CSV',
      utf8(stl(rows, { ...period, sf: { USD: [23500, 11200, 175, 30] } })),
    );
    expect(report.summary.status).toBe('incomplete');
    expect(report.summary.reasons.join('\n')).toMatch(/SF USD: gross credit total 235\.00 ≠ 112\.00/);
  });
});
