/**
 * The Stripe parser reads rows in place (field scanner, amounts from the text, `created_utc` strings
 * cached per second of the day, references without `includes`). This pins it to the plain readers:
 * every record of a generated file (quotes, embedded commas, odd decimals and dates, blank and
 * duplicated ids, days changing between rows) parses to exactly what splitFields, field, minorOf,
 * isoUtcOf and idList give, or is rejected with the same reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { field, splitFields } from '../../../functions/core/settlement/csv.ts';
import { SettlementRowError } from '../../../functions/core/settlement/errors.ts';
import { checkConservation } from '../../../functions/core/settlement/formats/format.ts';
import { StripeParser } from '../../../functions/core/settlement/formats/stripe.ts';
import type { ParsedItem } from '../../../functions/core/settlement/types.ts';
import {
  currencyOf,
  decimalPoint,
  idList,
  isoUtcOf,
  minorOf,
  opt,
} from '../../../functions/core/settlement/values.ts';
import { STRIPE_ITEMIZED_COLUMNS } from '../../fixtures/settlement/published.ts';

/** The published itemized report's columns (its column order), without those no reader here uses. */
const UNUSED = new Set(['created', 'available_on_utc', 'available_on', 'automatic_payout_id']);
const HEADER: readonly string[] = STRIPE_ITEMIZED_COLUMNS.filter((c) => !UNUSED.has(c));

/** A cell as a file may write it: bare, padded, or quoted (with `""` escapes). */
const cell = (values: string[]) =>
  fc
    .tuple(fc.constantFrom(...values), fc.constantFrom('bare', 'bare', 'bare', 'padded', 'quoted'))
    .map(([v, how]) => (how === 'padded' ? ` ${v}\t` : how === 'quoted' ? `"${v.replace(/"/g, '""')}"` : v));

const day = fc.constantFrom(
  '2026-11-23',
  '2026-11-24',
  '2028-02-29',
  '2026-02-29',
  '2026-13-01',
  '2026-1a-23',
);
const time = fc.constantFrom(
  '00:00:00',
  '10:00:00',
  '23:59:59',
  '24:00:00',
  '12:60:00',
  '12:00:60',
  '1a:00:00',
);
const created = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(day, fc.constantFrom(' ', 'T', '  ', '/'), time).map((p) => p.join('')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '2026-11-23 10:00:00.123',
      '2026-11-23T10:00:00Z',
      '2026/11/23 10:00:00',
      '2026-11-23',
      '2026-11-23 10:00',
      '2026-11-23 10:00:00 +0100',
    ),
  },
);
const amount = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -200_000, max: 200_000 }).map((m) => (m / 100).toFixed(2)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '1',
      '1.5',
      '-0.00',
      '0.001',
      '+1.00',
      '1e3',
      '1,50',
      '.5',
      '１',
      '12345678901234.00',
    ),
  },
);

const row = fc
  .record({
    txn: cell(['txn_1', 'txn_2', '', 'pi_1']),
    created,
    currency: cell(['usd', 'usd', 'USD', 'eur', 'jpy', 'xxx', '']),
    gross: amount,
    fee: amount,
    net: amount,
    category: cell(['charge', 'charge', 'refund', 'payout', 'dispute', 'charge_failure', 'weird', '']),
    source: cell(['ch_1', 'pi_1', 're_1', '', 'txn_1']),
    description: cell(['Order O-1, "tea set"', 'plain', '', 'a,b,,c']),
    cfAmount: fc.constantFrom('', '', '', '1.00', 'x'),
    cfCurrency: fc.constantFrom('', 'eur', 'xxx'),
    pi: cell(['pi_1', 'pi_2', '', 'ch_1']),
    charge: cell(['ch_1', '', 'pi_1']),
    order: cell(['O-1', '', 'pi_1', 'txn_1']),
    balanced: fc.boolean(),
  })
  .map((r) => {
    // Mostly rows whose amounts add up, so the later checks are reached.
    let net = r.net;
    if (r.balanced && /^-?\d+\.\d\d$/.test(r.gross) && /^-?\d+\.\d\d$/.test(r.fee)) {
      net = ((Math.round(Number(r.gross) * 100) - Math.round(Number(r.fee) * 100)) / 100).toFixed(2);
    }
    return [
      r.txn,
      r.created,
      r.currency,
      r.gross,
      r.fee,
      net,
      r.category,
      r.source,
      r.description,
      r.cfAmount,
      r.cfCurrency,
      r.pi,
      r.charge,
      r.order,
    ].join(',');
  });

