/**
 * The one entry point the reconciliation Lambda calls: stream the file, match it, build the reports.
 * Pure apart from the injected ports (ledger, where exceptions.csv goes, who else wants the
 * exceptions); the handler reads S3, writes the files (summary.json last), stores the summary and
 * raises the alert. Memory does not grow with the number of exceptions: they leave batch by batch.
 */
import { createHash } from 'node:crypto';
import { SettlementConfigError, SettlementFormatError } from './errors.ts';
import type { ParserOptions } from './formats/format.ts';
import { boundedMessages, DEFAULT_LIMITS, type SettlementLimits } from './limits.ts';
import { type FeeSchedule, type LedgerLookup, MAX_UNRESOLVED_IN_MEMORY, Matcher } from './match.ts';
import { formatForGateway, type ParseOptions, type ParseOutcome, readSettlementBatches } from './parse.ts';
import {
  computeDrift,
  EXCEPTIONS_CSV_HEADER,
  exceptionLine,
  finishTotals,
  HTML_EXCEPTION_LIMIT,
  renderHtml,
  unsafeTotals,
  zeroCounts,
} from './report.ts';
import type {
  ExceptionItem,
  ParsedItem,
  SettlementFormat,
  SettlementSummary,
  SummarySource,
} from './types.ts';

/**
 * What a format's ledger side needs from matching: Alipay's cumulative `refund_fee` gives refunds
 * `refund_adjustment` entries (CONTRACT §3); Stripe books the uncaptured part of a charge as its own
 * `partial_capture_reversal` row (Stripe, "Reporting categories").
 */
const MATCHING_RULES: Record<
  SettlementFormat,
  { refundAdjustments?: boolean; netsCaptureReversals?: boolean }
> = {
  stripe: { netsCaptureReversals: true },
  paypal: {},
  alipay: { refundAdjustments: true },
  wechatpay: {},
  generic: {},
};

/**
 * Where exceptions.csv's text goes as it is produced (an S3 multipart upload in the handler, a file
 * in the bench). Writes come in pieces of about {@link CSV_PIECE_CHARS}; each is awaited.
 */
export interface TextSink {
  write(text: string): Promise<void> | void;
  /** The file turned out unreadable: forget what was written (exceptions.csv gets its header only). */
  discard(): Promise<void> | void;
}

/**
 * A second consumer of the exceptions as they are decided (e.g. open items): `add` is called once
 * per batch, in order, and awaited, so a consumer can write them out and keep nothing. `discard`
 * when the file is `failed` after all: everything added is void.
 */
export interface ExceptionSink {
  add(items: readonly ExceptionItem[]): Promise<void> | void;
  discard(): Promise<void> | void;
}

/** exceptions.csv text is handed to the {@link TextSink} in pieces of about this size. */
export const CSV_PIECE_CHARS = 1 << 20;

/** Defaults of CONTRACT §5 / §7 (`SETTLEMENT_LAG_DAYS`, `RECON_ALERT_THRESHOLD`). */
export const DEFAULT_LAG_DAYS = 2;
export const DEFAULT_THRESHOLD = 0.005;

export interface ReconcileInput {
  /** The gateway prefix of the key (`incoming/{gateway}/…`): picks the format and the ledger partition. */
  readonly gateway: string;
  /** The file's bytes, e.g. the S3 GetObject body (a Node Readable is an AsyncIterable<Buffer>). */
  readonly chunks: AsyncIterable<Uint8Array>;
  readonly ledger: LedgerLookup;
  /** Report time. */
  readonly now: Date;
  /** @default 2 */
  readonly lagDays?: number;
  /** @default 0.005 */
  readonly threshold?: number;
  /** gateway → currency → rule; `fee_mismatch` is only reported for gateways it has. */
  readonly feeSchedule?: FeeSchedule;
  /** Echoed in summary.json; `sha256` is filled from the bytes read when absent. */
  readonly source?: SummarySource;
  /** Format settings from configuration (`STRIPE_REPORT_TIMEZONE`, …). */
  readonly parserOptions?: ParserOptions;
  /** The bounds of CONTRACT §5; each defaults to {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<SettlementLimits>;
  /**
   * Streams exceptions.csv here. Without it the CSV is built in memory and returned (tests, small
   * files); with it, `exceptionsCsv` is '' and `exceptions` holds the first ones only.
   */
  readonly exceptionsOut?: TextSink;
  /** More consumers of every exception, fed batch by batch (see {@link ExceptionSink}). */
  readonly exceptionSinks?: readonly ExceptionSink[];
  /**
   * The same bytes again (the same S3 object version). Lets a file with more than
   * {@link MAX_UNRESOLVED_IN_MEMORY} rows that no key found be matched without holding those rows:
   * they are read a second time. Without it such rows are all held in memory.
   */
  readonly reopen?: () => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
}

