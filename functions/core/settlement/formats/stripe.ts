/**
 * Stripe itemized balance / payout reconciliation CSV (`balance.itemized.*`, `payout_reconciliation.itemized.*`).
 * Amounts in major units of the lower-case `currency`; refunds and disputes negative; `created_utc` UTC.
 */
import { field, resolveColumns, splitFields } from '../csv.ts';
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import { currencyOf, idList, isoUtcOf, minorOf, opt } from '../values.ts';
import { checkConservation, type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  balanceTransactionId: ['balance_transaction_id'],
  createdUtc: ['created_utc', 'created'],
  currency: ['currency'],
  gross: ['gross'],
  fee: ['fee'],
  net: ['net'],
  reportingCategory: ['reporting_category'],
  sourceId: ['source_id'],
  paymentIntentId: ['payment_intent_id'],
  chargeId: ['charge_id'],
  customerFacingAmount: ['customer_facing_amount'],
  customerFacingCurrency: ['customer_facing_currency'],
  orderId: ['payment_metadata[order_id]', 'metadata[order_id]', 'order_id'],
} as const;
type Key = keyof typeof COLUMNS;
const REQUIRED: Key[] = [
  'balanceTransactionId',
  'createdUtc',
  'currency',
  'gross',
  'fee',
  'net',
  'reportingCategory',
  'sourceId',
];

/** Stripe's reporting categories we act on; every other one (payout, fee, transfer, …) is ignored. */
const KINDS: Record<string, RowKind> = { charge: 'payment', refund: 'refund', dispute: 'reversal' };

export class StripeParser implements FormatParser {
  readonly format = 'stripe' as const;
  readonly dayOffsetMinutes = 0;
  private cols: Record<Key, number> | undefined;

  record(text: string, line: number): ParsedItem | undefined {
    const fields = splitFields(text);
    if (!this.cols) {
      this.cols = resolveColumns(fields, COLUMNS, REQUIRED, 'Stripe itemized reconciliation report', line);
      return undefined;
    }
    const c = this.cols;
    const balanceTransactionId = field(fields, c.balanceTransactionId);
    try {
      return this.row(fields, c, line, balanceTransactionId);
    } catch (err) {
      return rejected(line, err, opt(field(fields, c.sourceId)) ?? opt(balanceTransactionId));
    }
  }

  private row(
    fields: string[],
    c: Record<Key, number>,
    line: number,
    balanceTransactionId: string,
  ): SettlementRow {
    const category = field(fields, c.reportingCategory);
    if (category === '') throw new SettlementRowError('reporting_category is empty');
    const kind = KINDS[category] ?? 'ignored';
    const currency = currencyOf(field(fields, c.currency), 'currency');
    const grossMinor = minorOf(field(fields, c.gross), currency, 'gross');
    const feeMinor = minorOf(field(fields, c.fee), currency, 'fee', { emptyAsZero: true });
    const netMinor = minorOf(field(fields, c.net), currency, 'net');
    checkConservation(grossMinor, feeMinor, netMinor);
    const settledAt = isoUtcOf(field(fields, c.createdUtc), 0, 'created_utc');
    const sourceId = opt(field(fields, c.sourceId));
    const paymentIntentId = opt(field(fields, c.paymentIntentId));
    const orderId = opt(field(fields, c.orderId));
    // The ledger keys a payment by its payment intent (pi_…), a refund by re_…, a dispute by dp_…:
    // for charges the source is the charge (ch_/py_), kept as a reference (the ledger has latest_charge).
    const transactionId = kind === 'payment' ? (paymentIntentId ?? sourceId) : sourceId;
    const refundOf = kind === 'refund' || kind === 'reversal' ? paymentIntentId : undefined;
    const cfCurrencyRaw = field(fields, c.customerFacingCurrency);
    const cfAmountRaw = field(fields, c.customerFacingAmount);
    let fx: SettlementRow['fx'];
    if (kind !== 'ignored' && cfAmountRaw !== '') {
      const cfCurrency = cfCurrencyRaw ? currencyOf(cfCurrencyRaw, 'customer_facing_currency') : currency;
      fx = { amountMinor: minorOf(cfAmountRaw, cfCurrency, 'customer_facing_amount'), currency: cfCurrency };
    }
    // One object literal, absent fields as undefined: conditional spreads cost ~1 s per 1M rows.
    return {
      line,
      kind,
      references: idList(
        transactionId,
        sourceId,
        paymentIntentId,
        opt(field(fields, c.chargeId)),
        balanceTransactionId,
        orderId,
      ),
      transactionId,
      orderId,
      refundOf,
      currency,
      grossMinor,
      feeMinor,
      netMinor,
      settledAt,
      fx,
      sourceType: category,
    };
  }

  finish(): FormatTrailer {
    return { reasons: [], notes: [] };
  }
}