const KINDS: Record<string, string> = {
  charge: 'payment',
  refund: 'refund',
  dispute: 'reversal',
  charge_failure: 'reversal',
};

/** The row as the plain readers read it: one field array, each value through values.ts. */
function plain(text: string, line: number): ParsedItem {
  const f = splitFields(text);
  const col = (name: string) => field(f, HEADER.indexOf(name));
  const txn = col('balance_transaction_id');
  try {
    const category = col('reporting_category');
    if (category === '') throw new SettlementRowError('reporting_category is empty');
    const kind: string = KINDS[category] ?? 'ignored';
    const currency = currencyOf(col('currency'), 'currency');
    const grossMinor = minorOf(decimalPoint(col('gross')), currency, 'gross');
    const feeMinor = minorOf(decimalPoint(col('fee')), currency, 'fee', { emptyAsZero: true });
    const netMinor = minorOf(decimalPoint(col('net')), currency, 'net');
    checkConservation(grossMinor, feeMinor, netMinor);
    const settledAt = isoUtcOf(col('created_utc'), 0, 'created_utc');
    const sourceId = opt(col('source_id'));
    const pi = opt(col('payment_intent_id'));
    const chargeId = opt(col('charge_id'));
    const orderId = opt(col('payment_metadata[order_id]'));
    const chargeSide = kind === 'payment' || category === 'charge_failure';
    const transactionId = chargeSide ? (pi ?? sourceId ?? chargeId) : sourceId;
    let fx: { amountMinor: number; currency: string } | undefined;
    if (kind !== 'ignored' && col('customer_facing_amount') !== '') {
      const cfCurrencyRaw = col('customer_facing_currency');
      const cfCurrency = cfCurrencyRaw ? currencyOf(cfCurrencyRaw, 'customer_facing_currency') : currency;
      const cfAmount = decimalPoint(col('customer_facing_amount'));
      fx = { amountMinor: minorOf(cfAmount, cfCurrency, 'customer_facing_amount'), currency: cfCurrency };
    }
    return {
      line,
      kind,
      references: idList(transactionId, sourceId, pi, chargeId, txn, orderId),
      transactionId,
      orderId,
      currency,
      grossMinor,
      feeMinor,
      netMinor,
      settledAt,
      refundOf: kind === 'payment' || kind === 'ignored' ? undefined : (pi ?? chargeId),
      fx,
      sourceType: category,
    } as ParsedItem;
  } catch (err) {
    if (!(err instanceof SettlementRowError)) throw err;
    const id = opt(col('source_id')) ?? opt(txn);
    return id
      ? { kind: 'rejected', line, reason: err.message, transactionId: id }
      : { kind: 'rejected', line, reason: err.message };
  }
}

describe('Stripe rows read in place', () => {
  it('read as the plain readers read them, row after row', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 40 }), (lines) => {
        const parser = new StripeParser();
        expect(parser.record(HEADER.join(','), 1)).toBeUndefined();
        lines.forEach((text, i) => {
          const got = parser.record(text, i + 2)!;
          const want = plain(text, i + 2);
          if (want.kind === 'rejected' || got.kind === 'rejected') {
            expect(got).toEqual(want);
            return;
          }
          expect(got).toMatchObject(want);
          // toMatchObject allows a longer array: the references must be exactly these.
          expect(got.references).toEqual(want.references);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
