/**
 * The streaming row source: bytes → text → CSV records → normalised rows, one chunk at a time, so
 * memory stays flat however large the file. {@link SettlementParser} is the synchronous core (fed
 * text chunks); {@link readSettlementRows} wraps it for an S3 body stream.
 */
import { RecordSplitter } from './csv.ts';
import { type DecodeInfo, decodeText, type TextEncodingName } from './decode.ts';
import { SettlementFormatError } from './errors.ts';
import { AlipayParser } from './formats/alipay.ts';
import type { FormatParser, ParserOptions } from './formats/format.ts';
import { GenericParser } from './formats/generic.ts';
import { PaypalParser } from './formats/paypal.ts';
import { StripeParser } from './formats/stripe.ts';
import { WechatpayParser } from './formats/wechatpay.ts';
import { DEFAULT_LIMITS, type SettlementLimits } from './limits.ts';
import type { ParsedItem, Period, SettlementFormat } from './types.ts';
import { daysToPeriod, isoOf, localDayOf } from './values.ts';

const DAY_MS = 86_400_000;

/** Options of a parse session: the bounds of {@link SettlementLimits} and the report time they use. */
export interface ParseOptions extends ParserOptions {
  readonly limits?: Partial<SettlementLimits>;
  /** Report time (epoch ms): rows dated more than `maxFutureDays` after it are rejected. @default Date.now() */
  readonly now?: number;
}

/** The format a gateway prefix names (`incoming/{gateway}/…`); anything unknown is `generic`. */
export function formatForGateway(gateway: string): SettlementFormat {
  switch (gateway.toLowerCase()) {
    case 'stripe':
    case 'paypal':
    case 'alipay':
    case 'wechatpay':
      return gateway.toLowerCase() as SettlementFormat;
    default:
      return 'generic';
  }
}

function parserFor(format: SettlementFormat, options: ParserOptions): FormatParser {
  switch (format) {
    case 'stripe':
      return new StripeParser(options.stripeReportTimeZone);
    case 'paypal':
      return new PaypalParser();
    case 'alipay':
      return new AlipayParser();
    case 'wechatpay':
      return new WechatpayParser();
    case 'generic':
      return new GenericParser();
  }
}

/** `text.trim() === ''`, without the call when the first character already says no. */
function isBlank(text: string): boolean {
  if (text.length === 0) return true;
  const first = text.charCodeAt(0);
  return !(first > 32 && first < 127) && text.trim() === '';
}

/** What the parse learned about the file as a whole. */
export interface ParseOutcome {
  readonly format: SettlementFormat;
  /** Reasons the file is `incomplete` (control totals, truncation); empty when complete. */
  readonly reasons: string[];
  readonly notes: string[];
  /** Whole days the file covers (half-open, UTC instants); null when it has no transaction rows. */
  readonly period: Period | null;
  readonly rows: { total: number; parsed: number; rejected: number };
  readonly encoding?: TextEncodingName;
  readonly gzip?: boolean;
  /** The archive entry that was reconciled, when the upload was a ZIP. */
  readonly zipEntry?: string;
}

/**
 * Synchronous parse session over text chunks. `push` returns the items of the records completed so
 * far; `end` returns the rest and the file-level outcome. Throws SettlementFormatError when the file
 * cannot be read as its format (empty, wrong header, …).
 */
export class SettlementParser {
  readonly format: SettlementFormat;
  private readonly parser: FormatParser;
  private out: ParsedItem[] = [];
  private records = 0;
  private parsed = 0;
  private rejectedRows = 0;
  /** ISO strings compare in time order: cheaper than Date.parse on every row. */
  private firstAt: string | undefined;
  private lastAt: string | undefined;
  private lastItem: ParsedItem | undefined;
  private readonly limits: SettlementLimits;
  /** ISO instant after which a row is "more than a year from now". */
  private readonly latestAt: string;
  private readonly sink = (text: string, line: number): void => {
    if (isBlank(text)) return;
    this.records++;
    let item = this.parser.record(text, line);
    if (!item) return;
    if (item.kind !== 'rejected' && item.settledAt > this.latestAt) {
      // A wrong year (9999-12-31) would stretch the coverage to millennia: the row is rejected instead.
      item = {
        kind: 'rejected',
        line,
        reason: `dated ${item.settledAt}, more than ${this.limits.maxFutureDays} days after the report`,
        ...(item.transactionId ? { transactionId: item.transactionId } : {}),
      };
    }
    this.lastItem = item;
    this.out.push(item);
    if (item.kind === 'rejected') {
      this.rejectedRows++;
      return;
    }
    this.parsed++;
    if (item.kind === 'ignored') return;
    let widened = false;
    if (this.firstAt === undefined || item.settledAt < this.firstAt) {
      this.firstAt = item.settledAt;
      widened = true;
    }
    if (this.lastAt === undefined || item.settledAt > this.lastAt) {
      this.lastAt = item.settledAt;
      widened = true;
    }
    // Checked as soon as the span grows, so a file spanning centuries stops at its second row.
    if (widened) this.checkSpan(line);
  };
  private readonly overlong = (line: number, max: number): void => {
    this.records++;
    this.rejectedRows++;
    const item: ParsedItem = {
      kind: 'rejected',
      line,
      reason: `record longer than ${max} bytes (MAX_SETTLEMENT_RECORD_BYTES): skipped`,
    };
    this.lastItem = item;
    this.out.push(item);
  };
  private readonly splitter: RecordSplitter;

  constructor(gatewayOrFormat: string, options: ParseOptions = {}) {
    this.format = formatForGateway(gatewayOrFormat);
    this.parser = parserFor(this.format, options);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.latestAt = isoOf((options.now ?? Date.now()) + this.limits.maxFutureDays * DAY_MS);
    this.splitter = new RecordSplitter({
      maxRecordBytes: this.limits.maxRecordBytes,
      onOverlong: this.overlong,
      quoted: !this.parser.unquoted,
    });
  }

