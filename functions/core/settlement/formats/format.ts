/** The contract between the parse session and one settlement format. */
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, Period, RejectedRow, SettlementFormat } from '../types.ts';

/** Settings that change how a format reads a file (configuration, not file content). */
export interface ParserOptions {
  /** STRIPE_REPORT_TIMEZONE: the zone of Stripe's `created` when a file has no `created_utc`. */
  readonly stripeReportTimeZone?: string;
  /** MAX_SETTLEMENT_BYTES: what a compressed upload (a ZIP entry) may inflate to; 2 GiB by default. */
  readonly maxDecompressedBytes?: number;
}

/** What a format knows once the file has ended. */
export interface FormatTrailer {
  /** Control totals that disagree, missing footers: each makes the file `incomplete`. */
  readonly reasons: string[];
  /** Worth telling finance, not an exception (PayPal conversions, …). */
  readonly notes: string[];
  /** The period the file itself declares (PayPal SH); else coverage comes from the rows' days. */
  readonly period?: Period;
  /** The file has control totals and they confirm it has no rows (an empty day, not a cut file). */
  readonly emptyConfirmed?: boolean;
}

/**
 * One settlement format: fed one CSV record at a time, synchronously (the async layer is per chunk,
 * not per row: an `await` per row costs more than parsing the row).
 */
export interface FormatParser {
  readonly format: SettlementFormat;
  /** Fields are never quoted (a `"` is data, a record is one line): WeChat Pay's bill. */
  readonly unquoted?: boolean;
  /** The UTC offset (minutes) whose calendar days define the file's coverage. */
  readonly dayOffsetMinutes: number;
  /**
   * One non-blank record. Returns the item for a data record, undefined for headers, comments and
   * control rows. Throws SettlementFormatError when the file cannot be this format.
   */
  record(text: string, line: number): ParsedItem | undefined;
  /**
   * Another file delivered with this one (an Alipay ZIP's 业务明细(汇总) summary), as text, before the
   * first record; `text` is absent when it could not be read, and `problem` says why. A format that
   * has no use for it leaves this out.
   */
  companion?(name: string, text: string | undefined, problem?: string): void;
  finish(): FormatTrailer;
}

/** Turns a row-level failure into a `rejected` row; anything else is a bug and propagates. */
export function rejected(line: number, err: unknown, transactionId?: string): RejectedRow {
  if (!(err instanceof SettlementRowError)) throw err;
  return transactionId
    ? { kind: 'rejected', line, reason: err.message, transactionId }
    : { kind: 'rejected', line, reason: err.message };
}

/** gross − fee = net, where the format gives all three. */
export function checkConservation(gross: number, fee: number, net: number): void {
  if (gross - fee !== net) {
    throw new SettlementRowError(`gross − fee ≠ net (${gross} − ${fee} ≠ ${net} minor units)`);
  }
}
