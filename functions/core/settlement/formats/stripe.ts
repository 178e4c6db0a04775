/**
 * Stripe itemized balance / payout reconciliation CSV (`balance.itemized.*`, `payout_reconciliation.itemized.*`).
 * Amounts in major units of the lower-case `currency`; refunds and disputes negative; `created_utc` UTC.
 */
import { type Currency, exponent } from '../../money.ts';
import { FieldScanner, resolveColumns, splitFields } from '../csv.ts';
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import { currencyOf, isoUtcOf, isPlainUtcAt, minorOf, opt, ownValue, simpleMinor2At } from '../values.ts';
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

const EMPTY_AS_ZERO = { emptyAsZero: true } as const;

/**
 * Unique, non-empty ids in the given order: `idList` of values.ts without its rest-parameter array
 * (this runs once per row).
 */
function references(
  a: string | undefined,
  b: string | undefined,
  c: string | undefined,
  d: string | undefined,
  e: string | undefined,
  f: string | undefined,
): string[] {
  const out: string[] = [];
  if (a) out.push(a);
  if (b && b !== a) out.push(b);
  if (c && !out.includes(c)) out.push(c);
  if (d && !out.includes(d)) out.push(d);
  if (e && !out.includes(e)) out.push(e);
  if (f && !out.includes(f)) out.push(f);
  return out;
}

/**
 * Reads rows in place with a {@link FieldScanner}: only the columns a row needs become strings
 * (the quoted description never does), amounts are read from the text as integers, and the
 * currency and the day of `created_utc` are remembered from the previous row. Every value, check
 * and error message is the one `field(splitFields(text), i)` and the values.ts readers give.
 */
export class StripeParser implements FormatParser {
  readonly format = 'stripe' as const;
  readonly dayOffsetMinutes = 0;
  private cols: Record<Key, number> | undefined;
  private readonly fields = new FieldScanner();
  /** The last currency field read (trimmed) and what it is: rows of a file share one or two. */
  private currencyRaw = '';
  private currency: Currency | undefined;
  /** `YYYY-MM-DD` of the last plain `created_utc`, and `YYYY-MM-DDT` built from it. */
  private day = '';
  private dayT = '';

  record(text: string, line: number): ParsedItem | undefined {
    if (!this.cols) {
      this.cols = resolveColumns(
        splitFields(text),
        COLUMNS,
        REQUIRED,
        'Stripe itemized reconciliation report',
        line,
      );
      return undefined;
    }
    const f = this.fields;
    f.scan(text);
    const c = this.cols;
    const balanceTransactionId = f.field(c.balanceTransactionId);
    try {
      return this.row(c, line, balanceTransactionId);
    } catch (err) {
      return rejected(line, err, opt(f.field(c.sourceId)) ?? opt(balanceTransactionId));
    }
  }

  private row(c: Record<Key, number>, line: number, balanceTransactionId: string): SettlementRow {
    const f = this.fields;
    let category: string;
    let kind: RowKind;
    if (f.equals(c.reportingCategory, 'charge')) {
      category = 'charge';
      kind = 'payment';
    } else {
      category = f.field(c.reportingCategory);
      if (category === '') throw new SettlementRowError('reporting_category is empty');
      kind = ownValue(KINDS, category) ?? 'ignored';
    }
    const currency = this.currencyAt(c.currency);
    const grossMinor = this.minorAt(c.gross, currency, 'gross', undefined);
    const feeMinor = this.minorAt(c.fee, currency, 'fee', EMPTY_AS_ZERO);
    const netMinor = this.minorAt(c.net, currency, 'net', undefined);
    checkConservation(grossMinor, feeMinor, netMinor);
    const settledAt = this.settledAt(c.createdUtc);
    const sourceId = opt(f.field(c.sourceId));
    const paymentIntentId = opt(f.field(c.paymentIntentId));
    const orderId = opt(f.field(c.orderId));
    // The ledger keys a payment by its payment intent (pi_…), a refund by re_…, a dispute by dp_…:
    // for charges the source is the charge (ch_/py_), kept as a reference (the ledger has latest_charge).
    const transactionId = kind === 'payment' ? (paymentIntentId ?? sourceId) : sourceId;
    const refundOf = kind === 'refund' || kind === 'reversal' ? paymentIntentId : undefined;
    let fx: SettlementRow['fx'];
    if (kind !== 'ignored' && !f.isBlank(c.customerFacingAmount)) {
      const cfAmountRaw = f.field(c.customerFacingAmount);
      const cfCurrencyRaw = f.field(c.customerFacingCurrency);
      const cfCurrency = cfCurrencyRaw ? currencyOf(cfCurrencyRaw, 'customer_facing_currency') : currency;
      fx = { amountMinor: minorOf(cfAmountRaw, cfCurrency, 'customer_facing_amount'), currency: cfCurrency };
    }
    const chargeId = c.chargeId < 0 ? undefined : opt(f.field(c.chargeId));
    // One object literal, absent fields as undefined: conditional spreads cost ~1 s per 1M rows.
    return {
      line,
      kind,
      references: references(
        transactionId,
        sourceId,
        paymentIntentId,
        chargeId,
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

  /** currencyOf(field(i), 'currency'), remembering the last one read. */
  private currencyAt(i: number): Currency {
    if (this.currency !== undefined && this.fields.equals(i, this.currencyRaw)) return this.currency;
    const raw = this.fields.field(i);
    const currency = currencyOf(raw, 'currency');
    this.currencyRaw = raw;
    this.currency = currency;
    return currency;
  }

  /** minorOf(field(i), …), read in place for the plain 2-decimal amounts nearly every row has. */
  private minorAt(
    i: number,
    currency: Currency,
    column: string,
    opts: { emptyAsZero?: boolean } | undefined,
  ): number {
    const f = this.fields;
    const s = f.plainStart(i);
    if (s >= 0 && exponent(currency) === 2) {
      const minor = simpleMinor2At(f.text, s, f.end(i));
      if (!Number.isNaN(minor)) return minor;
    }
    return minorOf(f.field(i), currency, column, opts);
  }

  /** isoUtcOf(field(i), 0, 'created_utc'), built in place for `YYYY-MM-DD HH:MM:SS`. */
  private settledAt(i: number): string {
    const f = this.fields;
    const s = f.plainStart(i);
    if (s >= 0 && f.end(i) - s === 19 && isPlainUtcAt(f.text, s)) {
      const text = f.text;
      if (!text.startsWith(this.day, s) || this.day === '') {
        this.day = text.slice(s, s + 10);
        this.dayT = `${this.day}T`;
      }
      return `${this.dayT}${text.slice(s + 11, s + 19)}.000Z`;
    }
    return isoUtcOf(f.field(i), 0, 'created_utc');
  }

  finish(): FormatTrailer {
    return { reasons: [], notes: [] };
  }
}
