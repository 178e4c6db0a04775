/**
 * The one entry point the reconciliation Lambda calls: stream the file, match it, build the reports.
 * Pure apart from the injected ledger port; the handler reads S3, writes the three files (summary.json
 * last), stores the summary and raises the alert.
 */
import { createHash } from 'node:crypto';
import { SettlementConfigError, SettlementFormatError } from './errors.ts';
import { type FeeSchedule, type LedgerLookup, Matcher } from './match.ts';
import { formatForGateway, type ParseOutcome, readSettlementBatches } from './parse.ts';
import { computeDrift, exceptionsCsv, finishTotals, renderHtml, zeroCounts } from './report.ts';
import type { ExceptionItem, SettlementSummary, SummarySource } from './types.ts';

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
}

export interface ReconcileResult {
  readonly summary: SettlementSummary;
  /** exceptions.csv contents (exceptions are few, a string is fine). */
  readonly exceptionsCsv: string;
  /** report.html contents. */
  readonly html: string;
  readonly exceptions: readonly ExceptionItem[];
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
  const feeRules = input.feeSchedule?.[input.gateway];
  const matcher = new Matcher({
    gateway: input.gateway,
    ledger: input.ledger,
    now,
    lagDays,
    ...(feeRules ? { feeRules } : {}),
  });
  const hash = createHash('sha256');
  const bytes = hashingSource(input.chunks, hash);
  const batches = readSettlementBatches(input.gateway, bytes);
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
  const source: SummarySource = { ...input.source, sha256: input.source?.sha256 ?? sha256 };
  const base = {
    schemaVersion: 1 as const,
    gateway: input.gateway,
    source,
    generatedAt: input.now.toISOString(),
    format: formatForGateway(input.gateway),
  };
  let summary: SettlementSummary;
  let exceptions: ExceptionItem[];
  let claimed: (ledgerKey: string) => boolean = () => false;
  if (failure !== undefined || !outcome) {
    // The file is not its format: compare nothing (its coverage is unknown), say why.
    exceptions = [];
    summary = {
      ...base,
      status: 'failed',
      period: { from: null, to: null },
      rows: rowsSoFar,
      counts: zeroCounts(),
      totals: {},
      drift: { byValue: 0, byCount: 0, threshold, exceeded: false },
      alert: { raised: false },
      reasons: [failure ?? 'the file could not be read'],
      notes: [],
    };
  } else {
    const matched = await matcher.finish(outcome.period);
    exceptions = matched.exceptions;
    claimed = matched.claimed;
    const totals = finishTotals(matched.totals);
    const drift = computeDrift(totals, matched.counts, threshold);
    summary = {
      ...base,
      status: outcome.reasons.length ? 'incomplete' : 'complete',
      period: outcome.period ?? { from: null, to: null },
      rows: outcome.rows,
      counts: matched.counts,
      totals,
      drift,
      alert: { raised: drift.exceeded },
      reasons: outcome.reasons,
      notes: outcome.notes,
    };
  }
  return {
    summary,
    exceptionsCsv: exceptionsCsv(exceptions),
    html: renderHtml(summary, exceptions),
    exceptions,
    sha256,
    claimed,
  };
}