export interface ReconcileResult {
  readonly summary: SettlementSummary;
  /** exceptions.csv contents; '' when it was streamed to `exceptionsOut`. */
  readonly exceptionsCsv: string;
  /** report.html contents. */
  readonly html: string;
  /** Every exception, or with `exceptionsOut` the first {@link HTML_EXCEPTION_LIMIT} (those report.html lists). */
  readonly exceptions: readonly ExceptionItem[];
  /** How many lines exceptions.csv has below its header. */
  readonly exceptionCount: number;
  /** sha256 (hex) of the bytes as read (before gunzip): the content identity for "same content, one report". */
  readonly sha256: string;
  /** Whether a row of this file claimed the ledger key: settles a pending or missing open item. */
  readonly claimed: (ledgerKey: string) => boolean;
}

/**
 * Hashes the bytes as they stream past, so the handler needs no second read for the content identity.
 * It has no `return()`: when parsing stops early (a failed file), downstream generators closing cannot
 * abort it, and the caller drains the rest through it so the hash still names the whole object.
 */
function hashingSource(chunks: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>) {
  const it = chunks[Symbol.asyncIterator]();
  let done = false;
  const source = {
    async next(): Promise<IteratorResult<Uint8Array, undefined>> {
      if (done) return { done: true, value: undefined };
      const r = await it.next();
      if (r.done) {
        done = true;
        return { done: true, value: undefined };
      }
      hash.update(r.value);
      return r;
    },
    [Symbol.asyncIterator]() {
      return source;
    },
  };
  return source;
}

