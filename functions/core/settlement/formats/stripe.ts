/**
 * Stripe itemized balance / payout reconciliation CSV (`balance.itemized.*`, `payout_reconciliation.itemized.*`,
 * docs.stripe.com/reports/report-types). Amounts in major units of the lower-case `currency`, signed as
 * they move the balance (refunds and disputes negative), `.` or the report's `decimal_separator` `,`;
 * `created_utc` in UTC, or only `created`, in the timezone the report was run with.
 */
import { type Currency, exponent } from '../../money.ts';
import { FieldScanner, resolveColumns, splitFields } from '../csv.ts';
import { SettlementFormatError, SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import {
  currencyOf,
  decimalPoint,
  isoUtcOf,
  isPlainUtcAt,
  minorOf,
  opt,
  simpleMinor2At,
  ZonedReader,
} from '../values.ts';
import { checkConservation, type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  balanceTransactionId: ['balance_transaction_id'],
  createdUtc: ['created_utc'],
  created: ['created'],
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
const REQUIRED: Key[] = ['balanceTransactionId', 'currency', 'gross', 'fee', 'net', 'reportingCategory'];
/** Columns that name something the ledger keeps; the Dashboard's default column set has none. */
const ID_COLUMNS = ['source_id', 'charge_id', 'payment_intent_id'] as const;

/**
 * Every `reporting_category` of Stripe's reference table (docs.stripe.com/reports/reporting-categories,
 * "Reporting categories reference"), with what it does here. Ledger kinds carry their sign
 * (`KIND_SIGN`); the others are no customer transaction and are noted once per category.
 */
const CATEGORIES: ReadonlyMap<string, { kind: RowKind; means: string }> = new Map([
  ['charge', { kind: 'payment', means: 'a payment (card or other method)' }],
  ['payment', { kind: 'payment', means: 'a payment (older name of charge)' }],
  ['refund', { kind: 'refund', means: 'a refund of a charge' }],
  ['refund_failure', { kind: 'refund_failed', means: 'a refund that failed: its money came back' }],
  ['dispute', { kind: 'reversal', means: 'funds withdrawn for a dispute' }],
  ['dispute_reversal', { kind: 'reinstatement', means: 'a dispute won: funds reinstated' }],
  [
    'partial_capture_reversal',
    { kind: 'capture_reversal', means: 'the uncaptured part of a separately captured charge' },
  ],
  ['charge_failure', { kind: 'reversal', means: 'a charge that failed after it was credited' }],
  ['payout', { kind: 'ignored', means: 'payouts to the bank account' }],
  ['payout_reversal', { kind: 'ignored', means: 'payouts that came back' }],
  ['transfer', { kind: 'ignored', means: 'Connect transfers' }],
  ['transfer_reversal', { kind: 'ignored', means: 'Connect transfer reversals' }],
  ['fee', { kind: 'ignored', means: 'Stripe fees billed on their own' }],
  ['tax', { kind: 'ignored', means: 'taxes on Stripe fees' }],
  ['other_adjustment', { kind: 'ignored', means: 'other balance adjustments' }],
  ['topup', { kind: 'ignored', means: 'top-ups of the balance' }],
  ['topup_reversal', { kind: 'ignored', means: 'top-up reversals' }],
  ['platform_earning', { kind: 'ignored', means: 'Connect platform fees earned' }],
  ['platform_earning_refund', { kind: 'ignored', means: 'Connect platform fees refunded' }],
  ['connect_collection_transfer', { kind: 'ignored', means: 'Connect collection transfers' }],
  ['connect_reserved_funds', { kind: 'ignored', means: 'Connect reserved funds' }],
  ['risk_reserved_funds', { kind: 'ignored', means: 'funds held in a risk reserve' }],
  ['advance', { kind: 'ignored', means: 'instant payout advances' }],
  ['advance_funding', { kind: 'ignored', means: 'advance funding' }],
  ['anticipation_repayment', { kind: 'ignored', means: 'anticipation repayments' }],
  ['financing_paydown', { kind: 'ignored', means: 'Capital financing paydowns' }],
  ['financing_payout', { kind: 'ignored', means: 'Capital financing payouts' }],
  ['issuing_authorization_hold', { kind: 'ignored', means: 'Issuing authorisation holds' }],
  ['issuing_authorization_release', { kind: 'ignored', means: 'Issuing authorisation releases' }],
  ['issuing_dispute', { kind: 'ignored', means: 'Issuing disputes' }],
  ['issuing_transaction', { kind: 'ignored', means: 'Issuing card transactions' }],
  ['network_cost', { kind: 'ignored', means: 'card network costs' }],
  ['contribution', { kind: 'ignored', means: 'Climate contributions' }],
  ['unreconciled_customer_funds', { kind: 'ignored', means: 'customer funds not yet reconciled' }],
]);

/** The timezone Stripe's own report uses when none was chosen, and our default (CONTRACT §5). */
export const DEFAULT_STRIPE_REPORT_TIMEZONE = 'UTC';

const EMPTY_AS_ZERO = { emptyAsZero: true } as const;

/**
 * Unique, non-empty ids in the given order: `idList` of values.ts without its rest-parameter array,
 * `push` growth or `includes` calls (this runs once per row). An id is kept when it differs from
 * every earlier argument: an earlier one that was not kept is empty or equals one that was.
 */
function references(
  a: string | undefined,
  b: string | undefined,
  c: string | undefined,
  d: string | undefined,
  e: string | undefined,
  f: string | undefined,
): string[] {
  const ka = !!a;
  const kb = !!b && b !== a;
  const kc = !!c && c !== a && c !== b;
  const kd = !!d && d !== a && d !== b && d !== c;
  const ke = !!e && e !== a && e !== b && e !== c && e !== d;
  const kf = !!f && f !== a && f !== b && f !== c && f !== d && f !== e;
  const out: string[] = new Array(+ka + +kb + +kc + +kd + +ke + +kf);
  let n = 0;
  if (ka) out[n++] = a!;
  if (kb) out[n++] = b!;
  if (kc) out[n++] = c!;
  if (kd) out[n++] = d!;
  if (ke) out[n++] = e!;
  if (kf) out[n++] = f!;
  return out;
}

/** Seconds of the day of `HH:MM:SS` after a ` ` or `T` at `i` (ASCII digits, in range); -1 otherwise. */
function secondOfDayAt(text: string, i: number): number {
  const sep = text.charCodeAt(i);
  if ((sep !== 32 && sep !== 84) || text.charCodeAt(i + 3) !== 58 || text.charCodeAt(i + 6) !== 58) return -1;
  const h1 = text.charCodeAt(i + 1) - 48;
  const h2 = text.charCodeAt(i + 2) - 48;
  const m1 = text.charCodeAt(i + 4) - 48;
  const m2 = text.charCodeAt(i + 5) - 48;
  const s1 = text.charCodeAt(i + 7) - 48;
  const s2 = text.charCodeAt(i + 8) - 48;
  // Unsigned compares: a character below '0' wraps to a large number.
  if (h1 >>> 0 > 2 || h2 >>> 0 > 9 || m1 >>> 0 > 5 || m2 >>> 0 > 9 || s1 >>> 0 > 5 || s2 >>> 0 > 9) return -1;
  const hour = h1 * 10 + h2;
  if (hour > 23) return -1;
  return hour * 3600 + (m1 * 10 + m2) * 60 + s1 * 10 + s2;
}

const SECONDS_PER_DAY = 86_400;

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
  /** `YYYY-MM-DD` of the last plain `created_utc` (a valid date), and `YYYY-MM-DDT` built from it. */
  private day = '';
  private dayT = '';
  /**
   * `settledAt` strings of that day by second: rows share seconds (a 1M-row day has at most 86,400),
   * so each string is built once, not once per row. `stamps[s] === generation` says
   * `times[s]` belongs to the current day; a new day bumps the generation instead of clearing.
   */
  private times: string[] | undefined;
  private stamps: Int32Array | undefined;
  private generation = 0;
  /** Set when the file has `created` but no `created_utc`. */
  private zoned: ZonedReader | undefined;

  constructor(private readonly timeZone: string = DEFAULT_STRIPE_REPORT_TIMEZONE) {}

  record(text: string, line: number): ParsedItem | undefined {
    if (!this.cols) {
      const cols = resolveColumns(
        splitFields(text),
        COLUMNS,
        REQUIRED,
        'Stripe itemized reconciliation report',
        line,
      );
      if (cols.sourceId < 0 && cols.chargeId < 0 && cols.paymentIntentId < 0) {
        throw new SettlementFormatError(
          `the report has no column that names a payment, refund or dispute, so nothing can be matched with the ledger: add ${ID_COLUMNS.join(', ')} to the export (Dashboard → Reports → Columns; the default column set has none of them)`,
          { line },
        );
      }
      if (cols.createdUtc < 0) {
        if (cols.created < 0) {
          throw new SettlementFormatError(
            'the report has neither created_utc nor created: add created_utc to the export',
            { line },
          );
        }
        this.zoned = new ZonedReader(this.timeZone);
      }
      this.cols = cols;
      return undefined;
    }
    const f = this.fields;
    f.scan(text);
    const c = this.cols;
    const balanceTransactionId = f.field(c.balanceTransactionId);
    try {
      return this.row(c, line, balanceTransactionId);
    } catch (err) {
      return rejected(line, err, this.optAt(c.sourceId) ?? opt(balanceTransactionId));
    }
  }

  private optAt(i: number): string | undefined {
    return i < 0 ? undefined : opt(this.fields.field(i));
  }

  private row(c: Record<Key, number>, line: number, balanceTransactionId: string): SettlementRow {
    const f = this.fields;
    let category: string;
    let kind: RowKind;
    let means: string | undefined;
    if (f.equals(c.reportingCategory, 'charge')) {
      category = 'charge';
      kind = 'payment';
    } else {
      category = f.field(c.reportingCategory);
      if (category === '') throw new SettlementRowError('reporting_category is empty');
      const known = CATEGORIES.get(category);
      kind = known?.kind ?? 'ignored';
      means = known?.means;
    }
    const currency = this.currencyAt(c.currency);
    const grossMinor = this.minorAt(c.gross, currency, 'gross', undefined);
    const feeMinor = this.minorAt(c.fee, currency, 'fee', EMPTY_AS_ZERO);
    const netMinor = this.minorAt(c.net, currency, 'net', undefined);
    checkConservation(grossMinor, feeMinor, netMinor);
    const settledAt = this.zoned
      ? this.zoned.iso(f.field(c.created), 'created')
      : this.settledAt(c.createdUtc);
    const sourceId = this.optAt(c.sourceId);
    const paymentIntentId = this.optAt(c.paymentIntentId);
    const orderId = this.optAt(c.orderId);
    const chargeId = this.optAt(c.chargeId);
    // The ledger keys a payment by its payment intent (pi_…), a refund (and its failure) by re_…, a
    // dispute (and its reversal) by dp_…: for charges the source is the charge (ch_/py_), kept as a
    // reference (the ledger has latest_charge). A failed charge takes back its payment intent's payment.
    const chargeSide = kind === 'payment' || (kind === 'reversal' && category === 'charge_failure');
    const transactionId = chargeSide ? (paymentIntentId ?? sourceId ?? chargeId) : sourceId;
    const refundOf = kind === 'payment' || kind === 'ignored' ? undefined : (paymentIntentId ?? chargeId);
    let fx: SettlementRow['fx'];
    if (kind !== 'ignored' && !f.isBlank(c.customerFacingAmount)) {
      const cfAmountRaw = f.field(c.customerFacingAmount);
      const cfCurrencyRaw = f.field(c.customerFacingCurrency);
      const cfCurrency = cfCurrencyRaw ? currencyOf(cfCurrencyRaw, 'customer_facing_currency') : currency;
      fx = {
        amountMinor: minorOf(decimalPoint(cfAmountRaw), cfCurrency, 'customer_facing_amount'),
        currency: cfCurrency,
      };
    }
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
      ignoredBecause:
        kind === 'ignored'
          ? means
            ? `reporting_category ${category} (${means}) is no customer transaction`
            : `reporting_category ${category} is not in Stripe's reference table we read`
          : undefined,
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
    return minorOf(decimalPoint(f.field(i)), currency, column, opts);
  }

  /** isoUtcOf(field(i), 0, 'created_utc'), built in place for `YYYY-MM-DD HH:MM:SS`. */
  private settledAt(i: number): string {
    const f = this.fields;
    const s = f.plainStart(i);
    if (s >= 0 && f.end(i) - s === 19) {
      const text = f.text;
      if (this.day === '' || !text.startsWith(this.day, s)) {
        // A new day: checked whole once; later rows of the day check their time only.
        if (!isPlainUtcAt(text, s)) return isoUtcOf(f.field(i), 0, 'created_utc');
        this.day = text.slice(s, s + 10);
        this.dayT = `${this.day}T`;
        this.generation++;
      }
      const second = secondOfDayAt(text, s + 10);
      if (second >= 0) {
        if (!this.times || !this.stamps) {
          this.times = new Array(SECONDS_PER_DAY);
          this.stamps = new Int32Array(SECONDS_PER_DAY);
        }
        if (this.stamps[second] === this.generation) return this.times[second]!;
        const iso = `${this.dayT}${text.slice(s + 11, s + 19)}.000Z`;
        this.times[second] = iso;
        this.stamps[second] = this.generation;
        return iso;
      }
    }
    return isoUtcOf(f.field(i), 0, 'created_utc');
  }

  finish(): FormatTrailer {
    const notes = this.zoned
      ? [
          `the file has created but no created_utc: its times were read in ${this.zoned.timeZone} (STRIPE_REPORT_TIMEZONE), the timezone the report is assumed to have been run with`,
        ]
      : [];
    return { reasons: [], notes };
  }
}