  /** Hands the format a file that came with this one (see {@link FormatParser.companion}). */
  companion(name: string, text: string | undefined, problem?: string): void {
    this.parser.companion?.(name, text, problem);
  }

  /** Fails the file when its rows span more local days than `MAX_SETTLEMENT_PERIOD_DAYS`. */
  private checkSpan(line?: number): void {
    if (!this.firstAt || !this.lastAt) return;
    const offset = this.parser.dayOffsetMinutes;
    const days =
      localDayOf(Date.parse(this.lastAt), offset) - localDayOf(Date.parse(this.firstAt), offset) + 1;
    if (days > this.limits.maxPeriodDays) {
      throw new SettlementFormatError(
        `rows span ${days} days (${this.firstAt} to ${this.lastAt}), more than MAX_SETTLEMENT_PERIOD_DAYS (${this.limits.maxPeriodDays})`,
        line === undefined ? {} : { line },
      );
    }
  }

  push(text: string): ParsedItem[] {
    this.splitter.push(text, this.sink);
    const items = this.out;
    this.out = [];
    return items;
  }

  end(): { items: ParsedItem[]; outcome: ParseOutcome } {
    const split = this.splitter.end(this.sink);
    const items = this.out;
    this.out = [];
    if (this.records === 0) throw new SettlementFormatError('the file is empty');
    const trailer = this.parser.finish();
    const reasons = [...trailer.reasons];
    const total = this.parsed + this.rejectedRows;
    if (split.openQuote)
      reasons.push(`the file ends inside a quoted field (line ${split.lastLine}): truncated`);
    else if (
      split.lastUnterminated &&
      this.lastItem?.kind === 'rejected' &&
      this.lastItem.line === split.lastLine
    ) {
      reasons.push(`the file ends mid-row at line ${split.lastLine}: truncated`);
    }
    if (total === 0 && !trailer.period && !trailer.emptyConfirmed) {
      // A header alone proves nothing: without rows there is no coverage to compare the ledger with.
      throw new SettlementFormatError(
        ['no data rows after the header: nothing to reconcile', ...reasons].join('; '),
      );
    }
    let period: Period | null = trailer.period ?? null;
    if (period) {
      const days = Math.ceil((Date.parse(period.to) - Date.parse(period.from)) / DAY_MS);
      if (!(days <= this.limits.maxPeriodDays)) {
        throw new SettlementFormatError(
          `the file's period ${period.from} to ${period.to} spans ${days} days, more than MAX_SETTLEMENT_PERIOD_DAYS (${this.limits.maxPeriodDays})`,
        );
      }
    }
    if (!period && this.firstAt && this.lastAt) {
      const offset = this.parser.dayOffsetMinutes;
      period = daysToPeriod(
        localDayOf(Date.parse(this.firstAt), offset),
        localDayOf(Date.parse(this.lastAt), offset),
        offset,
      );
    }
    return {
      items,
      outcome: {
        format: this.format,
        reasons,
        notes: trailer.notes,
        period,
        rows: { total, parsed: this.parsed, rejected: this.rejectedRows },
      },
    };
  }
}

/** Text handed to the parser at a time (see {@link readSettlementBatches}). */
const PIECE_CHARS = 64 * 1024;

/**
 * Reads a settlement file from a byte stream, yielding the items of each chunk as one array (an
 * await per chunk, not per row). The generator's return value is the file's {@link ParseOutcome}.
 */
export async function* readSettlementBatches(
  gateway: string,
  chunks: AsyncIterable<Uint8Array>,
  options: ParseOptions = {},
): AsyncGenerator<ParsedItem[], ParseOutcome> {
  const maxBytes = options.limits?.maxBytes ?? options.maxDecompressedBytes ?? DEFAULT_LIMITS.maxBytes;
  const info: DecodeInfo = { gzip: false, encoding: undefined, bytes: 0, maxBytes };
  const parser = new SettlementParser(gateway, options);
  let companionsGiven = false;
  for await (const text of decodeText(chunks, info, { maxBytes })) {
    if (!companionsGiven) {
      // An archive's other files are read before its main file's first text is handed out.
      companionsGiven = true;
      for (const c of info.companions ?? []) parser.companion(c.name, c.text, c.problem);
    }
    // A 1 MiB chunk is ~6,000 rows: handed over at once, they all outlive the next young-generation
    // GC. Pieces of 64 Ki characters keep the rows in flight few (slices share the chunk's memory).
    for (let i = 0; i < text.length; i += PIECE_CHARS) {
      const items = parser.push(text.length <= PIECE_CHARS ? text : text.slice(i, i + PIECE_CHARS));
      if (items.length) yield items;
    }
  }
  const { items, outcome } = parser.end();
  if (items.length) yield items;
  return {
    ...outcome,
    ...(info.encoding ? { encoding: info.encoding } : {}),
    gzip: info.gzip,
    ...(info.zipEntry ? { zipEntry: info.zipEntry } : {}),
  };
}

/**
 * Reads a settlement file from a byte stream (e.g. an S3 body), yielding normalised rows and rejected
 * rows one at a time; returns the file-level outcome. Throws SettlementFormatError for unreadable files.
 */
export async function* readSettlementRows(
  gateway: string,
  chunks: AsyncIterable<Uint8Array>,
  options: ParseOptions = {},
): AsyncGenerator<ParsedItem, ParseOutcome> {
  const batches = readSettlementBatches(gateway, chunks, options);
  for (;;) {
    const r = await batches.next();
    if (r.done) return r.value;
    yield* r.value;
  }
}
