/**
 * Stripe itemized balance reports as Stripe writes them (test/fixtures/settlement/published.ts names
 * the documents), through the real reconcile handler: every documented reporting_category with its
 * meaning and sign, partial captures netted, comma decimals, `created` read in the configured zone,
 * and the Dashboard's default column set refused with the columns to add.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ledgerEntry } from '../../fixtures/settlement/ledger.ts';
import {
  STRIPE_DASHBOARD_DEFAULT_COLUMNS,
  STRIPE_ITEMIZED_COLUMNS,
  type StripeActivity,
  stripeReport,
} from '../../fixtures/settlement/published.ts';
import { byCategory, Harness } from './harness.ts';

const NOW = new Date('2026-11-26T09:00:00.000Z');
let h: Harness;
beforeAll(async () => {
  h = await Harness.create(NOW);
});

const entry = (transactionId: string, kind: string, amountMinor: number, receivedAt: string) =>
  ledgerEntry({
    gateway: 'stripe',
    transactionId,
    kind: kind as 'payment',
    amountMinor,
    currency: 'USD',
    receivedAt,
  });

describe('Stripe reporting categories', () => {
  const at = (hh: number) => `2026-11-23T${String(hh).padStart(2, '0')}:00:00.000Z`;
  const rows: StripeActivity[] = [
    {
      category: 'charge',
      sourceId: 'ch_A',
      paymentIntentId: 'pi_A',
      currency: 'USD',
      grossMinor: 10000,
      feeMinor: 320,
      at: at(1),
      orderId: 'O-A',
    },
    // Authorised at 200.00, captured at 150.00: the uncaptured 50.00 comes back as its own row.
    {
      category: 'charge',
      sourceId: 'ch_B',
      paymentIntentId: 'pi_B',
      currency: 'USD',
      grossMinor: 20000,
      feeMinor: 610,
      at: at(2),
    },
    {
      category: 'partial_capture_reversal',
      sourceId: 'pyr_B',
      paymentIntentId: 'pi_B',
      chargeId: 'ch_B',
      currency: 'USD',
      grossMinor: -5000,
      feeMinor: 0,
      at: at(3),
    },
    // Its charge was settled in an earlier file: nothing to net with.
    {
      category: 'partial_capture_reversal',
      sourceId: 'pyr_Z',
      paymentIntentId: 'pi_Z',
      chargeId: 'ch_Z',
      currency: 'USD',
      grossMinor: -1000,
      feeMinor: 0,
      at: at(3),
    },
    {
      category: 'refund',
      sourceId: 're_C',
      paymentIntentId: 'pi_A',
      chargeId: 'ch_A',
      currency: 'USD',
      grossMinor: -3000,
      feeMinor: 0,
      at: at(4),
    },
    {
      category: 'refund_failure',
      sourceId: 're_C',
      paymentIntentId: 'pi_A',
      chargeId: 'ch_A',
      currency: 'USD',
      grossMinor: 3000,
      feeMinor: 0,
      at: at(5),
    },
    {
      category: 'dispute',
      sourceId: 'dp_D',
      paymentIntentId: 'pi_A',
      chargeId: 'ch_A',
      currency: 'USD',
      grossMinor: -10000,
      feeMinor: 1500,
      at: at(6),
    },
    {
      category: 'dispute_reversal',
      sourceId: 'dp_D',
      paymentIntentId: 'pi_A',
      chargeId: 'ch_A',
      currency: 'USD',
      grossMinor: 10000,
      feeMinor: -1500,
      at: at(7),
    },
    {
      category: 'charge_failure',
      sourceId: 'py_E',
      paymentIntentId: 'pi_E',
      currency: 'USD',
      grossMinor: -2000,
      feeMinor: 0,
      at: at(8),
    },
    {
      category: 'refund_failure',
      sourceId: 're_F',
      paymentIntentId: 'pi_A',
      currency: 'USD',
      grossMinor: 500,
      feeMinor: 0,
      at: at(9),
    },
    {
      category: 'dispute',
      sourceId: 'dp_G',
      paymentIntentId: 'pi_G',
      currency: 'USD',
      grossMinor: -4000,
      feeMinor: 1500,
      at: at(10),
    },
    { category: 'payout', sourceId: 'po_1', currency: 'USD', grossMinor: -50000, feeMinor: 0, at: at(11) },
    { category: 'fee', sourceId: 'fee_1', currency: 'USD', grossMinor: -200, feeMinor: 0, at: at(11) },
    { category: 'tax', sourceId: 'txr_1', currency: 'USD', grossMinor: -40, feeMinor: 0, at: at(11) },
    {
      category: 'other_adjustment',
      sourceId: 'adj_1',
      currency: 'USD',
      grossMinor: 75,
      feeMinor: 0,
      at: at(12),
    },
  ];

  it('gives each category its meaning and sign, in counts, totals, exceptions.csv and report.html', async () => {
    await h.seed([
      entry('pi_A', 'payment', 10000, at(1)),
      entry('pi_B', 'payment', 15000, at(2)),
      entry('re_C', 'refund', 3000, at(4)),
      entry('re_C', 'refund_failed', 3000, at(5)),
      entry('dp_D', 'reversal', 10000, at(6)),
      entry('dp_D', 'reinstatement', 10000, at(7)),
    ]);
    const report = await h.reconcile('incoming/stripe/itemized-2026-11-23.csv', stripeReport(rows));
    expect(report.summary.status).toBe('complete');
    expect(report.summary.counts).toMatchObject({
      matched: 6,
      amount_mismatch: 0,
      missing_in_ledger: 2,
      unmatched_refund: 1,
      missing_in_settlement: 0,
      ignored: 5,
    });
    // Settlement: 100 + (200 − 50) − 30 + 30 − 100 + 100 − 20 + 5 − 40; the lone capture reversal,
    // payouts, fees, tax and adjustments are no transaction. Ledger: 100 + 150 − 30 + 30 − 100 + 100.
    expect(report.summary.totals.USD).toMatchObject({
      settlementGrossMinor: 19500,
      ledgerGrossMinor: 25000,
      differenceMinor: 5500,
    });
    const missing = byCategory(report, 'missing_in_ledger');
    expect(missing.get('pi_E')).toMatchObject({ settlement_amount_minor: '-2000' });
    expect(missing.get('dp_G')).toMatchObject({ settlement_amount_minor: '-4000' });
    expect(byCategory(report, 'unmatched_refund').get('re_F')).toMatchObject({
      settlement_amount_minor: '500',
      note: expect.stringContaining('refund_failed'),
    });
    const notes = report.summary.notes.join('\n');
    for (const category of ['payout', 'fee', 'tax', 'other_adjustment']) {
      expect(notes).toMatch(new RegExp(`1 row\\(s\\) ignored: reporting_category ${category} \\(`));
    }
    expect(notes).toMatch(/partial capture reversal .*pi_Z/);
    expect(report.html).toContain('<td>refund failed</td>');
    expect(report.html).toContain('-20.00');
  });

  it('reads amounts written with the report decimal_separator ","', async () => {
    const day = (hh: number) => `2026-11-20T${String(hh).padStart(2, '0')}:00:00.000Z`;
    await h.seed([entry('pi_comma', 'payment', 123456, day(1)), entry('re_comma', 'refund', 456, day(2))]);
    const report = await h.reconcile(
      'incoming/stripe/comma.csv',
      stripeReport(
        [
          {
            category: 'charge',
            sourceId: 'ch_comma',
            paymentIntentId: 'pi_comma',
            currency: 'USD',
            grossMinor: 123456,
            feeMinor: 3610,
            at: day(1),
          },
          {
            category: 'refund',
            sourceId: 're_comma',
            paymentIntentId: 'pi_comma',
            currency: 'USD',
            grossMinor: -456,
            feeMinor: 0,
            at: day(2),
          },
        ],
        { decimalComma: true },
      ),
    );
    expect(report.summary).toMatchObject({
      status: 'complete',
      rows: { rejected: 0 },
      counts: { matched: 2 },
    });
    expect(report.summary.totals.USD).toMatchObject({ settlementGrossMinor: 123000, feesMinor: 3610 });
  });

  it('reads created without created_utc in STRIPE_REPORT_TIMEZONE and says so', async () => {
    // 22:30 on Nov 23 in New York is 03:30 UTC on Nov 24.
    const columns = STRIPE_ITEMIZED_COLUMNS.filter((c) => c !== 'created_utc' && c !== 'available_on_utc');
    const report = await h.reconcile(
      'incoming/stripe/new-york.csv',
      stripeReport(
        [
          {
            category: 'charge',
            sourceId: 'ch_ny',
            paymentIntentId: 'pi_ny',
            currency: 'USD',
            grossMinor: 5000,
            feeMinor: 175,
            at: '2026-11-24T03:30:00.000Z',
          },
        ],
        { columns, timeZone: 'America/New_York' },
      ),
      { STRIPE_REPORT_TIMEZONE: 'America/New_York' },
    );
    expect(report.summary.period).toEqual({
      from: '2026-11-24T00:00:00.000Z',
      to: '2026-11-25T00:00:00.000Z',
    });
    expect(byCategory(report, 'missing_in_ledger').get('pi_ny')).toMatchObject({
      settled_at: '2026-11-24T03:30:00.000Z',
    });
    expect(report.summary.notes.join('\n')).toMatch(/read in America\/New_York/);
  });

  it('fails a Dashboard default export and names the id columns to add', async () => {
    const report = await h.reconcile(
      'incoming/stripe/dashboard-default.csv',
      stripeReport(
        [
          {
            category: 'charge',
            currency: 'USD',
            grossMinor: 5000,
            feeMinor: 175,
            at: '2026-11-21T03:30:00.000Z',
          },
        ],
        { columns: STRIPE_DASHBOARD_DEFAULT_COLUMNS },
      ),
    );
    expect(report.summary.status).toBe('failed');
    expect(report.summary.reasons[0]).toMatch(/add source_id, charge_id, payment_intent_id to the export/);
  });
});