/**
 * Reconciles one settlement file against the ledger. Throws only for bad options
 * (SettlementConfigError) and ledger port failures (transient: let the Lambda retry); a file that
 * cannot be read is a `failed` report, not an exception.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileResult> {
  const lagDays = input.lagDays ?? DEFAULT_LAG_DAYS;
  const threshold = input.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isFinite(lagDays) || lagDays < 0)
    throw new SettlementConfigError(`lagDays must be ≥ 0, got ${lagDays}`);
  const now = input.now.getTime();
  if (Number.isNaN(now)) throw new SettlementConfigError('now is not a valid date');
  const schedule = input.feeSchedule;
  // The gateway comes from an object key: looked up as an own property only (`constructor` is none).
  const feeRules = schedule && Object.hasOwn(schedule, input.gateway) ? schedule[input.gateway] : undefined;
  const zipLimit = input.parserOptions?.maxDecompressedBytes;
  const limits: SettlementLimits = {
    ...DEFAULT_LIMITS,
    ...(zipLimit ? { maxBytes: zipLimit } : {}),
    ...input.limits,
  };
  const parseOptions: ParseOptions = { ...input.parserOptions, limits, now };

  // Exceptions leave in batches: to exceptions.csv (text), the first ones to report.html, and to any
  // other sink. `batch` holds only what one settlement chunk or one ledger page decided.
  const memoryCsv: string[] = [];
  const csvOut: TextSink = input.exceptionsOut ?? {
    write: (text) => {
      memoryCsv.push(text);
    },
    discard: () => {
      memoryCsv.length = 0;
    },
  };
  const keepAll = !input.exceptionsOut;
  const sinks = input.exceptionSinks ?? [];
  let csv = EXCEPTIONS_CSV_HEADER;
  let kept: ExceptionItem[] = [];
  let exceptionCount = 0;
  let batch: ExceptionItem[] = [];
  const emit = (item: ExceptionItem): void => {
    exceptionCount++;
    if (keepAll || kept.length < HTML_EXCEPTION_LIMIT) kept.push(item);
    csv += exceptionLine(item);
    if (sinks.length) batch.push(item);
  };
  const deliver = async (final = false): Promise<void> => {
    if (csv.length >= CSV_PIECE_CHARS || (final && csv)) {
      const piece = csv;
      csv = '';
      await csvOut.write(piece);
    }
    if (batch.length) {
      const items = batch;
      batch = [];
      for (const sink of sinks) await sink.add(items);
    }
  };

  const matcher = new Matcher({
    gateway: input.gateway,
    ledger: input.ledger,
    now,
    lagDays,
    ...(feeRules ? { feeRules } : {}),
    ...MATCHING_RULES[formatForGateway(input.gateway)],
    emit,
    maxUnresolved: input.reopen ? MAX_UNRESOLVED_IN_MEMORY : Number.POSITIVE_INFINITY,
  });
  const hash = createHash('sha256');
  const bytes = hashingSource(input.chunks, hash);
  const batches = readSettlementBatches(input.gateway, bytes, parseOptions);
  let outcome: ParseOutcome | undefined;
  let failure: string | undefined;
  let rowsSoFar = { total: 0, parsed: 0, rejected: 0 };
  try {
    for (;;) {
      const r = await batches.next();
      if (r.done) {
        outcome = r.value;
        break;
      }
      for (const item of r.value) {
        if (item.kind === 'rejected') rowsSoFar.rejected++;
        else rowsSoFar.parsed++;
        if (matcher.push(item)) await matcher.flush();
      }
      await deliver();
    }
  } catch (err) {
    if (!(err instanceof SettlementFormatError)) throw err;
    failure = err.line ? `line ${err.line}: ${err.message}` : err.message;
    // Drain the rest so the hash names the whole object (the handler dedupes reports by it).
    while (!(await bytes.next()).done) {
      /* draining */
    }
  }
  rowsSoFar = { ...rowsSoFar, total: rowsSoFar.parsed + rowsSoFar.rejected };
  const sha256 = hash.digest('hex');

  /** The second read of the file (see `reopen`): same parse, checked to be the same bytes. */
  async function* reread(): AsyncGenerator<readonly ParsedItem[]> {
    const again = createHash('sha256');
    const source = hashingSource(await input.reopen!(), again);
    const items = readSettlementBatches(input.gateway, source, parseOptions);
    for (;;) {
      const r = await items.next();
      if (r.done) break;
      yield r.value;
      // The matcher has decided this batch when it asks for the next one: let its exceptions out.
      await deliver();
    }
    while (!(await source.next()).done) {
      /* the rest of the bytes, for the hash */
    }
    if (again.digest('hex') !== sha256) {
      throw new Error('the settlement file changed between its two reads; retry');
    }
  }

  const source: SummarySource = { ...input.source, sha256: input.source?.sha256 ?? sha256 };
  const base = {
    schemaVersion: 1 as const,
    gateway: input.gateway,
    source,
    generatedAt: input.now.toISOString(),
    format: formatForGateway(input.gateway),
  };
  let summary: SettlementSummary;
  let claimed: (ledgerKey: string) => boolean = () => false;
  if (failure !== undefined || !outcome) {
    // The file is not its format: compare nothing (its coverage is unknown), say why, and take back
    // what was already handed out.
    kept = [];
    exceptionCount = 0;
    batch = [];
    csv = EXCEPTIONS_CSV_HEADER;
    await csvOut.discard();
    for (const sink of sinks) await sink.discard();
    summary = {
      ...base,
      status: 'failed',
      period: { from: null, to: null },
      rows: rowsSoFar,
      counts: zeroCounts(),
      totals: {},
      drift: { byValue: 0, byCount: 0, threshold, exceeded: false },
      alert: { raised: false },
      reasons: boundedMessages([failure ?? 'the file could not be read']),
      notes: [],
    };
  } else {
    const matched = await matcher.finish(outcome.period, input.reopen ? reread : undefined);
    claimed = matched.claimed;
    const totals = finishTotals(matched.totals);
    const drift = computeDrift(totals, matched.counts, threshold);
    const notes = [...outcome.notes, ...matched.notes];
    const unsafe = unsafeTotals(matched.totals);
    if (unsafe.length) {
      notes.push(`totals of ${unsafe.join(', ')} exceed 2^53 minor units: summary.json shows them rounded`);
    }
    summary = {
      ...base,
      status: outcome.reasons.length ? 'incomplete' : 'complete',
      period: outcome.period ?? { from: null, to: null },
      rows: outcome.rows,
      counts: matched.counts,
      totals,
      drift,
      alert: { raised: drift.exceeded },
      reasons: boundedMessages(outcome.reasons),
      notes: boundedMessages(notes),
    };
  }
  await deliver(true);
  return {
    summary,
    exceptionsCsv: memoryCsv.join(''),
    html: renderHtml(summary, kept.slice(0, HTML_EXCEPTION_LIMIT), exceptionCount),
    exceptions: kept,
    exceptionCount,
    sha256,
    claimed,
  };
}
