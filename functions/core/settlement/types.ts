/**
 * The normalised shapes every settlement format parser produces, and the report vocabulary of
 * CONTRACT §5. Everything downstream of the parsers (matching, totals, reports) sees only these.
 */
import type { Currency } from '../money.ts';

/** The formats we read; anything but the four named gateways is `generic`. */
export type SettlementFormat = 'stripe' | 'paypal' | 'alipay' | 'wechatpay' | 'generic';

/**
 * What a row does to money: a ledger kind (`{gateway}#{transactionId}#{kind}`, signs in `KIND_SIGN`),
 * `capture_reversal` (the uncaptured part of a charge, netted with that charge before matching: Stripe
 * `partial_capture_reversal`), or `ignored` (payouts, withdrawals, fees, conversions: no transaction).
 */
export type RowKind =
  | 'payment'
  | 'refund'
  | 'refund_failed'
  | 'reversal'
  | 'reinstatement'
  | 'capture_reversal'
  | 'ignored';

/** Row kinds the ledger has entries for. */
export type LedgerRowKind = Exclude<RowKind, 'capture_reversal' | 'ignored'>;

/** Cross-border details a row carries besides its settlement amount. */
export interface RowFx {
  /**
   * What the customer was charged, when the file says so (Stripe `customer_facing_amount/_currency`).
   * Matching compares THIS side with the ledger, because the ledger records the presentment amount.
   */
  readonly amountMinor?: number;
  readonly currency?: Currency;
  /** Raw cross-border columns as the file gives them (WeChat Pay): kept for the report, not matched. */
  readonly payCurrency?: string;
  readonly settlementCurrency?: string;
  readonly rate?: string;
}

/**
 * One normalised settlement row. Amounts are signed minor units with the sign of its kind: payments,
 * refund failures and reinstatements positive; refunds, reversals and capture reversals negative.
 */
export interface SettlementRow {
  /** 1-based physical line where the row starts. */
  readonly line: number;
  readonly kind: RowKind;
  /** Every id the row carries, most specific first, order ids last. Never empty strings. */
  readonly references: readonly string[];
  /** The id the ledger keys this effect by (`{gateway}#{transactionId}#{kind}`). */
  readonly transactionId?: string;
  readonly orderId?: string;
  /**
   * For refunds and reversals: the payment they take money back from. Excluded from reference
   * matching, or an unknown refund would "match" a sibling refund of the same payment.
   */
  readonly refundOf?: string;
  readonly currency: Currency;
  readonly grossMinor: number;
  /** Positive when the gateway charged a fee, negative when it returned one. */
  readonly feeMinor: number;
  readonly netMinor: number;
  /** ISO 8601 UTC. */
  readonly settledAt: string;
  readonly fx?: RowFx;
  /** The gateway's own type for the row (`charge`, `T0006`, `交易`, `SUCCESS`): for the report. */
  readonly sourceType?: string;
  /** Why an `ignored` row is ignored, in finance's words; one note per distinct reason in the report. */
  readonly ignoredBecause?: string;
}

/** A row that could not be parsed. Never dropped: counted and listed in exceptions.csv. */
export interface RejectedRow {
  readonly kind: 'rejected';
  readonly line: number;
  readonly reason: string;
  /** Whatever id could still be read, to help finance find the row. */
  readonly transactionId?: string;
}

/** What a parser yields for each data record. */
export type ParsedItem = SettlementRow | RejectedRow;

/** Report categories, in the order of `summary.json` `counts`. */
export const CATEGORIES = [
  'matched',
  'amount_mismatch',
  'currency_mismatch',
  'fee_mismatch',
  'missing_in_ledger',
  'missing_in_settlement',
  'pending_settlement',
  'duplicate_in_settlement',
  'double_payment',
  'unmatched_refund',
  'ignored',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** A half-open instant range `[from, to)`, ISO 8601 UTC. */
export interface Period {
  readonly from: string;
  readonly to: string;
}

/** One line of exceptions.csv. Ledger amounts are signed like settlement amounts (refunds negative). */
export interface ExceptionItem {
  readonly category: Exclude<Category, 'matched' | 'ignored'> | 'rejected';
  readonly gateway: string;
  readonly transactionId?: string;
  readonly orderId?: string;
  readonly currency?: string;
  readonly settlementAmountMinor?: number;
  readonly ledgerAmountMinor?: number;
  readonly feeMinor?: number;
  readonly expectedFeeMinor?: number;
  readonly settledAt?: string;
  readonly ledgerAt?: string;
  readonly note: string;
  /** The ledger kind of the row or entry (`refund_failed`, `reinstatement`, …), for the report. */
  readonly kind?: string;
  /** Settlement line, for ordering (rejected rows also name it in the note). */
  readonly line?: number;
  /**
   * What keys the item across files (open items, CONTRACT §5): the ledger kind of the effect, the
   * ledger entry's key when one was found, every reference the row or entry carries, and the row's
   * own id (balance transaction, else transaction id) that tells duplicate rows apart.
   */
  readonly ledgerKey?: string;
  readonly references?: readonly string[];
  readonly rowId?: string;
}

/** Per-currency totals, exactly the keys of CONTRACT §5. */
export interface CurrencyTotals {
  ledgerGrossMinor: number;
  settlementGrossMinor: number;
  feesMinor: number;
  netMinor: number;
  differenceMinor: number;
}

export type SettlementStatus = 'complete' | 'incomplete' | 'failed';

/** Where the file came from (S3), echoed in summary.json. */
export interface SummarySource {
  readonly bucket?: string;
  readonly key?: string;
  readonly versionId?: string;
  readonly etag?: string;
  readonly sha256?: string;
}

/** summary.json, schemaVersion 1 (CONTRACT §5) plus `format`, `reasons` and `notes`. */
export interface SettlementSummary {
  schemaVersion: 1;
  gateway: string;
  status: SettlementStatus;
  source: SummarySource;
  period: { from: string | null; to: string | null };
  generatedAt: string;
  rows: { total: number; parsed: number; rejected: number };
  counts: Record<Category, number>;
  totals: Record<string, CurrencyTotals>;
  drift: { byValue: number; byCount: number; threshold: number; exceeded: boolean };
  alert: { raised: boolean };
  /** Which parser read the file. */
  format: SettlementFormat;
  /** Why the status is `incomplete` or `failed`; empty when complete. */
  reasons: string[];
  /** Things finance should know that are no exception (e.g. PayPal currency conversions seen). */
  notes: string[];
}
