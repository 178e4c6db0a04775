/**
 * How far one settlement file may push the reconciliation (CONTRACT §5 "Hostile or broken files stay
 * bounded"). Each bound turns a file that would exhaust memory, time or the ledger into a `failed`
 * report or a rejected row that says which bound it hit. Measured before these bounds: a 49 KB gzip
 * inflating to one 48 MiB line added 220 MB of memory; rows dated 0001-01-01 and 9999-12-31 asked the
 * ledger for 3.6 million days.
 */

export interface SettlementLimits {
  /** `MAX_SETTLEMENT_RECORD_BYTES`: longest record (UTF-8 bytes of its text); longer rows are rejected. */
  readonly maxRecordBytes: number;
  /** `MAX_SETTLEMENT_BYTES`: most bytes after decompression; a longer file is `failed`. */
  readonly maxBytes: number;
  /** `MAX_SETTLEMENT_PERIOD_DAYS`: the longest coverage a file may have; a longer one is `failed`. */
  readonly maxPeriodDays: number;
  /** Rows dated more than this many days after the report time are rejected (a year, per the contract). */
  readonly maxFutureDays: number;
}

export const DEFAULT_LIMITS: SettlementLimits = {
  maxRecordBytes: 64 * 1024,
  maxBytes: 2 * 1024 ** 3,
  maxPeriodDays: 45,
  maxFutureDays: 365,
};

/**
 * Report cells: ids and notes are cut to these lengths, so a hostile 64 KiB id cannot make every
 * report line 64 KiB (real gateway ids are under 64 characters; our notes under 300).
 */
export const MAX_REPORT_ID_CHARS = 128;
export const MAX_REPORT_NOTE_CHARS = 1000;
/** summary.json `reasons` / `notes`: at most this many, each cut to {@link MAX_REPORT_NOTE_CHARS}. */
export const MAX_SUMMARY_MESSAGES = 50;

/** `text` cut to `max` characters, marked with an ellipsis and the original length. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const suffix = `… (${text.length} characters)`;
  let cut = Math.max(0, max - suffix.length);
  // Never leave half a surrogate pair behind.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}${suffix}`;
}

/** A summary message list kept small: each message cut, the count capped with a closing "… n more". */
export function boundedMessages(messages: readonly string[]): string[] {
  const out = messages.slice(0, MAX_SUMMARY_MESSAGES).map((m) => truncateText(m, MAX_REPORT_NOTE_CHARS));
  if (messages.length > MAX_SUMMARY_MESSAGES) {
    out.push(`… and ${messages.length - MAX_SUMMARY_MESSAGES} more`);
  }
  return out;
}

/** UTF-8 length of `text` without encoding it when its length alone decides against `max`. */
export function exceedsUtf8Bytes(text: string, max: number): boolean {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units).
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return Buffer.byteLength(text, 'utf8') > max;
}
